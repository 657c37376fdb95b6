"""Versioned migrations in golang-migrate's format, safe under concurrency and failure.

Each function here is one ``metadb migrate`` command; see :mod:`metadb.migrate.commands`.
"""

from __future__ import annotations

from metadb.migrate.commands import (
    MigrateConfig,
    MigrationReport,
    MigrationStatus,
    Plan,
    PlannedStatement,
    PlannedStep,
    Preflight,
    StatementHint,
    Status,
    baseline,
    create,
    down,
    force,
    goto,
    history,
    plan,
    resume,
    status,
    up,
    version,
)
from metadb.migrate.runner import MigrationRunner, StepResult
from metadb.migrate.source import Migration, MigrationFile, MigrationSource, load_source
from metadb.migrate.tables import HistoryRow, VersionState

__all__ = [
    "HistoryRow",
    "MigrateConfig",
    "Migration",
    "MigrationFile",
    "MigrationReport",
    "MigrationRunner",
    "MigrationSource",
    "MigrationStatus",
    "Plan",
    "PlannedStatement",
    "PlannedStep",
    "Preflight",
    "StatementHint",
    "Status",
    "StepResult",
    "VersionState",
    "baseline",
    "create",
    "down",
    "force",
    "goto",
    "history",
    "load_source",
    "plan",
    "resume",
    "status",
    "up",
    "version",
]
