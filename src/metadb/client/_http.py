"""The client's one seam: HTTP calls to a metadb server, and its errors back into metadb's.

An error response's JSON ``code`` becomes the class the embedded store raises:

=======================  ==========================================================
``code`` (status)        raised
=======================  ==========================================================
not_found (404)          :class:`~metadb.errors.NotFoundError`
already_exists (409)     :class:`~metadb.errors.AlreadyExistsError`
invalid_argument (400)   :class:`~metadb.errors.InvalidArgumentError`
failed_precondition      :class:`~metadb.errors.FailedPreconditionError`
config (400)             :class:`~metadb.errors.ConfigError`
unreachable (503)        :class:`~metadb.errors.DatabaseUnreachableError`,
authentication (503)     :class:`~metadb.errors.AuthenticationError`: the *server's*
                         database is down or refused it (``from_server``: ``url`` is the
                         server's, ``detail`` its message)
write_conflict (503)     :class:`~metadb.errors.WriteConflictError`: the server's write kept
                         losing races to concurrent writers; retry later
query_timeout (503)      :class:`~metadb.errors.QueryTimeoutError`: the server's database
                         cancelled a statement past its statement timeout
unauthenticated (401)    :class:`~metadb.errors.TokenRejectedError`
route_not_found (404)    :class:`~metadb.errors.ServerResponseError` saying that the server
                         does not serve the path: client and server are of other versions
anything else            :class:`~metadb.errors.ServerResponseError` (status, code, message)
=======================  ==========================================================

The codes are the classes' own ``code`` attributes (one table, :data:`_RAISED`).

No answer at all (connection refused, timeout, a broken connection) is
:class:`~metadb.errors.ServerUnreachableError`, a DatabaseUnreachableError, so that a program
catches the same class for an embedded and a remote store. httpx's errors never leave here.
The bearer token is sent in a header and kept out of reprs, messages and logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from metadb import __version__
from metadb.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ConfigError,
    DatabaseUnreachableError,
    FailedPreconditionError,
    InvalidArgumentError,
    MetadbError,
    NotFoundError,
    QueryTimeoutError,
    ServerResponseError,
    ServerUnreachableError,
    TokenRejectedError,
    WriteConflictError,
)
from metadb.wire import ROUTE_NOT_FOUND

DEFAULT_TIMEOUT = 30.0

#: The classes an error response's ``code`` names, by their own ``code``.
_RAISED: dict[str, type[MetadbError]] = {
    cls.code: cls
    for cls in (
        NotFoundError,
        AlreadyExistsError,
        InvalidArgumentError,
        FailedPreconditionError,
        ConfigError,
        DatabaseUnreachableError,
        AuthenticationError,
        WriteConflictError,
        QueryTimeoutError,
    )
}


class HttpTransport:
    """Sends requests to one metadb server and returns the decoded JSON of its answers.

    ``http`` is an ``httpx.Client`` of the caller's (proxies, certificates, a test transport);
    it is left open by :meth:`close`. Without it one is made, and closed by :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._owned = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """The decoded JSON answer to ``method path``.

        Raises:
            ServerUnreachableError: no answer.
            NotFoundError, AlreadyExistsError, InvalidArgumentError, FailedPreconditionError,
            ConfigError, DatabaseUnreachableError, AuthenticationError, TokenRejectedError,
            ServerResponseError: as the table in this module says.
        """
        url = self.base_url + path
        if params:
            params = {k: _param(v) for k, v in params.items() if v is not None}
        try:
            response = self._http.request(
                method, url, params=params, json=json, headers=self._headers
            )
        except httpx.TransportError as exc:
            raise ServerUnreachableError(self.base_url, _describe(exc)) from exc
        if response.is_success:
            return response.json()
        raise self._error(method, path, response)

    def _error(self, method: str, path: str, response: httpx.Response) -> MetadbError:
        try:
            body = response.json()
            code, message = str(body["code"]), str(body["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", response.text[:300] or response.reason_phrase
        status = response.status_code
        if status == 401:
            return TokenRejectedError(self.base_url, message)
        # Servers before route_not_found answered an unknown path {"code": "not_found",
        # "message": "Not Found"}, Starlette's words; the store's messages say more.
        if code == ROUTE_NOT_FOUND or (status == 404 and message == "Not Found"):
            return ServerResponseError(
                url=self.base_url,
                status=status,
                code=ROUTE_NOT_FOUND,
                message=f"the server does not serve {method} {path}: it runs another metadb "
                f"version than this client ({__version__}), one without this call. Use a "
                "client and a server of the same version",
            )
        cls = _RAISED.get(code)
        if cls is None:
            return ServerResponseError(url=self.base_url, status=status, code=code, message=message)
        if issubclass(cls, (DatabaseUnreachableError, AuthenticationError)):
            return cls(self.base_url, message, from_server=True)
        if issubclass(cls, WriteConflictError):
            where = f"{method} {path} on the metadb server at {self.base_url}"
            return cls(doing=where, attempts=None, detail=message)
        if issubclass(cls, QueryTimeoutError):
            where = f"{method} {path} on the metadb server at {self.base_url}"
            return cls(timeout=None, doing=f"{where} ({message})")
        return cls(message)

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __repr__(self) -> str:
        return f"HttpTransport({self.base_url!r})"


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_param(v) for v in value]
    return value


def _describe(exc: httpx.TransportError) -> str:
    kind = type(exc).__name__
    detail = str(exc)
    return f"{kind}: {detail}" if detail else kind


T = TypeVar("T")


def build_request(build: Callable[[], T]) -> T:
    """Build request models; what they refuse is the stores' InvalidArgumentError, raised
    before anything is sent."""
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidArgumentError(f"{where}: {first.get('msg', 'invalid value')}") from exc
