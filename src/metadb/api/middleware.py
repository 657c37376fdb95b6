"""The app's pure ASGI middleware (no BaseHTTPMiddleware: it would buffer and re-wrap every
response), outermost first:

- :class:`RequestObserver`: one access-log line and the request metrics;
- :class:`InternalErrorBoundary`: an exception no handler took becomes the 500 of
  :func:`metadb.api.errors.internal_error_response`, and goes no further (uvicorn would log
  its message, SQL text included);
- :class:`metadb.api.auth.BearerTokenGuard` when the server has a token;
- :class:`BodySizeLimit`: bodies over the limit are refused with 413, never buffered.

The log line is ``METHOD PATH STATUS DURATIONms``: the path only, never the query string or
any header, so a token or a secret in a query cannot reach the log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from metadb.api.errors import CLOSE, error_response, internal_error_response, path_for_log
from metadb.api.metrics import UNMATCHED_ROUTE, ApiMetrics

access_log = logging.getLogger("metadb.api.access")


class RequestObserver:
    """Times each HTTP request, logs it (if ``log_requests``) and counts it in ``metrics`` by
    the route's template, e.g. ``/api/v1/runs/{run_id}``, so ids never become labels."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics, log_requests: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is answered with a 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - started
            method = str(scope.get("method", ""))
            self.metrics.observe_request(method, _route_of(scope), status, seconds)
            if self.log_requests:
                access_log.info(
                    "%s %s %d %.1fms", method, path_for_log(scope), status, seconds * 1000
                )


class InternalErrorBoundary:
    """Answers an exception that no handler took with a 500 (``Connection: close``), logged
    without its message unless ``debug``; the exception stops here."""

    def __init__(self, app: ASGIApp, *, debug: bool = False) -> None:
        self.app = app
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_tracked(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            response = internal_error_response(scope, exc, debug=self.debug)
            if not response_started:  # else the server ends the half-sent response
                await response(scope, receive, send)


class BodySizeLimit:
    """Refuses request bodies over ``max_body_bytes`` with 413 ``body_too_large`` (naming the
    limit, with ``Connection: close``) without buffering them: a declared Content-Length over
    the limit is refused before any of the body is read; a chunked body is counted as it
    streams and refused as soon as the count passes the limit.

    FastAPI's own ``max_body_size`` is not used: it answers in plain text, and it runs before
    the token check, so that a stranger's upload would be counted instead of refused at once.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        if _content_length(scope) > limit:
            response = error_response(413, "body_too_large", _too_large(limit))
            response.headers.update(CLOSE)
            await response(scope, receive, send)
            return
        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI passes an HTTPException from reading the body on to the error
                    # seam (metadb.api.errors), which answers it as JSON.
                    raise HTTPException(413, detail=_too_large(limit), headers=CLOSE)
            return message

        await self.app(scope, receive_counted, send)


def _too_large(limit: int) -> str:
    return (
        f"the request body is larger than this server's limit of {limit} bytes "
        "(metadb serve --max-body-bytes); send less in one call"
    )


def _content_length(scope: Scope) -> int:
    try:
        return int(Headers(scope=scope).get("content-length", "0"))
    except ValueError:
        return 0  # the server rejects a malformed length itself


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE
