"""The metadb operator: reconcile databases to a desired schema version, with per-version
credentials (:mod:`metadb.operator.credentials`), hints and Prometheus metrics.

The reconcile logic (:func:`reconcile`) is plain Python; :class:`LocalOperator` drives it from
YAML files on one machine, and :mod:`metadb.operator.kubernetes` (the only kopf importer) from
a cluster's custom resources.
"""

from __future__ import annotations

from metadb.operator.bootstrap import InitReport, init_database
from metadb.operator.credentials import (
    Credential,
    RevokeOutcome,
    SecretSink,
    VersionCredentials,
    credentials_for,
)
from metadb.operator.local import LocalOperator
from metadb.operator.metrics import OperatorMetrics
from metadb.operator.reconcile import ReconcileContext, ReconcileResult, reconcile
from metadb.operator.resources import DatabaseMigration, ManagedDatabase, crds
from metadb.operator.secrets import FileSecretSink, KubernetesSecretSink

__all__ = [
    "Credential",
    "DatabaseMigration",
    "FileSecretSink",
    "InitReport",
    "KubernetesSecretSink",
    "LocalOperator",
    "ManagedDatabase",
    "OperatorMetrics",
    "ReconcileContext",
    "ReconcileResult",
    "RevokeOutcome",
    "SecretSink",
    "VersionCredentials",
    "crds",
    "credentials_for",
    "init_database",
    "reconcile",
]
