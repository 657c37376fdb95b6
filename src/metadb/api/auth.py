"""Optional bearer-token authentication: one shared token, compared in constant time.

When the server has a token, :class:`BearerTokenGuard` (a pure ASGI middleware) refuses every
request without it but those to ``/healthz`` and the OpenAPI document and its pages, *before*
anything reads the request's body: an unauthenticated upload is answered 401 at once, never
buffered. :func:`bearer_scheme_dependency` only declares the scheme in the OpenAPI document
(``components.securitySchemes.bearerAuth``); it checks nothing. Neither the expected nor the
received token is ever logged or echoed in an error.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from metadb.api.errors import CLOSE, error_response
from metadb.api.settings import require_token
from metadb.errors import ConfigError

SCHEME_NAME = "bearerAuth"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=SCHEME_NAME,
    description="The server's token (metadb serve --auth-token-file, or METADB_AUTH_TOKEN).",
)


class BearerTokenGuard:
    """Lets a request through only with ``Authorization: Bearer <token>``, unless its path is
    one of ``open_paths``; otherwise answers 401 ``{"code": "unauthenticated"}`` with
    ``WWW-Authenticate: Bearer`` without reading the body (and with ``Connection: close`` when
    the request has one, so that the server need not read it either).

    Example::

        app.add_middleware(BearerTokenGuard, token=SecretStr("s3cret"), open_paths={"/healthz"})
    """

    def __init__(self, app: ASGIApp, *, token: SecretStr, open_paths: Collection[str]) -> None:
        self.app = app
        self._expected = token.get_secret_value().encode()
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope) in self.open_paths:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        scheme, given = get_authorization_scheme_param(headers.get("authorization"))
        if scheme.lower() == "bearer" and given:
            # Encoded first: compare_digest takes str only when it is ASCII.
            if hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._expected):
                await self.app(scope, receive, send)
                return
            message = "the bearer token is wrong"
            challenge = 'Bearer realm="metadb", error="invalid_token"'
        else:
            message = "this server requires 'Authorization: Bearer <token>'"
            challenge = 'Bearer realm="metadb"'
        response = error_response(401, "unauthenticated", message)
        response.headers["WWW-Authenticate"] = challenge
        if _has_body(headers):
            response.headers.update(CLOSE)
        await response(scope, receive, send)


def bearer_scheme_dependency() -> Callable[..., None]:
    """A dependency that declares the bearer scheme in the OpenAPI document of the routes it
    is put on. It checks nothing: :class:`BearerTokenGuard` has, before the body was read.

    Example::

        app.include_router(router, dependencies=[Depends(bearer_scheme_dependency())])
    """

    def declare_bearer_scheme(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        return None

    return declare_bearer_scheme


def read_token_file(path: Path | str) -> SecretStr:
    """The token in the file at ``path``, without its trailing newline (CR/LF), as written by
    ``echo`` or a Kubernetes Secret mounted as a file.

    Raises:
        ConfigError: the file cannot be read, or holds an empty or blank token.

    Example::

        settings = ServeSettings(auth_token=read_token_file("/run/secrets/metadb-token"))
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the auth token file {path}: {exc.strerror or exc}. Point "
            "--auth-token-file at a readable file that holds the token; the server did not start"
        ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Not chained: the decoder's message quotes the token's bytes.
        raise ConfigError(
            f"the auth token file {path} is not UTF-8 text; write the token as text; the "
            "server did not start"
        ) from None
    token = text.rstrip("\r\n")
    return SecretStr(require_token(token, source=f"the auth token file {path}"))


def _route_path(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")
