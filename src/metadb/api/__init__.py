"""metadb's REST API: a FastAPI app over the store, the runs and the migration state.

``create_app(settings)`` builds the app without touching the database; the database is opened,
migrated and checked in the app's lifespan, when a server (or a test client) starts it.
"""

from __future__ import annotations

from metadb.api.app import create_app
from metadb.api.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
