"""One function per ``metadb migrate`` command. The CLI only parses arguments and calls these.

Example::

    from metadb import migrate

    config = migrate.MigrateConfig(database="postgresql://app@db/metadb", source="migrations")
    report = migrate.up(config)
    print(report.version_after, [step.version for step in report.steps])

This package never imports :mod:`metadb.hints` (which imports this one): the hints check runs
before ``up`` through its ``preflight`` argument, and decorates a :class:`Plan` one layer up
(:func:`metadb.hints.migrate_up`, :func:`metadb.hints.migrate_plan`, which ``metadb migrate up``
and ``metadb migrate plan`` call).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError

from metadb.config import (
    DEFAULT_DATABASE_URL,
    DEFAULT_LOCK_RETRIES,
    DEFAULT_LOCK_RETRY_BACKOFF,
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_STATEMENT_LOCK_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    HintSettings,
    Settings,
)
from metadb.db.database import Database
from metadb.db.urls import DatabaseURL
from metadb.errors import BaselineError, BelowAdoptedBaselineError, ConfigError
from metadb.migrate.bundled import (
    find_legacy_tables,
    settle_legacy_tables,
    version_table_name,
)
from metadb.migrate.guards import StatementGuards, statement_tables
from metadb.migrate.reporter import NullReporter, Reporter
from metadb.migrate.runner import MigrationRunner, StepResult
from metadb.migrate.source import DIALECT_DIRS, PYTHON_FILE, SQL_FILE, MigrationFile, load_source
from metadb.migrate.tables import HistoryRow, HistoryTable, VersionState
from metadb.paging import DEFAULT_LIMIT, check_limit
from metadb.schema import MLMD_SCHEMA_VERSION, existing_schema_version

log = logging.getLogger(__name__)
ADOPTION_NOTE = f"adopted a database created by ml-metadata (MLMD schema {MLMD_SCHEMA_VERSION})"


@dataclass(frozen=True)
class MigrateConfig:
    """Where to migrate and from what. Building one does no I/O."""

    database: str | DatabaseURL = DEFAULT_DATABASE_URL
    database_type: str | None = None
    #: Directory of migrations; None means metadb's bundled schema.
    source: str | Path | None = None
    #: golang-migrate's version table; None means the URL's x-migrations-table, else
    #: metadb_schema_migrations for the bundled schema and schema_migrations for a source
    #: (:func:`metadb.migrate.bundled.version_table_name`).
    table: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    reporter: Reporter | None = None
    #: Runtime guards on the migration's statements (see :mod:`metadb.migrate.guards`):
    #: seconds a statement may wait for a table lock (0: forever) and run (0: no limit), and
    #: retries after a lock timeout, the first after ``lock_retry_backoff`` seconds.
    statement_lock_timeout: float = DEFAULT_STATEMENT_LOCK_TIMEOUT
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
    lock_retries: int = DEFAULT_LOCK_RETRIES
    lock_retry_backoff: float = DEFAULT_LOCK_RETRY_BACKOFF
    #: Thresholds of the hints check that :mod:`metadb.hints` runs with this configuration.
    hint_settings: HintSettings = field(default_factory=HintSettings)

    @property
    def guards(self) -> StatementGuards:
        """The runtime guards these settings describe.

        Raises:
            ConfigError: a negative timeout or retry count.
        """
        return StatementGuards(
            lock_timeout=self.statement_lock_timeout,
            statement_timeout=self.statement_timeout,
            lock_retries=self.lock_retries,
            retry_backoff=self.lock_retry_backoff,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> MigrateConfig:
        """Defaults from :class:`metadb.config.Settings`; ``None`` overrides are ignored."""
        base = cls(
            database=settings.database_url,
            database_type=settings.database_type,
            table=settings.migrations_table,
            lock_timeout=settings.lock_timeout,
            statement_lock_timeout=settings.statement_lock_timeout,
            statement_timeout=settings.statement_timeout,
            lock_retries=settings.lock_retries,
            lock_retry_backoff=settings.lock_retry_backoff,
            hint_settings=HintSettings.from_settings(settings),
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


class Preflight(Protocol):
    """A check :func:`up` runs before it takes the lock or changes anything, with the
    configuration and the ``steps`` it was given; it refuses by raising. The hints check is one
    (:func:`metadb.hints.refuse_on_errors`)."""

    def __call__(self, config: MigrateConfig, *, steps: int | None) -> object: ...


class StatementHint(Protocol):
    """What :attr:`PlannedStatement.hints` holds: a finding of a check on the statement
    (:class:`metadb.hints.Finding`), declared here so this package needs no hints import."""

    @property
    def rule_id(self) -> str: ...

    @property
    def severity(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def evidence(self) -> dict[str, Any]: ...

    @property
    def safer(self) -> str: ...

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        ...


@dataclass(frozen=True)
class MigrationReport:
    """What ``up``, ``down``, ``goto`` and ``resume`` did."""

    version_before: int | None
    version_after: int | None
    steps: list[StepResult]
    pending: int
    #: The version an existing ml-metadata database was adopted at, before any step ran.
    adopted_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--json``)."""
        return {**asdict(self), "steps": [s.as_dict() for s in self.steps]}


@dataclass(frozen=True)
class MigrationStatus:
    """One migration of the source and its state in the database."""

    version: int
    name: str
    state: str  # applied | pending | changed
    path: str
    checksum: str
    recorded_checksum: str | None


@dataclass(frozen=True)
class Status:
    """What :func:`status` found: the version, the dirty flag and every migration's state."""

    database: str
    source: str
    version: int | None
    dirty: bool
    migrations: list[MigrationStatus]
    missing: list[int]
    problem: str | None = None
    #: For an unversioned database that ml-metadata created: the version ``up`` adopts it at.
    adoptable_at: int | None = None

    @property
    def pending(self) -> list[int]:
        """The versions not yet applied."""
        return [m.version for m in self.migrations if m.state == "pending"]

    @property
    def changed(self) -> list[int]:
        """The applied versions whose file changed since."""
        return [m.version for m in self.migrations if m.state == "changed"]

    @property
    def needs_attention(self) -> bool:
        """Dirty, changed files, or missing files: what ``up`` would refuse."""
        return self.dirty or bool(self.changed) or bool(self.missing)

    def as_dict(self) -> dict[str, Any]:
        """The status as JSON-ready data (``--json``)."""
        data = asdict(self)
        data.update(
            pending=self.pending, changed=self.changed, needs_attention=self.needs_attention
        )
        return data


@dataclass(frozen=True)
class PlannedStatement:
    """One statement :func:`up` would run, at ``line`` of its file."""

    line: int
    sql: str
    #: The findings of a check on this statement (:func:`metadb.hints.migrate_plan` adds them).
    hints: list[StatementHint] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The statement and its hints as JSON-ready data."""
        return {"line": self.line, "sql": self.sql, "hints": [h.as_dict() for h in self.hints]}


@dataclass(frozen=True)
class PlannedStep:
    """One migration file :func:`up` would run, statement by statement."""

    version: int
    name: str
    path: str
    transactional: bool
    statements: list[PlannedStatement] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The step as JSON-ready data."""
        return {
            "version": self.version,
            "name": self.name,
            "path": self.path,
            "transactional": self.transactional,
            "statements": [s.as_dict() for s in self.statements],
        }


@dataclass(frozen=True)
class Plan:
    """What :func:`plan` found: the database's version and the steps ``up`` would run."""

    version: int | None
    steps: list[PlannedStep]

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (``--json``)."""
        return {"version": self.version, "steps": [s.as_dict() for s in self.steps]}


@contextmanager
def _runner(config: MigrateConfig, *, settle: bool = False) -> Iterator[MigrationRunner]:
    """The runner of ``config``. With ``settle`` (commands that change the schema) first move
    the bundled version out of an earlier metadb's schema_migrations (:mod:`.bundled`)."""
    db = Database.from_url(
        config.database, database_type=config.database_type, lock_timeout=config.lock_timeout
    )
    source = load_source(config.source, db.url.dialect)
    table = version_table_name(db.url, config.table, bundled=config.source is None)
    try:
        if settle:
            reporter = config.reporter or NullReporter()
            settle_legacy_tables(db, source, table=table, on_wait=reporter.lock_wait)
        with db.connect() as conn:
            legacy = find_legacy_tables(conn, source, table=table)
        yield MigrationRunner(
            db, source, table=table, reporter=config.reporter, guards=config.guards, legacy=legacy
        )
    except DBAPIError as exc:
        # Statements metadb issues itself (version and history tables) failing.
        raise db.translate_statement_error(exc, doing="reading or writing the version") from exc
    finally:
        db.dispose()


def _report(
    runner: MigrationRunner,
    before: VersionState,
    steps: list[StepResult],
    adopted_at: int | None = None,
) -> MigrationReport:
    with runner.db.connect() as conn:
        after = runner.versions.read(conn)
    pending = len(runner.source.after(after.version))
    return MigrationReport(before.version, after.version, steps, pending, adopted_at)


def _adoptable(runner: MigrationRunner, config: MigrateConfig) -> int | None:
    """The version at which the bundled schema adopts this unversioned database, if any."""
    if config.source is not None:
        return None  # only metadb's own schema knows what an existing database holds
    with runner.db.connect() as conn:
        state = runner.versions.read(conn)
        if state.version is not None or state.dirty:
            return None
        return existing_schema_version(conn)


def _adopt(runner: MigrationRunner, config: MigrateConfig) -> int | None:
    version = _adoptable(runner, config)
    if version is None:
        return None
    log.warning("the database holds ml-metadata's tables: adopting it at version %s", version)
    runner.baseline(version, note=ADOPTION_NOTE, if_unversioned=True)
    return version


def _state(runner: MigrationRunner) -> VersionState:
    with runner.db.connect() as conn:
        return runner.versions.read(conn)


def up(
    config: MigrateConfig,
    steps: int | None = None,
    *,
    allow_changed: bool = False,
    preflight: Preflight | None = None,
) -> MigrationReport:
    """Apply all pending migrations, or the next ``steps``.

    First ``preflight`` (if given) is called with ``config`` and ``steps``; when it raises,
    nothing was run. ``metadb migrate up`` passes the hints check
    (:func:`metadb.hints.migrate_up`).

    Raises:
        whatever ``preflight`` raises (HintsFailedError for the hints check); nothing was run.
        DirtyDatabaseError, ChangedMigrationError, MissingMigrationError: needs attention first.
        MigrationFailedError: a statement failed (the message says what to do next).
        LockTimeoutError: another run held the lock past ``config.lock_timeout``.
        TableLockTimeoutError: a statement waited for a table lock past
            ``config.statement_lock_timeout`` on every attempt (clean on PostgreSQL and SQLite,
            resumable on MySQL).
        SourceError, DatabaseUnreachableError, AuthenticationError: nothing was run.
    """
    if preflight is not None:
        preflight(config, steps=steps)
    with _runner(config, settle=True) as runner:
        before = _state(runner)
        adopted = _adopt(runner, config)
        return _report(runner, before, runner.up(steps, allow_changed=allow_changed), adopted)


def down(config: MigrateConfig, steps: int | None = 1, *, force: bool = False) -> MigrationReport:
    """Revert the newest ``steps`` applied migrations (all of them for None).

    A database that metadb adopted from ml-metadata (see :func:`up`) is not taken below the
    version it was adopted at unless ``force``: that would drop ml-metadata's tables and data.

    Raises:
        BelowAdoptedBaselineError: the steps would go below the adopted version, without
            ``force``; nothing was changed.
        IrreversibleMigrationError: a migration on the way has no down file.
        and the errors of :func:`up`.
    """
    with _runner(config, settle=True) as runner:
        before = _state(runner)
        reverted = runner.source.at_or_below(before.version)
        if steps is not None:
            reverted = reverted[:steps]
        if not force:
            _refuse_below_adopted(runner, [m.version for m in reverted])
        return _report(runner, before, runner.down(steps))


def goto(
    config: MigrateConfig, version: int, *, allow_changed: bool = False, force: bool = False
) -> MigrationReport:
    """Migrate up or down to ``version``.

    Raises:
        BelowAdoptedBaselineError: ``version`` is below the version an ml-metadata database
            was adopted at, without ``force`` (see :func:`down`).
        VersionNotFoundError: the source has no such version; and the errors of :func:`up`.
    """
    with _runner(config, settle=True) as runner:
        before = _state(runner)
        if not force:
            reverted = runner.source.at_or_below(before.version)
            _refuse_below_adopted(runner, [m.version for m in reverted if m.version > version])
        adopted = _adopt(runner, config)
        return _report(runner, before, runner.goto(version, allow_changed=allow_changed), adopted)


def adopted_baseline(runner: MigrationRunner) -> int | None:
    """The version at which metadb adopted a database that ml-metadata created, while the
    adopted schema is still there (no later successful down step reverted it); else None."""
    with runner.db.connect() as conn:
        rows = runner.history.rows(conn)
    reverted: set[int] = set()
    for row in rows:  # newest first
        if row.status != HistoryTable.SUCCEEDED:
            continue
        if row.direction == "down":
            reverted.add(row.version)
        elif row.direction == "baseline" and row.note == ADOPTION_NOTE:
            return None if any(v <= row.version for v in reverted) else row.version
    return None


def _refuse_below_adopted(runner: MigrationRunner, versions: Sequence[int]) -> None:
    """Raise when reverting ``versions`` would undo the adopted ml-metadata schema."""
    baseline = adopted_baseline(runner)
    if baseline is None or not any(v <= baseline for v in versions):
        return
    below = sorted((v for v in versions if v <= baseline), reverse=True)
    tables: list[str] = []
    for version in below:
        migration = runner.source.get(version)
        if migration is not None and migration.down is not None:
            tables.extend(_dropped_tables(runner, migration.down))
    remaining = [v for v in runner.source.versions if v < min(versions)]
    raise BelowAdoptedBaselineError(
        baseline=baseline,
        target=remaining[-1] if remaining else None,
        versions=sorted(versions, reverse=True),
        tables=tables,
    )


def _dropped_tables(runner: MigrationRunner, file: MigrationFile) -> list[str]:
    dialect = runner.db.dialect.sqlglot_name
    return [
        table
        for index in range(file.statement_count)
        if (text := file.statement_at(index)[0]).lstrip().upper().startswith("DROP TABLE")
        for table in statement_tables(text, dialect=dialect)
    ]


def resume(config: MigrateConfig) -> MigrationReport:
    """Continue the migration that failed part-way, at its failed statement.

    Raises:
        NothingToResumeError: the database is not dirty or metadb has no record of the run.
        ChangedMigrationError: a statement that already ran was edited since.
    """
    with _runner(config, settle=True) as runner:
        before = _state(runner)
        return _report(runner, before, [runner.resume()])


def force(config: MigrateConfig, version: int) -> VersionState:
    """Set the version and clear the dirty flag without running anything (manual repair)."""
    with _runner(config, settle=True) as runner:
        return runner.force(version)


def baseline(config: MigrateConfig, version: int | None = None) -> VersionState:
    """Record ``version`` as applied, running nothing, for a database whose schema was created
    without metadb. Without ``version``, metadb's bundled schema detects it (a database that
    ml-metadata created is at version 1). ``up`` does this by itself for the bundled schema.

    Raises:
        BaselineError: the database already has a version.
        UnsupportedSchemaError: ml-metadata's tables are at another MLMD schema version.
        ConfigError: no version given and none detected.
    """
    with _runner(config, settle=True) as runner:
        note = "baselined by hand"
        if version is None:
            version = _adoptable(runner, config)
            note = ADOPTION_NOTE
            if version is None:
                state = _state(runner)
                if state.version is not None:
                    raise BaselineError(state.version, state.dirty)
                raise ConfigError(
                    "nothing to detect: the database holds no ml-metadata tables. Give the "
                    "version its schema matches: 'metadb migrate baseline VERSION'"
                )
        runner.baseline(version, note=note)
        return _state(runner)


def version(config: MigrateConfig) -> VersionState:
    """The database's version and dirty flag (``VersionState(None, False)`` when unmigrated)."""
    with _runner(config) as runner:
        return _state(runner)


def history(config: MigrateConfig, *, limit: int = DEFAULT_LIMIT) -> list[HistoryRow]:
    """The newest ``limit`` rows of the migration history (the page policy of
    :mod:`metadb.paging`: 20 by default, at most 1000; InvalidArgumentError otherwise)."""
    limit = check_limit(limit)
    with _runner(config) as runner, runner.db.connect() as conn:
        return runner.history.rows(conn, limit=limit)


def status(config: MigrateConfig) -> Status:
    """Applied, pending, changed and missing migrations, and the dirty state. Changes nothing."""
    with _runner(config) as runner:
        with runner.db.connect() as conn:
            state = runner.versions.read(conn)
            recorded = runner.history.applied_checksums(conn)
            problem = str(runner.dirty_error(conn, state)) if state.dirty else None
        adoptable = _adoptable(runner, config)
    if adoptable is not None:
        problem = (
            f"the database was created by ml-metadata (MLMD schema {MLMD_SCHEMA_VERSION}); "
            f"'metadb migrate up' adopts it at version {adoptable} without re-running DDL"
        )
    applied_versions = {m.version for m in runner.source.at_or_below(state.version)}
    changed = {v for v, _ in runner.changed_files(state, recorded)}
    rows = []
    for m in runner.source:
        state_name = "pending"
        if m.version in applied_versions:
            state_name = "changed" if m.version in changed else "applied"
        rows.append(
            MigrationStatus(
                m.version,
                m.name,
                state_name,
                str(m.up.path),
                m.up.checksum,
                recorded.get(m.version),
            )
        )
    missing = sorted(
        v
        for v in set(recorded) | ({state.version} if state.version is not None else set())
        if runner.source.get(v) is None and (state.version is not None and v <= state.version)
    )
    return Status(
        runner.db.url.masked(),
        runner.source.location,
        state.version,
        state.dirty,
        rows,
        missing,
        problem,
        adoptable,
    )


def plan(
    config: MigrateConfig,
    steps: int | None = None,
    *,
    allow_changed: bool = False,
) -> Plan:
    """The SQL that :func:`up` would run, without running it or taking the lock.
    :func:`metadb.hints.migrate_plan` adds the hints check's findings to each statement.

    Raises:
        DirtyDatabaseError, ChangedMigrationError, MissingMigrationError: as :func:`up` would.
    """
    with _runner(config) as runner:
        state = runner.check_applied(allow_changed=allow_changed)
        pending = runner.source.after(state.version)
        if steps is not None:
            pending = pending[:steps]
        planned = []
        for m in pending:
            statements = [
                PlannedStatement(line=m.up.statement_at(i)[1], sql=m.up.statement_at(i)[0])
                for i in range(m.up.statement_count)
            ]
            transactional = m.up.transactional and runner.db.dialect.transactional_ddl
            planned.append(
                PlannedStep(m.version, m.name, str(m.up.path), transactional, statements)
            )
    return Plan(state.version, planned)


_SLUG = re.compile(r"[^a-z0-9]+")


def create(
    source: str | Path, name: str, *, timestamp: bool = False, python: bool = False
) -> list[Path]:
    """Write the files of a new migration: up and down SQL files (or one Python file) in each
    dialect directory of ``source`` (or in ``source`` itself when it has none).

    The version is the next sequence number, padded like the existing files (default 6 digits),
    or the UTC time as YYYYMMDDHHMMSS with ``timestamp``.

    Raises:
        ConfigError: the name has no letters or digits, or a file would be overwritten.
    """
    slug = _SLUG.sub("_", name.lower()).strip("_")
    if not slug:
        raise ConfigError(f"migration name {name!r} has no letters or digits")
    root = Path(source)
    directories = [root / d for d in DIALECT_DIRS if (root / d).is_dir()] or [root]
    if timestamp:
        version = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    else:
        digits = [
            match.group(1)
            for d in directories
            if d.is_dir()
            for p in d.iterdir()
            if (match := SQL_FILE.match(p.name) or PYTHON_FILE.match(p.name))
        ]
        width = max((len(d) for d in digits), default=6)
        version = str(max((int(d) for d in digits), default=0) + 1).zfill(width)
    stem = f"{version}_{slug}"
    targets: list[tuple[Path, str]] = []
    for directory in directories:
        if python:
            targets.append((directory / f"{stem}.py", _PYTHON_TEMPLATE.format(name=name)))
        else:
            for direction in ("up", "down"):
                header = f"-- {name} ({direction}, {directory.name})\n"
                targets.append((directory / f"{stem}.{direction}.sql", header))
    for path, _ in targets:
        if path.exists():
            raise ConfigError(f"{path} already exists; nothing was written")
    root.mkdir(parents=True, exist_ok=True)
    for path, body in targets:
        path.write_text(body, encoding="utf-8")
    return [path for path, _ in targets]


_PYTHON_TEMPLATE = '''"""{name}"""

from sqlalchemy import Connection, text


def up(connection: Connection) -> None:
    connection.execute(text("SELECT 1"))


def down(connection: Connection) -> None:
    connection.execute(text("SELECT 1"))
'''

__all__ = [
    "MigrateConfig",
    "MigrationReport",
    "MigrationStatus",
    "Plan",
    "PlannedStatement",
    "PlannedStep",
    "Preflight",
    "StatementHint",
    "Status",
    "baseline",
    "create",
    "down",
    "force",
    "goto",
    "history",
    "plan",
    "resume",
    "status",
    "up",
    "version",
]
