"""The app factory: :func:`create_app`.

``create_app`` only wires routers and handlers; the lifespan does the I/O when the server
starts: open the database, apply pending migrations (or refuse to start on an out-of-date
schema with ``migrate=False``), open the stores, start pending backfills in the background.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from metadb import __version__
from metadb.api.errors import install_error_handlers
from metadb.api.routers import store as store_routes
from metadb.api.settings import ServeSettings
from metadb.runs.store import RunStore
from metadb.store.connect import connect

log = logging.getLogger("metadb.api")


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """Build the REST API for ``settings`` (no I/O until the app starts).

    Example::

        app = create_app(ServeSettings(database_url="postgresql://metadb@db/metadb"))
        uvicorn.run(app)
    """
    settings = settings or ServeSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = connect(
            settings.database_url,
            database_type=settings.database_type,
            migrate=settings.migrate,
            mysql_text=settings.mysql_text,
        )
        app.state.store = store
        app.state.runs = RunStore(store.database)
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="metadb",
        version=__version__,
        description="ML Metadata (MLMD-compatible) store, pipeline runs and migration state.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(store_routes.router)
    return app
