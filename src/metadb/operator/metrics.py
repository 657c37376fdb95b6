"""The operator's Prometheus metrics, in one registry per operator instance.

Served on ``/metrics`` by :meth:`OperatorMetrics.serve`; after a migration step the registry
can also be pushed to a Pushgateway (:meth:`OperatorMetrics.push`). User-defined SQL metrics
are exported by a collector that reports the values of the last pass, so a counter read from
the database (a cumulative total) is exported as it is, not incremented.

Example::

    metrics = OperatorMetrics()
    server = metrics.serve(port=9090)
    metrics.migrations.labels(database="app", direction="up", result="succeeded").inc()
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    push_to_gateway,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

_QUERY_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0)
_MIGRATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass
class SqlSample:
    """One row of a user-defined query: its label values and value."""

    labels: dict[str, str]
    value: float


@dataclass
class _SqlMetric:
    kind: str
    help: str
    labelnames: tuple[str, ...]
    samples: dict[str, list[SqlSample]] = field(default_factory=dict)  # by database


class SqlMetricsCollector(Collector):
    """Exports user-defined SQL metrics with the values of the last pass of each database."""

    def __init__(self) -> None:
        self._metrics: dict[str, _SqlMetric] = {}
        self._lock = threading.Lock()

    def set(
        self,
        *,
        database: str,
        name: str,
        kind: str,
        help: str,
        labelnames: Iterable[str],
        samples: list[SqlSample],
    ) -> None:
        """Replace ``database``'s samples of metric ``name``.

        Raises:
            ValueError: ``name`` was declared before with another type or other labels.
        """
        names = ("database", *labelnames)
        with self._lock:
            metric = self._metrics.setdefault(name, _SqlMetric(kind, help, names))
            if metric.kind != kind or metric.labelnames != names:
                raise ValueError(
                    f"metric {name} is already a {metric.kind} with labels "
                    f"{list(metric.labelnames)}; another query declares it as a {kind} with "
                    f"labels {list(names)}"
                )
            metric.samples[database] = samples

    def forget(self, database: str) -> None:
        with self._lock:
            for metric in self._metrics.values():
                metric.samples.pop(database, None)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snapshot = list(self._metrics.items())
            for name, metric in snapshot:
                family: GaugeMetricFamily | CounterMetricFamily
                if metric.kind == "counter":
                    family = CounterMetricFamily(
                        name, metric.help or name, labels=metric.labelnames
                    )
                else:
                    family = GaugeMetricFamily(name, metric.help or name, labels=metric.labelnames)
                for database, samples in metric.samples.items():
                    for sample in samples:
                        values = [database, *(sample.labels[n] for n in metric.labelnames[1:])]
                        family.add_metric(values, sample.value)
                yield family


class OperatorMetrics:
    """Every metric the operator exports, registered in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.migrations = Counter(
            "metadb_operator_migrations",
            "Migration steps run by the operator, by result.",
            ["database", "direction", "result"],
            registry=r,
        )
        self.migration_duration = Histogram(
            "metadb_operator_migration_duration_seconds",
            "Time one migration step took.",
            ["database", "direction"],
            buckets=_MIGRATION_BUCKETS,
            registry=r,
        )
        self.last_failure = Gauge(
            "metadb_operator_migration_last_failure_timestamp_seconds",
            "When a migration step last failed (Unix time).",
            ["database"],
            registry=r,
        )
        self.schema_version = Gauge(
            "metadb_operator_schema_version",
            "The schema version the database is at.",
            ["database"],
            registry=r,
        )
        self.desired_version = Gauge(
            "metadb_operator_desired_schema_version",
            "The schema version the database is to reach.",
            ["database"],
            registry=r,
        )
        self.credentials_created = Counter(
            "metadb_operator_credentials_created",
            "Per-version credentials created.",
            ["database"],
            registry=r,
        )
        self.credentials_revoked = Counter(
            "metadb_operator_credentials_revoked",
            "Per-version credentials revoked.",
            ["database"],
            registry=r,
        )
        self.managed_databases = Gauge(
            "metadb_operator_managed_databases",
            "ManagedDatabases this operator reconciles.",
            registry=r,
        )
        self.reconcile_errors = Counter(
            "metadb_operator_reconcile_errors",
            "Passes that ended in an error, by reason and whether it is temporary.",
            ["database", "reason", "temporary"],
            registry=r,
        )
        self.table_rows = Gauge(
            "metadb_database_table_rows_estimate",
            "Estimated rows per table (the database's statistics).",
            ["database", "table"],
            registry=r,
        )
        self.table_next_id = Gauge(
            "metadb_database_table_next_id",
            "The next auto-increment id of each table.",
            ["database", "table"],
            registry=r,
        )
        self.query_duration = Histogram(
            "metadb_database_query_duration_seconds",
            "Time of the data-metric queries.",
            ["database", "query"],
            buckets=_QUERY_BUCKETS,
            registry=r,
        )
        self.query_errors = Counter(
            "metadb_database_query_errors",
            "Data-metric queries that failed.",
            ["database", "query"],
            registry=r,
        )
        self.sql = SqlMetricsCollector()
        r.register(self.sql)
        self._known: set[str] = set()

    def track(self, databases: Iterable[str]) -> None:
        """Set the managed-databases gauge and drop the series of databases no longer managed."""
        names = set(databases)
        for gone in self._known - names:
            self.forget(gone)
        self._known = names
        self.managed_databases.set(len(names))

    def forget(self, database: str) -> None:
        """Remove every per-database series of ``database`` (its resource was deleted)."""
        for metric in (self.schema_version, self.desired_version, self.last_failure):
            _remove(metric, database)
        for gauge in (self.table_rows, self.table_next_id):
            for labels in _label_sets(gauge):
                if labels[0] == database:
                    gauge.remove(*labels)
        self.sql.forget(database)

    def replace_table_values(self, gauge: Gauge, database: str, values: dict[str, float]) -> None:
        """Set ``gauge`` for ``database``'s tables to ``values``, dropping tables now gone."""
        for labels in _label_sets(gauge):
            if labels[0] == database and labels[1] not in values:
                gauge.remove(*labels)
        for table, value in values.items():
            gauge.labels(database=database, table=table).set(value)

    def serve(self, *, port: int, addr: str = "0.0.0.0") -> Any:
        """Serve ``/metrics`` on ``addr:port`` in a daemon thread; returns the HTTP server
        (call ``shutdown()`` to stop it). Port 0 picks a free port (``server.server_port``)."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return server

    def push(self, gateway: str, *, database: str) -> None:
        """Push the registry to a Pushgateway, grouped by database. A failure is logged, not
        raised: metrics never stop a migration."""
        try:
            push_to_gateway(
                gateway,
                job="metadb-operator",
                registry=self.registry,
                grouping_key={"database": database},
                timeout=5,
            )
        except OSError as exc:
            log.warning("could not push metrics to the Pushgateway at %s: %s", gateway, exc)


def _label_sets(metric: Gauge) -> list[tuple[str, ...]]:
    # prometheus_client keeps no public list of a metric's children; read them off collect().
    seen: list[tuple[str, ...]] = []
    for family in metric.collect():
        for sample in family.samples:
            values = tuple(sample.labels[n] for n in ("database", "table") if n in sample.labels)
            if values not in seen:
                seen.append(values)
    return seen


def _remove(metric: Gauge, database: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(database)


__all__ = ["OperatorMetrics", "SqlMetricsCollector", "SqlSample"]
