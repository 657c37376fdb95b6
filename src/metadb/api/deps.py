"""What route handlers receive: the open stores, as FastAPI dependencies.

The lifespan (``metadb.api.app``) opens them once per app and keeps them on ``app.state``;
handlers take ``store: StoreDep`` or ``runs: RunsDep`` and never open connections themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from metadb.runs.store import RunStore
from metadb.store.metadata_store import MetadataStore


def get_store(request: Request) -> MetadataStore:
    store: MetadataStore = request.app.state.store
    return store


def get_runs(request: Request) -> RunStore:
    runs: RunStore = request.app.state.runs
    return runs


StoreDep = Annotated[MetadataStore, Depends(get_store)]
RunsDep = Annotated[RunStore, Depends(get_runs)]
