"""The API's one error seam: metadb's typed errors become JSON ``{code, message, details}``.

The status of a metadb error is its class's ``http_status`` (:mod:`metadb.errors`); what the
HTTP layer refuses by itself gets a code of its own:

=============================  ======  =====================================================
error                          status  when
=============================  ======  =====================================================
InvalidArgumentError,          400     a malformed value, filter or request body (also a
ConfigError, request                   body that is not JSON: ``invalid_argument``)
validation
unauthenticated                401     no token or a wrong one (:mod:`metadb.api.auth`)
NotFoundError                  404     no such type, node, run or id
route_not_found                404     the server serves no such path (another version?)
method_not_allowed             405     the path has no such method; ``Allow`` lists those
                                       it has (``OPTIONS`` answers 204 with ``Allow``)
AlreadyExistsError             409     a name or external id is taken
FailedPreconditionError        412     the call conflicts with stored data
body_too_large                 413     the body is over ``--max-body-bytes``
DatabaseUnreachableError,      503     the database cannot be reached right now, a write
AuthenticationError,                   kept conflicting with concurrent writers, or the
WriteConflictError,                    database cancelled a statement that ran past the
QueryTimeoutError                      statement timeout (``serve --statement-timeout``):
                                       well-formed, but not answerable now; retry later
anything else                  500     a bug: the response says nothing more and carries
                                       ``Connection: close``; the log line has the
                                       exception's class and where it was raised, never its
                                       message (it can hold SQL text and user data), unless
                                       the server runs with ``debug`` (``metadb --debug
                                       serve``)
=============================  ======  =====================================================

Handlers raise metadb's errors; nothing else in the API builds an error response.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from metadb.errors import MetadbError
from metadb.wire import ROUTE_NOT_FOUND

log = logging.getLogger("metadb.api")

#: The methods a route can have, in the order ``Allow`` lists them.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: Sent with every 500 and with refusals that leave a request body unread: the client must
#: not reuse a connection whose state the server no longer vouches for.
CLOSE = {"Connection": "close"}


class ErrorBody(BaseModel):
    """Every error response's body."""

    code: str = Field(description="machine-readable error name", examples=["not_found"])
    message: str = Field(description="what happened and the next step")
    details: dict[str, Any] = Field(default_factory=dict)


#: For route decorators: ``responses=ERROR_RESPONSES`` documents the error shape in OpenAPI.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [
        (400, "invalid argument"),
        (401, "missing or wrong bearer token"),
        (404, "not found"),
        (409, "already exists"),
        (412, "failed precondition"),
        (503, "database unreachable, or a statement ran past the statement timeout"),
    ]
}


def status_for(exc: BaseException) -> int:
    """The HTTP status of ``exc``: its class's ``http_status``; 500 for anything else."""
    return exc.http_status if isinstance(exc, MetadbError) else 500


def error_response(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    """The JSON error response every refusal of the API answers with.

    Example::

        return error_response(503, "not_ready", reason, version=3)
    """
    body = ErrorBody(code=code, message=message, details=details)
    return JSONResponse(status_code=status, content=body.model_dump())


def internal_error_response(scope: Scope, exc: BaseException, *, debug: bool) -> JSONResponse:
    """Log ``exc`` (a bug, or a database error metadb has no class for) and build the 500.

    The log line holds the request's method and path, the exception's class (and its
    cause's) and where metadb raised it, never its message: a database error's message
    carries the SQL text, and the driver's can carry the row's values. With ``debug`` the full
    traceback is logged too (bind parameters stay hidden: engines are created with
    ``hide_parameters``). The response carries ``Connection: close``.
    """
    method, path = str(scope.get("method", "")), path_for_log(scope)
    if debug:
        log.error("%s %s failed", method, path, exc_info=exc)
    else:
        log.error(
            "%s %s failed: %s at %s; the message is not logged (it can hold SQL and data): "
            "run 'metadb --debug serve' to log it",
            method,
            path,
            _kinds(exc),
            _raised_at(exc.__traceback__),
        )
    response = error_response(500, "internal", "internal error; the server log has the details")
    response.headers.update(CLOSE)
    return response


def path_for_log(scope: Scope) -> str:
    """The request's path as the client sent it (percent-encoded, no query string): a decoded
    path could carry a line break into the log, and a query a secret."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    return str(scope.get("path", "")).encode("unicode_escape").decode("ascii")


def _kinds(exc: BaseException) -> str:
    kinds = [_qualname(exc)]
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        kinds.append(_qualname(cause))
    return " from ".join(kinds)


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"


def _raised_at(tb: TracebackType | None) -> str:
    """Where the exception was raised (``module:line``) and, when that is not metadb's code,
    the innermost frame that is."""
    innermost = ours = None
    while tb is not None:
        where = f"{tb.tb_frame.f_globals.get('__name__', '?')}:{tb.tb_lineno}"
        innermost = where
        if where.startswith("metadb."):
            ours = where
        tb = tb.tb_next
    if innermost is None:
        return "an unknown place"
    return innermost if ours in (None, innermost) else f"{innermost} (in {ours})"


async def _metadb_error(request: Request, exc: Exception) -> Response:
    status = status_for(exc)
    if status == 500:
        return internal_error_response(request.scope, exc, debug=_debug(request))
    assert isinstance(exc, MetadbError)
    return error_response(status, exc.code, str(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return error_response(400, "invalid_argument", f"{where}: {first['msg']}", errors=problems)


async def _http_error(request: Request, exc: Exception) -> Response:
    """What Starlette and FastAPI refuse themselves: unknown paths and methods, bodies that
    cannot be parsed, the token check's 401 and the body limit's 413."""
    assert isinstance(exc, StarletteHTTPException)
    status, method, path = exc.status_code, request.method, request.url.path
    if status == 405:
        allow = ", ".join(allowed_methods(request.app.routes, request.scope))
        if method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        response: Response = error_response(
            405, "method_not_allowed", f"{method} {path}: this path answers {allow}"
        )
        response.headers["Allow"] = allow
        return response
    if status == 404:
        return error_response(
            404,
            ROUTE_NOT_FOUND,
            f"{method} {path}: this server does not serve that path. If the client is of "
            "another metadb version than the server, use matching versions; GET /openapi.json "
            "lists the paths this server serves",
        )
    if status == 400:
        # FastAPI's answer to a body it could not decode (not UTF-8, nested too deeply).
        return error_response(400, "invalid_argument", _unreadable_body(exc))
    code = {401: "unauthenticated", 413: "body_too_large"}.get(status, "http_error")
    response = error_response(status, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _unreadable_body(exc: BaseException) -> str:
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        reason = f"byte {cause.start} is not UTF-8"
    elif isinstance(cause, RecursionError):
        reason = "it is nested too deeply"
    else:
        reason = "it cannot be parsed"
    return f"body: the request body is not valid JSON: {reason}"


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """The methods the routes serve at ``scope``'s path, and OPTIONS, for ``Allow``."""
    allowed = [
        method
        for method in METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    return [*allowed, "OPTIONS"]


def _debug(request: Request) -> bool:
    settings = getattr(request.app.state, "settings", None)
    return bool(getattr(settings, "debug", False))


def install_error_handlers(app: FastAPI) -> None:
    """Register the seam on ``app``. Exceptions no handler takes are answered by
    :class:`metadb.api.middleware.InternalErrorBoundary`."""
    app.add_exception_handler(MetadbError, _metadb_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
