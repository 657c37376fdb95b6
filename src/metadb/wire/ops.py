"""Response models of the operational routes: ``/healthz``, ``/readyz`` and
``/api/v1/migrations``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # only annotations: the migrate package loads SQLAlchemy
    from metadb.migrate.commands import Status
    from metadb.migrate.tables import HistoryRow


class HealthOut(BaseModel):
    """The process is up (nothing else is checked)."""

    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    """The database is reachable, its schema current and not dirty."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready", "version": 3, "latest": 3}]}
    )

    status: Literal["ready"] = "ready"
    version: int | None = Field(description="The recorded migration version.")
    latest: int | None = Field(description="The newest migration this server knows.")


class MigrationOut(BaseModel):
    """One migration of the bundled source and its state on this database."""

    version: int
    name: str
    state: str = Field(description="applied, pending or changed", examples=["applied"])
    checksum: str
    recorded_checksum: str | None = None


class HistoryOut(BaseModel):
    """One row of metadb's migration history (newest first)."""

    model_config = ConfigDict(extra="ignore")

    id: int
    version: int
    name: str
    direction: str
    target_version: int | None = None
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: int | None = None
    applied_by: str
    statements_done: int
    statements_total: int
    error: str | None = None
    note: str | None = None


class MigrationsOut(BaseModel):
    """The database's migration state (read-only: what ``metadb migrate status`` and
    ``metadb migrate history`` print)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "database": "postgresql+psycopg://metadb:***@db:5432/metadb",
                    "version": 3,
                    "dirty": False,
                    "pending": [],
                    "changed": [],
                    "missing": [],
                    "needs_attention": False,
                    "problem": None,
                    "migrations": [],
                    "history": [],
                }
            ]
        }
    )

    database: str = Field(description="The database URL, password masked.")
    version: int | None
    dirty: bool
    pending: list[int]
    changed: list[int]
    missing: list[int]
    needs_attention: bool = Field(description="Dirty, changed or missing migrations.")
    problem: str | None = Field(description="What needs doing, when something does.")
    migrations: list[MigrationOut]
    history: list[HistoryOut]

    @classmethod
    def from_status(cls, status: Status, history: list[HistoryRow]) -> MigrationsOut:
        """From :func:`metadb.migrate.status` and :func:`metadb.migrate.history` results."""
        data = status.as_dict()
        data["history"] = [row.as_dict() for row in history]
        return cls.model_validate(data)
