"""The API's one error seam: metadb's typed errors become JSON ``{code, message, details}``.

=============================  ======  =====================================================
error                          status  when
=============================  ======  =====================================================
InvalidArgumentError,          400     a malformed value, filter or request body
ConfigError, request
validation
NotFoundError                  404     no such type, node, run or id
AlreadyExistsError             409     a name or external id is taken
FailedPreconditionError        412     the call conflicts with stored data
DatabaseUnreachableError,      503     the database cannot be reached right now, or it
AuthenticationError,                   cancelled a statement that ran past the statement
QueryTimeoutError                      timeout (``serve --statement-timeout``): well-formed,
                                       but not answerable in time; narrow it or retry later
anything else                  500     a bug: logged with its traceback, message kept generic
=============================  ======  =====================================================

Handlers raise metadb's errors; nothing else in the API builds an error response.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

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
)

log = logging.getLogger("metadb.api")

STATUS_FOR: dict[type[BaseException], int] = {
    InvalidArgumentError: 400,
    ConfigError: 400,
    NotFoundError: 404,
    AlreadyExistsError: 409,
    FailedPreconditionError: 412,
    DatabaseUnreachableError: 503,
    AuthenticationError: 503,
    QueryTimeoutError: 503,
}


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
    for cls in type(exc).__mro__:
        if cls in STATUS_FOR:
            return STATUS_FOR[cls]
    return 500


def error_response(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details)
    return JSONResponse(status_code=status, content=body.model_dump())


async def _metadb_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    if status == 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal", "internal error; the server log has the details")
    code = getattr(exc, "code", "error")
    return error_response(status, code, str(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return error_response(400, "invalid_argument", f"{where}: {first['msg']}", errors=problems)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {
        400: "invalid_argument",  # a body that is not JSON (or nests past the parser's limit)
        401: "unauthenticated",
        404: "not_found",
        405: "method_not_allowed",
    }.get(exc.status_code, "http_error")
    response = error_response(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the seam on ``app``."""
    app.add_exception_handler(MetadbError, _metadb_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
