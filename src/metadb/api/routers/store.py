"""The MLMD store's resources under ``/api/v1``: the one router ``metadb.api.app`` includes.

The routes live in three modules, by what they serve: :mod:`.store_types` (types),
:mod:`.store_nodes` (artifacts, executions, contexts) and :mod:`.store_links` (events,
context membership, parent contexts, lineage). Handlers are plain ``def`` functions (FastAPI
runs them in its thread pool) that call :class:`~metadb.store.MetadataStore` once each; the
store's typed errors become JSON errors in :mod:`metadb.api.errors`. docs/api.md lists them.
"""

from __future__ import annotations

from fastapi import APIRouter

from metadb.api.routers import store_links, store_nodes, store_types

# Each module's routers carry the /api/v1 prefix themselves, as runs' does: a route's own path
# is then its full template, which the metrics label requests by.
router = APIRouter()
router.include_router(store_types.router)
router.include_router(store_nodes.router)
router.include_router(store_links.router)
