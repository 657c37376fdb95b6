"""Check pending migrations against the live database: the library behind ``metadb hints``,
and the hints check that ``metadb migrate up`` and ``plan`` run (:func:`migrate_up`,
:func:`migrate_plan`). This module imports :mod:`metadb.migrate`, never the other way round.

Example::

    from metadb.hints import HintSettings, check_pending
    from metadb.migrate import MigrateConfig

    config = MigrateConfig(database="postgresql://app@db/app", source="migrations",
                           hint_settings=HintSettings(large_table_rows=100_000))
    for finding in check_pending(config).errors:
        print(finding.location, finding.rule_id, finding.message)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from metadb import migrate
from metadb.config import HintSettings
from metadb.db.database import Database
from metadb.db.dialect import dialect_for
from metadb.errors import ConfigError, HintsFailedError
from metadb.hints.facts import (
    DataCheck,
    LiveFacts,
    LockHolder,
    TableKey,
    TableSize,
    WriteRate,
    open_facts,
)
from metadb.hints.operations import Operation, parse_operations
from metadb.hints.report import Finding, HintReport, SkippedFile
from metadb.hints.rules import RULE_IDS, RULES, Rule
from metadb.migrate.bundled import current_version_table, version_table_name
from metadb.migrate.commands import MigrateConfig, MigrationReport, Plan, Preflight
from metadb.migrate.source import Migration, load_source

DataCheckFactory = Callable[[], DataCheck]
log = logging.getLogger(__name__)

#: Operations on a busy table whose lock queues its writes: their tables' writes are sampled.
_WRITE_SENSITIVE = frozenset({"create_index", "add_column", "add_constraint"})


@dataclass(frozen=True)
class PendingStatement:
    """One statement to check, with where it comes from."""

    path: str
    line: int
    sql: str
    transactional: bool


def check_pending(
    config: MigrateConfig,
    *,
    settings: HintSettings | None = None,
    target: int | None = None,
    rules: Sequence[Rule] = RULES,
) -> HintReport:
    """Check the migrations that moving to version ``target`` would run (all pending ones for
    None) against the live database and return every finding of ``rules``. A ``target``
    below the current version checks the down files that would run, newest first. Changes
    nothing and takes no migration lock. The thresholds are ``settings``, else
    ``config.hint_settings``.

    Raises:
        SourceError: the migration files are malformed.
        DatabaseUnreachableError, AuthenticationError: no connection.
        StatementError: a catalog query failed (for example for lack of privileges).
    """
    return _check(config, settings=settings, target=target, steps=None, rules=rules)


def _check(
    config: MigrateConfig,
    *,
    settings: HintSettings | None,
    target: int | None,
    steps: int | None,
    rules: Sequence[Rule],
) -> HintReport:
    """:func:`check_pending`, or with ``steps`` the first ``steps`` pending migrations (what
    ``up(config, steps)`` runs), on one connection that reads the version once."""
    settings = settings or config.hint_settings
    db = Database.from_url(
        config.database, database_type=config.database_type, lock_timeout=config.lock_timeout
    )
    try:
        source = load_source(config.source, db.url.dialect)
        table = version_table_name(db.url, config.table, bundled=config.source is None)
        with db.connect(autocommit=True) as conn:
            try:
                state = current_version_table(conn, source, table=table).read(conn)
                if target is not None and state.version is not None and target < state.version:
                    undone = [m for m in source.at_or_below(state.version) if m.version > target]
                    report = check_migrations(
                        conn, db, undone, settings=settings, rules=rules, direction="down"
                    )
                else:
                    pending = [
                        m
                        for m in source.after(state.version)
                        if target is None or m.version <= target
                    ]
                    if steps is not None:
                        pending = pending[:steps]
                        target = pending[-1].version if pending else state.version
                    report = check_migrations(conn, db, pending, settings=settings, rules=rules)
            except DBAPIError as exc:
                raise db.translate_statement_error(exc, doing="checking hints") from exc
        report.version, report.target = state.version, target
        return report
    finally:
        db.dispose()


def refuse_on_errors(
    config: MigrateConfig,
    *,
    steps: int | None = None,
    ignore: Iterable[str] = (),
    settings: HintSettings | None = None,
) -> HintReport:
    """Check what ``up(config, steps)`` would run; raise when an error finding is not in
    ``ignore``. The thresholds are ``settings``, else ``config.hint_settings``. As
    :func:`metadb.migrate.up`'s ``preflight`` (see :func:`preflight`) it stops ``up`` before
    anything runs.

    Raises:
        ConfigError: ``ignore`` names a rule that does not exist.
        HintsFailedError: error findings remain; it lists each, and nothing was changed.
    """
    ignored = frozenset(ignore)
    unknown = sorted(ignored - RULE_IDS)
    if unknown:
        raise ConfigError(
            f"--ignore-hint {', '.join(unknown)}: no such rule. "
            f"Rules: {', '.join(sorted(RULE_IDS))}"
        )
    # Only the rules that can find errors: warnings never stop ``up``, and the facts only they
    # need (the write-activity sample, a fixed wait) would delay every run.
    report = _check(
        config,
        settings=(settings or config.hint_settings).model_copy(update={"write_sample_seconds": 0}),
        target=None,
        steps=steps,
        rules=[rule for rule in RULES if rule.severity == "error"],
    )
    blocking = report.without(ignored)
    if blocking:
        raise HintsFailedError(blocking)
    return report


def preflight(*, ignore: Iterable[str] = ()) -> Preflight:
    """The hints check as :func:`metadb.migrate.up`'s ``preflight``: :func:`refuse_on_errors`
    with the rules in ``ignore`` overridden.

    Example::

        migrate.up(config, preflight=preflight(ignore=["unique-duplicates"]))
    """
    return partial(refuse_on_errors, ignore=tuple(ignore))


def migrate_up(
    config: MigrateConfig,
    steps: int | None = None,
    *,
    allow_changed: bool = False,
    hints: bool = True,
    ignore_hints: Iterable[str] = (),
) -> MigrationReport:
    """What ``metadb migrate up`` does: :func:`metadb.migrate.up` after the hints check, which
    refuses, running nothing, when it finds errors whose rule is not in ``ignore_hints``.
    ``hints=False`` skips the check.

    Raises:
        ConfigError: ``ignore_hints`` names a rule that does not exist.
        HintsFailedError: the hints check found errors; nothing was run.
        and the errors of :func:`metadb.migrate.up`.

    Example::

        report = migrate_up(MigrateConfig(database="sqlite:///app.db", source="migrations"))
    """
    return migrate.up(
        config,
        steps,
        allow_changed=allow_changed,
        preflight=preflight(ignore=ignore_hints) if hints else None,
    )


def migrate_plan(
    config: MigrateConfig,
    steps: int | None = None,
    *,
    allow_changed: bool = False,
    hints: bool = True,
) -> Plan:
    """What ``metadb migrate plan`` shows: :func:`metadb.migrate.plan` with the findings of
    the hints check under each statement (unless ``hints`` is false).

    Raises:
        the errors of :func:`metadb.migrate.plan` and of :func:`check_pending`.
    """
    planned = migrate.plan(config, steps, allow_changed=allow_changed)
    if not hints or not planned.steps:
        return planned
    report = check_pending(config, target=planned.steps[-1].version)
    return replace(
        planned,
        steps=[
            replace(
                step,
                statements=[
                    replace(statement, hints=list(report.at(step.path, statement.line)))
                    for statement in step.statements
                ],
            )
            for step in planned.steps
        ],
    )


def check_migrations(
    conn: Connection,
    db: Database,
    migrations: Sequence[Migration],
    *,
    settings: HintSettings,
    rules: Sequence[Rule] = RULES,
    direction: str = "up",
) -> HintReport:
    """Check the ``direction`` files of ``migrations``, in the given order, on ``conn`` (an
    autocommit connection). A migration without a down file is skipped (``down`` refuses it
    before it runs)."""
    start = time.monotonic()
    transactional_ddl = db.dialect.transactional_ddl
    statements: list[PendingStatement] = []
    skipped: list[SkippedFile] = []
    for migration in migrations:
        file = migration.up if direction == "up" else migration.down
        if file is None:
            continue
        if file.python:
            skipped.append(
                SkippedFile(str(file.path), "a Python step: its SQL is known only when it runs")
            )
            continue
        for statement in file.statements:
            statements.append(
                PendingStatement(
                    str(file.path),
                    statement.line,
                    statement.text,
                    file.transactional and transactional_ddl,
                )
            )
    facts = open_facts(conn, db.url.dialect)
    findings = check_statements(facts, statements, settings=settings, rules=rules)
    return HintReport(
        database=db.url.masked(),
        dialect=db.url.dialect,
        server_version=facts.server_version,
        version=None,
        target=None,
        findings=findings,
        statements=len(statements),
        skipped=skipped,
        duration_ms=int((time.monotonic() - start) * 1000),
    )


def check_statements(
    facts: LiveFacts,
    statements: Sequence[PendingStatement],
    *,
    settings: HintSettings,
    rules: Sequence[Rule] = RULES,
) -> list[Finding]:
    """Run every rule on every operation of ``statements``, in order."""
    parsed = [
        (statement, parse_operations(statement.sql, facts_dialect(facts)))
        for statement in statements
    ]
    checker = _Checker(facts, settings)
    checker.sample_writes(op for _, ops in parsed for op in ops)
    findings: list[Finding] = []
    for statement, operations in parsed:
        checker.transactional = statement.transactional
        for op in operations:
            for rule in rules:
                if op.kind not in rule.kinds:
                    continue
                draft = rule.check(op, checker)
                if draft is None:
                    continue
                findings.append(
                    Finding(
                        rule_id=rule.id,
                        severity=draft.severity or rule.severity,
                        path=statement.path,
                        line=statement.line,
                        statement=statement.sql,
                        table=op.qualified,
                        evidence=draft.evidence,
                        message=draft.message,
                        safer=draft.safer or rule.safer(op, checker),
                    )
                )
            checker.apply(op)
    return findings


def facts_dialect(facts: LiveFacts) -> str:
    """sqlglot's name of the facts' dialect."""
    return dialect_for(facts.name).sqlglot_name


class _Checker:
    """The :class:`~metadb.hints.rules.RuleContext` of one check: live facts, cached."""

    def __init__(self, facts: LiveFacts, settings: HintSettings) -> None:
        self.facts = facts
        self.settings = settings
        self.transactional = False
        self._new_tables: set[TableKey] = set()
        self._new_columns: set[tuple[TableKey, str]] = set()
        self._sizes: dict[TableKey, TableSize | None] = {}
        self._rates: dict[TableKey, WriteRate] = {}
        self._checks: dict[tuple[str, TableKey, tuple[str, ...], str | None], DataCheck] = {}
        self._holders: dict[TableKey, list[LockHolder]] = {}

    @staticmethod
    def key(op: Operation) -> TableKey:
        return (op.schema, op.table)

    def apply(self, op: Operation) -> None:
        """Remember what ``op`` creates, so later statements know it is new and empty."""
        if op.kind == "create_table":
            self._new_tables.add(self.key(op))
        elif op.kind == "add_column" and op.columns:
            self._new_columns.add((self.key(op), op.columns[0]))
        elif op.kind == "rename_table" and self.key(op) in self._new_tables and op.new_name:
            self._new_tables.add((op.schema, op.new_name))

    def is_new(self, op: Operation) -> bool:
        key = self.key(op)
        if key in self._new_tables:
            return True
        return bool(op.columns) and any((key, c) in self._new_columns for c in op.columns)

    def sample_writes(self, operations: Iterable[Operation]) -> None:
        tables = []
        for op in operations:
            key = self.key(op)
            if (
                op.kind in _WRITE_SENSITIVE
                and key not in tables
                and not self.is_new(op)
                and self.size(op) is not None
            ):
                tables.append(key)
            self.apply(op)
        self._new_tables.clear()
        self._new_columns.clear()
        try:
            self._rates = self.facts.write_rates(tables, seconds=self.settings.write_sample_seconds)
        except DBAPIError as exc:  # e.g. no PROCESS privilege for InnoDB's tables: unknown
            log.warning("cannot sample write activity: %s", _first_line(exc))
            self._rates = {}

    def size(self, op: Operation) -> TableSize | None:
        key = self.key(op)
        if key in self._new_tables:
            return None
        if key not in self._sizes:
            self._sizes[key] = self.facts.table_size(
                key, budget=self.settings.data_check_budget_seconds
            )
        return self._sizes[key]

    def large(self, op: Operation) -> TableSize | None:
        size = self.size(op)
        if size is not None and size.timed_out:
            return size  # SQLite could not count it within the budget: large enough
        if size is None or size.rows is None or size.rows < self.settings.large_table_rows:
            return None
        return size

    def busy(self, op: Operation) -> WriteRate | None:
        rate = self._rates.get(self.key(op))
        if rate is None or rate.per_second is None:
            return None
        return rate if rate.per_second >= self.settings.heavy_writes_per_second else None

    def _cached(self, kind: str, op: Operation, compute: DataCheckFactory) -> DataCheck:
        cache_key = (kind, self.key(op), op.columns, op.predicate)
        if cache_key not in self._checks:
            try:
                self._checks[cache_key] = compute()
            except DBAPIError:
                # A column or table this set creates or renames first: nothing to check yet.
                self._checks[cache_key] = DataCheck(0)
        return self._checks[cache_key]

    def has_rows(self, op: Operation) -> DataCheck:
        size = self.size(op)
        if size is not None and size.source == "count(*)" and not size.timed_out:
            return DataCheck(1 if size.rows else 0)
        budget = self.settings.data_check_budget_seconds
        return self._cached(
            "rows",
            op,
            lambda: self.facts.any_row(self.key(op), seconds=budget),
        )

    def nulls(self, op: Operation) -> DataCheck:
        budget = self.settings.data_check_budget_seconds
        return self._cached(
            "nulls", op, lambda: self.facts.null_count(self.key(op), op.columns[0], seconds=budget)
        )

    def non_nulls(self, op: Operation) -> DataCheck:
        budget = self.settings.data_check_budget_seconds
        return self._cached(
            "values", op, lambda: self.facts.any_value(self.key(op), op.columns[0], seconds=budget)
        )

    def duplicates(self, op: Operation) -> DataCheck:
        budget = self.settings.data_check_budget_seconds
        return self._cached(
            "duplicates",
            op,
            lambda: self.facts.duplicates(
                self.key(op), op.columns, predicate=op.predicate, seconds=budget
            ),
        )

    def column_type(self, op: Operation) -> str | None:
        return self.facts.column_type(self.key(op), op.columns[0]) if op.columns else None

    def holders(self, op: Operation) -> list[LockHolder]:
        key = self.key(op)
        if key not in self._holders:
            try:
                self._holders[key] = self.facts.lock_holders(
                    key, min_age=self.settings.long_transaction_seconds
                )
            except DBAPIError as exc:  # no privilege to see other sessions: none known
                log.warning("cannot list transactions on %s: %s", op.qualified, _first_line(exc))
                self._holders[key] = []
        return self._holders[key]


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig if exc.orig is not None else exc).strip().split("\n", 1)[0]


def rule_ids() -> list[str]:
    """The ids of every rule, sorted."""
    return sorted(RULE_IDS)


__all__ = [
    "PendingStatement",
    "check_migrations",
    "check_pending",
    "check_statements",
    "migrate_plan",
    "migrate_up",
    "preflight",
    "refuse_on_errors",
    "rule_ids",
]
