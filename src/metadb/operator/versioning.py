"""How the operator reads a database's version, and the chain of migrations to the desired one.

Readers (chosen by ``spec.version.reader``):

- ``golang-migrate``: ``schema_migrations`` through :func:`metadb.migrate.version`;
- ``alembic``: Alembic's ``alembic_version`` table, a revision id mapped to a version by the
  DatabaseMigrations' ``revision`` (or read as a number). After each step metadb runs, the
  table is set to the new revision so that Alembic agrees;
- ``sql``: a query returning one integer; the migrations themselves keep what it reads.

The chain is walked along the DatabaseMigrations' ``previous`` links when there are any, else in
the migration source's order. A missing link raises :class:`BrokenChain` naming it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Column, MetaData, String, Table, delete, insert, inspect, select, text

from metadb import migrate
from metadb.db.database import Database
from metadb.migrate.commands import MigrateConfig
from metadb.migrate.tables import VersionState
from metadb.operator.resources import DatabaseMigrationSpec, VersionSpec


class VersionReadError(Exception):
    """The version could not be read as a number; ``str()`` says why and what to do."""


class BrokenChain(Exception):
    """No chain of migrations leads from the current version to the desired one."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class VersionReader(ABC):
    """Reads the version and, for readers that keep their own table, records metadb's steps."""

    name: str

    @abstractmethod
    def read(self, db: Database, config: MigrateConfig) -> VersionState:
        """The current version and dirty flag.

        Raises:
            VersionReadError: the value is not a version; DatabaseError: talking failed.
        """

    def record(self, db: Database, version: int | None) -> None:  # noqa: B027
        """Called after metadb migrated the database to ``version``; most readers need nothing."""


class GolangMigrateReader(VersionReader):
    name = "golang-migrate"

    def read(self, db: Database, config: MigrateConfig) -> VersionState:
        return migrate.version(config)


class AlembicReader(VersionReader):
    """Alembic's one-row ``alembic_version(version_num)`` table."""

    name = "alembic"

    def __init__(self, *, table: str = "alembic_version", revisions: Mapping[str, int]) -> None:
        self.table = Table(table, MetaData(), Column("version_num", String(32), primary_key=True))
        self.revisions = dict(revisions)

    def read(self, db: Database, config: MigrateConfig) -> VersionState:
        with db.connect() as conn:
            if not inspect(conn).has_table(self.table.name):
                return VersionState(None, False)
            rows = [r[0] for r in conn.execute(select(self.table.c.version_num))]
        if not rows:
            return VersionState(None, False)
        if len(rows) > 1:
            raise VersionReadError(
                f"{self.table.name} has {len(rows)} heads ({', '.join(rows)}); merge them "
                "with 'alembic merge' so that the database has one version"
            )
        return VersionState(self.version_of(rows[0]), False)

    def version_of(self, revision: str) -> int:
        if revision in self.revisions:
            return self.revisions[revision]
        if revision.isdigit():
            return int(revision)
        raise VersionReadError(
            f"Alembic revision {revision!r} in {self.table.name} is not a number and no "
            "DatabaseMigration declares it as its 'revision'; add one that does"
        )

    def revision_of(self, version: int) -> str:
        for revision, number in self.revisions.items():
            if number == version:
                return revision
        return str(version)

    def record(self, db: Database, version: int | None) -> None:
        with db.connect() as conn, conn.begin():
            self.table.create(conn, checkfirst=True)
            conn.execute(delete(self.table))
            if version is not None:
                conn.execute(insert(self.table).values(version_num=self.revision_of(version)))


class SqlQueryReader(VersionReader):
    """A query returning one integer (or no row / NULL for "no version")."""

    name = "sql"

    def __init__(self, query: str) -> None:
        self.query = query

    def read(self, db: Database, config: MigrateConfig) -> VersionState:
        with db.connect() as conn:
            value = conn.execute(text(self.query)).scalar()
        if value is None:
            return VersionState(None, False)
        try:
            return VersionState(int(value), False)
        except (TypeError, ValueError):
            raise VersionReadError(
                f"the version query returned {value!r}, not an integer: {self.query}"
            ) from None


def reader_for(spec: VersionSpec, migrations: Sequence[DatabaseMigrationSpec]) -> VersionReader:
    """The reader ``spec`` asks for.

    Raises:
        VersionReadError: reader ``sql`` without a query.
    """
    if spec.reader == "alembic":
        revisions = {m.revision: m.version for m in migrations if m.revision}
        return AlembicReader(table=spec.table or "alembic_version", revisions=revisions)
    if spec.reader == "sql":
        if not spec.query:
            raise VersionReadError("spec.version.reader is 'sql' but spec.version.query is empty")
        return SqlQueryReader(spec.query)
    return GolangMigrateReader()


# --- the chain ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One migration to run: ``up`` to ``version``, or ``down`` reverting ``version``."""

    version: int
    direction: Literal["up", "down"]
    #: The version below this one: where the database is before an up step, after a down step.
    previous: int | None
    #: The directory of this version's files, or None for the ManagedDatabase's source.
    source: str | None = None

    @property
    def lands_on(self) -> int | None:
        return self.version if self.direction == "up" else self.previous


#: The versions a migration source directory holds (None: the ManagedDatabase's source).
VersionsIn = Callable[[str | None], Sequence[int]]


def newest(versions_in: VersionsIn, migrations: Sequence[DatabaseMigrationSpec]) -> int | None:
    """The desired version when the spec names none: the head of the ``previous`` links, or
    the source's newest version.

    Raises:
        BrokenChain: the links have several heads.
    """
    if not migrations:
        versions = versions_in(None)
        return max(versions) if versions else None
    replaced = {m.previous for m in migrations}
    heads = sorted(m.version for m in migrations if m.version not in replaced)
    if len(heads) != 1:
        raise BrokenChain(
            "AmbiguousHead",
            f"the DatabaseMigrations have {len(heads)} heads ({heads}); set desiredVersion",
        )
    return heads[0]


def plan_chain(
    current: int | None,
    desired: int | None,
    *,
    versions_in: VersionsIn,
    migrations: Sequence[DatabaseMigrationSpec],
) -> list[Step]:
    """The steps from ``current`` to ``desired`` (up, or down when ``desired`` is lower), one
    version each.

    Raises:
        BrokenChain: a link or file is missing; the message names the version.
    """
    if current == desired:
        return []
    going_down = desired is None or (current is not None and desired < current)
    if migrations:
        steps = _walk_links(current, desired, migrations, down=going_down)
    else:
        steps = _walk_source(current, desired, versions_in(None), down=going_down)
    for step in steps:
        available = versions_in(step.source)
        if step.version not in available:
            where = step.source or "the migration source"
            raise BrokenChain(
                "MissingMigration", f"version {step.version} has no migration files in {where}"
            )
        if migrations:
            _check_no_gap(step, available)
    return steps


def _walk_source(
    current: int | None, desired: int | None, versions: Sequence[int], *, down: bool
) -> list[Step]:
    ordered = sorted(versions)
    for needed, what in ((desired, "the desired version"), (current, "the database's version")):
        if needed is not None and needed not in ordered:
            raise BrokenChain(
                "MissingMigration",
                f"{what} {needed} is not in the migration source (its newest versions: "
                f"{', '.join(map(str, ordered[-5:])) or 'none'})",
            )
    if down:
        todo = [
            v
            for v in reversed(ordered)
            if (desired is None or v > desired) and current is not None and v <= current
        ]
        return [Step(v, "down", _below(ordered, v)) for v in todo]
    todo = [
        v
        for v in ordered
        if (current is None or v > current) and desired is not None and v <= desired
    ]
    return [Step(v, "up", _below(ordered, v)) for v in todo]


def _below(ordered: Sequence[int], version: int) -> int | None:
    lower = [v for v in ordered if v < version]
    return lower[-1] if lower else None


def _walk_links(
    current: int | None,
    desired: int | None,
    migrations: Sequence[DatabaseMigrationSpec],
    *,
    down: bool,
) -> list[Step]:
    links = {m.version: m for m in migrations}
    steps: list[Step] = []
    start, stop = (current, desired) if down else (desired, current)
    version, child = start, None
    while version != stop:
        if version is None or len(steps) > len(links):
            raise BrokenChain(
                "BrokenChain",
                f"the DatabaseMigrations' previous links from version {start} never reach "
                f"version {stop}",
            )
        link = links.get(version)
        if link is None:
            named = f" (the previous of version {child})" if child is not None else ""
            raise BrokenChain("MissingLink", f"no DatabaseMigration has version {version}{named}")
        if stop is not None and link.previous is not None and link.previous < stop:
            raise BrokenChain(
                "BrokenChain",
                f"DatabaseMigration {version} replaces {link.previous}, passing version {stop}",
            )
        step = Step(version, "down" if down else "up", link.previous, link.source)
        if down:
            steps.append(step)
        else:
            steps.insert(0, step)
        version, child = link.previous, version
    return steps


def _check_no_gap(step: Step, available: Sequence[int]) -> None:
    """A link ``previous -> version`` must not jump over files the runner would also run."""
    skipped = [
        v for v in available if (step.previous is None or v > step.previous) and v < step.version
    ]
    if skipped:
        raise BrokenChain(
            "ChainSkipsVersions",
            f"DatabaseMigration {step.version} replaces {step.previous}, but its source also has "
            f"version(s) {', '.join(map(str, skipped))} between them; add DatabaseMigrations "
            "for them or fix 'previous'",
        )


__all__ = [
    "AlembicReader",
    "BrokenChain",
    "GolangMigrateReader",
    "SqlQueryReader",
    "Step",
    "VersionReadError",
    "VersionReader",
    "newest",
    "plan_chain",
    "reader_for",
]
