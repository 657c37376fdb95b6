"""One function per ``metadb migrate`` command. The CLI only parses arguments and calls these.

Example::

    from metadb import migrate

    config = migrate.MigrateConfig(database="postgresql://app@db/metadb", source="migrations")
    report = migrate.up(config)
    print(report.version_after, [step.version for step in report.steps])
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from metadb.config import DEFAULT_DATABASE_URL, Settings
from metadb.db.database import DEFAULT_LOCK_TIMEOUT, Database
from metadb.db.urls import DatabaseURL
from metadb.errors import BaselineError, ConfigError
from metadb.migrate.guards import (
    DEFAULT_LOCK_RETRIES,
    DEFAULT_LOCK_RETRY_BACKOFF,
    DEFAULT_STATEMENT_LOCK_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    StatementGuards,
)
from metadb.migrate.reporter import Reporter
from metadb.migrate.runner import MigrationRunner, StepResult
from metadb.migrate.source import DIALECT_DIRS, PYTHON_FILE, SQL_FILE, load_source
from metadb.migrate.tables import HistoryRow, VersionState
from metadb.paging import DEFAULT_LIMIT, check_limit

if TYPE_CHECKING:
    from metadb.hints.settings import HintSettings
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
    #: golang-migrate's version table; None means the URL's x-migrations-table or the default.
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
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class RunReport:
    """What ``up``, ``down``, ``goto`` and ``resume`` did."""

    version_before: int | None
    version_after: int | None
    steps: list[StepResult]
    pending: int
    #: The version an existing ml-metadata database was adopted at, before any step ran.
    adopted_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "steps": [s.as_dict() for s in self.steps]}


@dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    state: str  # applied | pending | changed
    path: str
    checksum: str
    recorded_checksum: str | None


@dataclass(frozen=True)
class Status:
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
        return [m.version for m in self.migrations if m.state == "pending"]

    @property
    def changed(self) -> list[int]:
        return [m.version for m in self.migrations if m.state == "changed"]

    @property
    def needs_attention(self) -> bool:
        """Dirty, changed files, or missing files: what ``up`` would refuse."""
        return self.dirty or bool(self.changed) or bool(self.missing)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            pending=self.pending, changed=self.changed, needs_attention=self.needs_attention
        )
        return data


@dataclass(frozen=True)
class PlannedStatement:
    line: int
    sql: str
    #: The hints check's findings on this statement (metadb.hints.Finding).
    hints: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class PlannedStep:
    version: int
    name: str
    path: str
    transactional: bool
    statements: list[PlannedStatement] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    version: int | None
    steps: list[PlannedStep]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def _runner(config: MigrateConfig) -> Iterator[MigrationRunner]:
    db = Database.from_url(
        config.database, database_type=config.database_type, lock_timeout=config.lock_timeout
    )
    source = load_source(config.source, db.url.dialect)
    table = config.table or db.url.migrations_table or "schema_migrations"
    try:
        yield MigrationRunner(
            db, source, table=table, reporter=config.reporter, guards=config.guards
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
) -> RunReport:
    with runner.db.connect() as conn:
        after = runner.versions.read(conn)
    pending = len(runner.source.after(after.version))
    return RunReport(before.version, after.version, steps, pending, adopted_at)


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
    hints: bool = True,
    ignore_hints: Sequence[str] = (),
    hint_settings: HintSettings | None = None,
) -> RunReport:
    """Apply all pending migrations, or the next ``steps``.

    First the hints check (:mod:`metadb.hints`) looks at what would run; it refuses, running
    nothing, when it finds errors whose rule is not in ``ignore_hints``. ``hints=False`` skips it.

    Raises:
        HintsFailedError: the hints check found errors; nothing was run.
        DirtyDatabaseError, ChangedMigrationError, MissingMigrationError: needs attention first.
        MigrationFailedError: a statement failed (the message says what to do next).
        LockTimeoutError: another run held the lock past ``config.lock_timeout``.
        TableLockTimeoutError: a statement waited for a table lock past
            ``config.statement_lock_timeout`` on every attempt (clean on PostgreSQL and SQLite,
            resumable on MySQL).
        SourceError, DatabaseUnreachableError, AuthenticationError: nothing was run.
    """
    if hints:
        from metadb.hints import refuse_on_errors  # metadb.hints imports this module

        refuse_on_errors(config, steps=steps, ignore=ignore_hints, settings=hint_settings)
    with _runner(config) as runner:
        before = _state(runner)
        adopted = _adopt(runner, config)
        return _report(runner, before, runner.up(steps, allow_changed=allow_changed), adopted)


def down(config: MigrateConfig, steps: int | None = 1) -> RunReport:
    """Revert the newest ``steps`` applied migrations (all of them for None).

    Raises:
        IrreversibleMigrationError: a migration on the way has no down file.
        and the errors of :func:`up`.
    """
    with _runner(config) as runner:
        before = _state(runner)
        return _report(runner, before, runner.down(steps))


def goto(config: MigrateConfig, version: int, *, allow_changed: bool = False) -> RunReport:
    """Migrate up or down to ``version``.

    Raises:
        VersionNotFoundError: the source has no such version; and the errors of :func:`up`.
    """
    with _runner(config) as runner:
        before = _state(runner)
        adopted = _adopt(runner, config)
        return _report(runner, before, runner.goto(version, allow_changed=allow_changed), adopted)


def resume(config: MigrateConfig) -> RunReport:
    """Continue the migration that failed part-way, at its failed statement.

    Raises:
        NothingToResumeError: the database is not dirty or metadb has no record of the run.
        ChangedMigrationError: a statement that already ran was edited since.
    """
    with _runner(config) as runner:
        before = _state(runner)
        return _report(runner, before, [runner.resume()])


def force(config: MigrateConfig, version: int) -> VersionState:
    """Set the version and clear the dirty flag without running anything (manual repair)."""
    with _runner(config) as runner:
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
    with _runner(config) as runner:
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
    hints: bool = True,
    hint_settings: HintSettings | None = None,
) -> Plan:
    """The SQL that :func:`up` would run, without running it or taking the lock, each
    statement with the findings of the hints check (unless ``hints`` is false).

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
    if hints and planned:
        from metadb.hints import check_pending  # metadb.hints imports this module

        report = check_pending(config, settings=hint_settings, target=planned[-1].version)
        for step in planned:
            for statement in step.statements:
                statement.hints.extend(report.at(step.path, statement.line))
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
    "MigrationStatus",
    "Plan",
    "PlannedStatement",
    "PlannedStep",
    "RunReport",
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
