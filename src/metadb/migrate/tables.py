"""The two tables the migration engine keeps in the database it migrates.

``schema_migrations`` is golang-migrate's, column for column, so either tool can pick up a
database the other migrated: one row, ``(version bigint primary key, dirty boolean)``, rewritten
at every step; no row means no version.

``<table>_history`` is metadb's own: one row per application of a migration file (up, down,
resume, force, baseline), with the file's checksum, timings, who ran it, per-statement progress
and the error of a failed run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import mysql

from metadb.clock import utcnow
from metadb.config import DEFAULT_MIGRATIONS_TABLE

_ERROR_LIMIT = 16_000
_Timestamp = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)  # MySQL and SQLite keep naive UTC
    return value


def prefix_checksum(statements: Sequence[str]) -> str:
    """sha256 over the texts of the statements already applied, to check them on resume."""
    digest = hashlib.sha256()
    for text in statements:
        digest.update(text.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True)
class VersionState:
    version: int | None
    dirty: bool


class VersionTable:
    """golang-migrate's ``schema_migrations`` table (the name is configurable)."""

    def __init__(self, name: str = DEFAULT_MIGRATIONS_TABLE) -> None:
        self.name = name
        self.table = Table(
            name,
            MetaData(),
            Column("version", BigInteger, primary_key=True, autoincrement=False),
            Column("dirty", Boolean, nullable=False),
        )

    def exists(self, conn: Connection) -> bool:
        return inspect(conn).has_table(self.name)

    def create(self, conn: Connection) -> None:
        self.table.create(conn, checkfirst=True)

    def read(self, conn: Connection) -> VersionState:
        """The current version; ``VersionState(None, False)`` when there is no table or row."""
        if not self.exists(conn):
            return VersionState(None, False)
        row = conn.execute(select(self.table.c.version, self.table.c.dirty).limit(1)).first()
        if row is None:
            return VersionState(None, False)
        version = int(row.version)
        # golang-migrate writes -1 for "no version, dirty".
        return VersionState(version if version >= 0 else None, bool(row.dirty))

    def write(self, conn: Connection, version: int | None, *, dirty: bool) -> None:
        conn.execute(delete(self.table))
        if version is not None or dirty:
            conn.execute(
                insert(self.table).values(version=-1 if version is None else version, dirty=dirty)
            )


@dataclass(frozen=True)
class HistoryRow:
    """One application of a migration file, as the history table keeps it."""

    id: int
    version: int
    name: str
    direction: str
    target_version: int | None
    path: str | None
    checksum: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    applied_by: str
    statements_done: int
    statements_total: int
    done_checksum: str | None
    error: str | None
    note: str | None
    resumed_from: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class HistoryTable:
    """metadb's record of every migration applied to the database."""

    RUNNING, SUCCEEDED, FAILED, ROLLED_BACK = "running", "succeeded", "failed", "rolled_back"
    #: A dirty database whose last row has one of these can be resumed from its progress.
    RESUMABLE = (RUNNING, FAILED)

    def __init__(self, name: str) -> None:
        self.name = name
        self.table = Table(
            name,
            MetaData(),
            Column("id", _Id, primary_key=True, autoincrement=True),
            Column("version", BigInteger, nullable=False),
            Column("name", String(255), nullable=False),
            Column("direction", String(16), nullable=False),
            Column("target_version", BigInteger),
            Column("path", String(1024)),
            Column("checksum", String(64)),
            Column("status", String(16), nullable=False),
            Column("started_at", _Timestamp, nullable=False),
            Column("finished_at", _Timestamp),
            Column("duration_ms", BigInteger),
            Column("applied_by", String(255), nullable=False),
            Column("statements_done", Integer, nullable=False, default=0),
            Column("statements_total", Integer, nullable=False, default=0),
            Column("done_checksum", String(64)),
            Column("error", Text),
            Column("note", Text),
            Column("resumed_from", BigInteger),
            Index(f"ix_{name}_version", "version"),
        )

    def exists(self, conn: Connection) -> bool:
        return inspect(conn).has_table(self.name)

    def create(self, conn: Connection) -> None:
        self.table.create(conn, checkfirst=True)

    def record(self, conn: Connection, **values: Any) -> int:
        """Insert a row; returns its id. ``started_at`` defaults to now."""
        values.setdefault("started_at", utcnow())
        if "error" in values and values["error"] is not None:
            values["error"] = values["error"][:_ERROR_LIMIT]
        result = conn.execute(insert(self.table).values(**values))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def progress(self, conn: Connection, row_id: int, *, done: int, done_checksum: str) -> None:
        conn.execute(
            update(self.table)
            .where(self.table.c.id == row_id)
            .values(statements_done=done, done_checksum=done_checksum)
        )

    def finish(
        self,
        conn: Connection,
        row_id: int,
        *,
        status: str,
        started_at: datetime,
        error: str | None = None,
        note: str | None = None,
    ) -> None:
        finished = utcnow()
        conn.execute(
            update(self.table)
            .where(self.table.c.id == row_id)
            .values(
                status=status,
                finished_at=finished,
                duration_ms=int((finished - started_at).total_seconds() * 1000),
                error=None if error is None else error[:_ERROR_LIMIT],
                note=note,
            )
        )

    def rows(self, conn: Connection, *, limit: int | None = None) -> list[HistoryRow]:
        """Newest first."""
        if not self.exists(conn):
            return []
        query = select(self.table).order_by(self.table.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return [self._row(r._mapping) for r in conn.execute(query)]

    def applied_checksums(self, conn: Connection) -> dict[int, str]:
        """For each version, the checksum of its latest successful up (or baseline)."""
        if not self.exists(conn):
            return {}
        t = self.table
        latest = (
            select(func.max(t.c.id))
            .where(t.c.status == self.SUCCEEDED, t.c.direction.in_(("up", "baseline")))
            .group_by(t.c.version)
        )
        rows = conn.execute(select(t.c.version, t.c.checksum).where(t.c.id.in_(latest)))
        return {int(r.version): r.checksum for r in rows if r.checksum}

    @staticmethod
    def _row(m: Any) -> HistoryRow:
        return HistoryRow(
            id=int(m["id"]),
            version=int(m["version"]),
            name=m["name"],
            direction=m["direction"],
            target_version=m["target_version"],
            path=m["path"],
            checksum=m["checksum"],
            status=m["status"],
            started_at=_aware(m["started_at"]),  # type: ignore[arg-type]
            finished_at=_aware(m["finished_at"]),
            duration_ms=m["duration_ms"],
            applied_by=m["applied_by"],
            statements_done=int(m["statements_done"]),
            statements_total=int(m["statements_total"]),
            done_checksum=m["done_checksum"],
            error=m["error"],
            note=m["note"],
            resumed_from=m["resumed_from"],
        )
