"""Operational routes: health, readiness, Prometheus metrics and the migration state.

``/healthz`` is on :data:`open_router` (never behind the token, never touches the database);
the others are on :data:`router`, behind the token when the server has one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from metadb import migrate as migrations
from metadb.api.errors import ERROR_RESPONSES, ErrorBody, error_response
from metadb.api.metrics import ApiMetrics
from metadb.api.resources import ServerResources, readiness
from metadb.paging import DEFAULT_LIMIT, MAX_LIMIT
from metadb.wire.ops import HealthOut, MigrationsOut, ReadyOut

open_router = APIRouter(tags=["ops"])
router = APIRouter(tags=["ops"])

_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "not ready: the message says why"}
}


def _resources(request: Request) -> ServerResources:
    resources: ServerResources = request.app.state.resources
    return resources


@open_router.get("/healthz", response_model=HealthOut, summary="Liveness")
async def healthz() -> HealthOut:
    """The process is up and answering. Checks nothing else: no database, no token."""
    return HealthOut()


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={**_NOT_READY, 401: ERROR_RESPONSES[401]},
    summary="Readiness",
)
def readyz(request: Request) -> Any:
    """Ready when the database is reachable and its schema is at the newest migration and not
    dirty; otherwise 503 with the reason (``code``: ``not_ready``)."""
    state = readiness(_resources(request))
    if not state.ready:
        return error_response(
            503,
            "not_ready",
            state.reason or "not ready",
            version=state.version,
            dirty=state.dirty,
            latest=state.latest,
            database_up=state.database_up,
        )
    return ReadyOut(version=state.version, latest=state.latest)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus exposition text"},
        401: ERROR_RESPONSES[401],
    },
    summary="Prometheus metrics",
)
def metrics(request: Request) -> Response:
    """Requests by route and status, latency, schema version and backfill progress. The
    database gauges are read now; an unreachable database reads as ``metadb_database_up 0``."""
    api_metrics: ApiMetrics = request.app.state.metrics
    api_metrics.refresh(_resources(request))
    body, content_type = api_metrics.render()
    return Response(content=body, media_type=content_type)


@router.get(
    "/api/v1/migrations",
    response_model=MigrationsOut,
    responses=ERROR_RESPONSES,
    summary="Migration state",
)
def migration_state(
    request: Request,
    history_limit: Annotated[
        int, Query(ge=0, le=MAX_LIMIT, description="How many history rows, newest first.")
    ] = DEFAULT_LIMIT,
) -> MigrationsOut:
    """The schema version, dirty flag, every bundled migration's state (applied, pending,
    changed), missing versions and the newest history rows. Read-only: nothing changes."""
    url = _resources(request).database.url
    config = migrations.MigrateConfig(database=url)
    status = migrations.status(config)
    history = migrations.history(config, limit=history_limit) if history_limit else []
    return MigrationsOut.from_status(status, history)
