"""Optional bearer-token authentication: one shared token, compared in constant time.

When the server has a token, every route but ``/healthz`` (and the OpenAPI document and its
pages) depends on :func:`bearer_token_dependency`'s check; without one, nothing is installed.
The scheme is FastAPI's :class:`~fastapi.security.HTTPBearer`, so the OpenAPI document
declares it (``components.securitySchemes.bearerAuth``). Neither the expected nor the received
token is ever logged or echoed in an error.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

SCHEME_NAME = "bearerAuth"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=SCHEME_NAME,
    description="The server's token (metadb serve --auth-token, or METADB_AUTH_TOKEN).",
)


def bearer_token_dependency(token: SecretStr) -> Callable[..., None]:
    """A dependency that lets a request through only with ``Authorization: Bearer <token>``.

    Raises (from the dependency): HTTPException 401 with ``WWW-Authenticate: Bearer``, which
    the error seam answers as ``{"code": "unauthenticated", ...}``.

    Example::

        app.include_router(router, dependencies=[Depends(bearer_token_dependency(token))])
    """
    expected = token.get_secret_value().encode()

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                status_code=401,
                detail="this server requires 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer realm="metadb"'},
            )
        # Encoded first: compare_digest takes str only when it is ASCII.
        given = credentials.credentials.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                status_code=401,
                detail="the bearer token is wrong",
                headers={"WWW-Authenticate": 'Bearer realm="metadb", error="invalid_token"'},
            )

    return require_token
