"""The server's Prometheus metrics, in a registry of its own per app.

====================================  =========  ==============================================
metric                                type       labels / meaning
====================================  =========  ==============================================
metadb_http_requests_total            counter    method, route (the template, e.g.
                                                 ``/api/v1/runs/{run_id}``), status
metadb_http_request_duration_seconds  histogram  method, route
metadb_database_up                    gauge      1 when the last scrape reached the database
metadb_schema_version                 gauge      the recorded migration version (-1: none)
metadb_schema_dirty                   gauge      1 when the version is marked dirty
metadb_schema_latest_version          gauge      the newest migration this server knows
metadb_backfill_rows_done             gauge      backfill: rows written so far
metadb_backfill_rows_estimate         gauge      backfill: rows expected in all (when known)
metadb_backfill_state                 gauge      backfill, state: 1 for its current state
====================================  =========  ==============================================

Each app has its own :class:`~prometheus_client.CollectorRegistry`, so several apps in one
process (tests, a program embedding two) never share or clash. The database gauges are read
when ``/metrics`` is scraped (:meth:`ApiMetrics.refresh`), on the server's pool.
"""

from __future__ import annotations

import logging

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from metadb.api.resources import ServerResources, readiness
from metadb.backfill.commands import backfill_status
from metadb.backfill.state import STATES as BACKFILL_STATES
from metadb.errors import MetadbError

log = logging.getLogger("metadb.api")

#: Latency buckets in seconds: 1 ms to 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The route label of a request that matched no route (kept apart so scanners cannot
#: create one series per path they try).
UNMATCHED_ROUTE = "<unmatched>"


class ApiMetrics:
    """The metrics of one app. Constructing it does no I/O.

    Example::

        metrics = ApiMetrics()
        metrics.observe_request("GET", "/healthz", 200, 0.002)
        body, content_type = metrics.render()
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "metadb_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "metadb_http_request_duration_seconds",
            "Time from receiving a request to sending its response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.database_up = Gauge(
            "metadb_database_up", "1 when the last scrape reached the database.", registry=r
        )
        self.schema_version = Gauge(
            "metadb_schema_version", "The recorded migration version (-1: none).", registry=r
        )
        self.schema_dirty = Gauge(
            "metadb_schema_dirty", "1 when the schema version is marked dirty.", registry=r
        )
        self.schema_latest = Gauge(
            "metadb_schema_latest_version",
            "The newest migration version this server knows.",
            registry=r,
        )
        self.backfill_rows_done = Gauge(
            "metadb_backfill_rows_done", "Rows a backfill wrote so far.", ["backfill"], registry=r
        )
        self.backfill_rows_estimate = Gauge(
            "metadb_backfill_rows_estimate",
            "Rows a backfill is expected to write in all (done plus still missing).",
            ["backfill"],
            registry=r,
        )
        self.backfill_state = Gauge(
            "metadb_backfill_state",
            "1 for the backfill's current state (pending, running, done, failed).",
            ["backfill", "state"],
            registry=r,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def refresh(self, resources: ServerResources) -> None:
        """Read the schema version and the backfills' progress from the database. An
        unreachable database sets ``metadb_database_up`` to 0 and keeps the last values."""
        state = readiness(resources)
        self.database_up.set(1 if state.database_up else 0)
        if state.latest is not None:
            self.schema_latest.set(state.latest)
        if not state.database_up:
            return
        self.schema_version.set(-1 if state.version is None else state.version)
        self.schema_dirty.set(1 if state.dirty else 0)
        try:
            backfills = backfill_status(resources.database)
        except MetadbError as exc:  # no backfill table yet, or the database went away
            log.warning("metrics: backfill progress not read: %s", exc)
            return
        for row in backfills:
            self.backfill_rows_done.labels(row.id).set(row.rows_done)
            if row.rows_estimate is not None:
                self.backfill_rows_estimate.labels(row.id).set(row.rows_estimate)
            for name in BACKFILL_STATES:
                self.backfill_state.labels(row.id, name).set(1 if row.state == name else 0)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
