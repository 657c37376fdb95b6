"""Per-request observation: one access-log line and the request metrics.

A plain ASGI middleware (no BaseHTTPMiddleware: it would buffer and re-wrap every response).
The log line is ``METHOD PATH STATUS DURATIONms``: the path only, never the query string or
any header, so a token or a secret in a query cannot reach the log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
                access_log.info("%s %s %d %.1fms", method, _path_of(scope), status, seconds * 1000)


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def _path_of(scope: Scope) -> str:
    # The path as the client sent it (percent-encoded, no query string): a decoded path could
    # carry a line break into the log.
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    return str(scope.get("path", "")).encode("unicode_escape").decode("ascii")
