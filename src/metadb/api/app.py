"""The app factory: :func:`create_app`.

``create_app`` only wires routers, handlers and middleware; the lifespan does the I/O when the
server starts (:func:`metadb.api.resources.open_resources`): open the database, apply pending
migrations (or refuse to start on an out-of-date schema with ``migrate=False``), open the
stores, start pending backfills in the background. On shutdown it closes the pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from metadb import __version__
from metadb.api.auth import BearerTokenGuard, bearer_scheme_dependency
from metadb.api.errors import install_error_handlers
from metadb.api.metrics import ApiMetrics
from metadb.api.middleware import BodySizeLimit, InternalErrorBoundary, RequestObserver
from metadb.api.resources import ServerResources, open_resources
from metadb.api.routers import ops as ops_routes
from metadb.api.routers import runs as runs_routes
from metadb.api.routers import store as store_routes
from metadb.api.settings import ServeSettings
from metadb.wire.runs import FILTER_COMPONENTS

log = logging.getLogger("metadb.api")


def create_app(
    settings: ServeSettings | None = None, *, resources: ServerResources | None = None
) -> FastAPI:
    """Build the REST API for ``settings`` (no I/O until the app starts).

    ``resources``: already opened ones (``metadb serve`` opens them before it binds the port,
    so that a failure is a message rather than a server that never becomes ready); the app then
    uses them and closes them on shutdown.

    Example::

        app = create_app(ServeSettings(database_url="postgresql://metadb@db/metadb"))
        uvicorn.run(app)
    """
    settings = settings or ServeSettings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened: ServerResources = (
            resources
            if resources is not None
            else await run_in_threadpool(open_resources, settings)
        )
        app.state.resources = opened
        app.state.store = opened.store
        app.state.runs = opened.runs
        try:
            yield
        finally:
            opened.close()

    app = FastAPI(
        title="metadb",
        version=__version__,
        description=(
            "ML Metadata (MLMD-compatible) store, pipeline runs and migration state. Errors are "
            "JSON `{code, message, details}`. When the server has a token, every route but "
            "/healthz needs `Authorization: Bearer <token>`."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    # The last added runs first: observe, catch what no handler took, check the token, and
    # only then let anything read the body.
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    protected: list[Any] = []
    if settings.auth_token is not None:
        docs = (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
        open_paths = {url for url in docs if url} | {
            route.path for route in ops_routes.open_router.routes if isinstance(route, APIRoute)
        }
        app.add_middleware(BearerTokenGuard, token=settings.auth_token, open_paths=open_paths)
        protected.append(Depends(bearer_scheme_dependency()))
    app.add_middleware(InternalErrorBoundary, debug=settings.debug)
    app.add_middleware(RequestObserver, metrics=metrics, log_requests=settings.access_log)

    app.include_router(ops_routes.open_router)
    app.include_router(ops_routes.router, dependencies=protected)
    app.include_router(store_routes.router, dependencies=protected)
    app.include_router(runs_routes.router, dependencies=protected)
    _add_schema_components(app, FILTER_COMPONENTS)
    return app


def _add_schema_components(app: FastAPI, components: dict[str, Any]) -> None:
    """Put schemas that request models refer to by hand (the run filter tree's, built from
    :mod:`metadb.runs.filters`' models) into the OpenAPI document's components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
