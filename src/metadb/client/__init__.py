"""A typed Python client for ``metadb serve``, with the embedded store's method names.

``Client(base_url, token=None)`` has :class:`~metadb.store.MetadataStore`'s methods (and the
run store's), takes and returns the same dataclasses and raises the same errors, so a program
switches between an embedded database and a server with one line::

    store = metadb.connect("sqlite:///metadb.sqlite")
    store = metadb.client.Client("http://metadb:8080", token=os.environ["METADB_TOKEN"])

    type_id = store.put_artifact_type(ArtifactType(name="Dataset"))

Errors: the store's (NotFoundError, AlreadyExistsError, InvalidArgumentError,
FailedPreconditionError); :class:`~metadb.errors.ServerUnreachableError` (a
DatabaseUnreachableError) when the server does not answer;
:class:`~metadb.errors.TokenRejectedError` for a missing or wrong token;
:class:`~metadb.errors.ServerResponseError` for anything else.
"""

from __future__ import annotations

import httpx

from metadb.client._http import DEFAULT_TIMEOUT, HttpTransport
from metadb.client.runs import RunsMethods
from metadb.client.store import StoreMethods

__all__ = ["Client"]


class Client(StoreMethods, RunsMethods):
    """A connection to one metadb server. Close it (or use ``with``) to release connections.

    ``token`` is sent as ``Authorization: Bearer <token>`` and never printed. ``http`` is an
    ``httpx.Client`` of yours (proxies, certificates, tests); it is not closed by :meth:`close`.

    Example::

        with Client("http://127.0.0.1:8080") as store:
            print(store.get_artifact_types())
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        http: httpx.Client | None = None,
    ) -> None:
        self._http = HttpTransport(base_url, token, timeout=timeout, http=http)

    @property
    def base_url(self) -> str:
        """The server's URL, as given (without a trailing slash)."""
        return self._http.base_url

    def close(self) -> None:
        """Release the connections (of the client made here; a given ``http`` stays open)."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"
