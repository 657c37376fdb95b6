"""The hints rules: each a small class with a stable id, a severity and a check.

A rule looks at one :class:`~metadb.hints.operations.Operation` with the live facts of its table
(through a :class:`RuleContext`) and returns a :class:`Draft` when it has something to say. The
severity is "error" when the statement will fail as written and "warning" when it will lock the
table or be slow; a data check that ran out of time turns an error into a warning saying
"unknown (timed out)".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from metadb.config import HintSettings
from metadb.hints.facts import DataCheck, LiveFacts, LockHolder, TableSize, WriteRate
from metadb.hints.operations import Operation
from metadb.hints.report import TIMED_OUT, Severity


@dataclass(frozen=True)
class Draft:
    """A rule's finding before the engine adds where the statement is."""

    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    safer: str = ""
    severity: Severity | None = None


class RuleContext(Protocol):
    """What a rule may ask about the statement and the table it touches."""

    facts: LiveFacts
    settings: HintSettings
    #: The statement's file runs in a transaction.
    transactional: bool

    def size(self, op: Operation) -> TableSize | None:
        """The table's size; None when it does not exist yet (or is created by this set)."""

    def large(self, op: Operation) -> TableSize | None:
        """The table's size when it has at least ``large_table_rows`` rows, else None."""

    def busy(self, op: Operation) -> WriteRate | None:
        """The table's write rate when it is at least ``heavy_writes_per_second``, else None."""

    def has_rows(self, op: Operation) -> DataCheck:
        """Whether the table holds any row (count 1 or 0), bounded by the budget."""

    def nulls(self, op: Operation) -> DataCheck:
        """How many rows hold NULL in the operation's column."""

    def non_nulls(self, op: Operation) -> DataCheck:
        """Whether any row holds a value in the operation's column (count 1 or 0)."""

    def duplicates(self, op: Operation) -> DataCheck:
        """How many rows break a unique key on the operation's columns, with an example."""

    def column_type(self, op: Operation) -> str | None:
        """The current type of the operation's column."""

    def holders(self, op: Operation) -> list[LockHolder]:
        """Long-running transactions holding locks on the table."""

    def is_new(self, op: Operation) -> bool:
        """The table or column is created by an earlier pending statement (so it is empty)."""


class Rule(ABC):
    """One check. Subclasses set the class attributes and implement :meth:`check`."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    #: One line for docs and ``--help``.
    title: ClassVar[str]
    #: The operation kinds the rule looks at.
    kinds: ClassVar[frozenset[str]]
    #: General advice, used where the dialect has none of its own.
    advice: ClassVar[str] = ""

    @abstractmethod
    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        """A draft finding for ``op``, or None."""

    def safer(self, op: Operation, ctx: RuleContext) -> str:
        return ctx.facts.safer(self.id, op) or self.advice


def _rows(size: TableSize) -> str:
    return "an unknown number of" if size.rows is None else f"about {size.rows:,}"


class BlockingIndexRule(Rule):
    id = "blocking-index"
    severity = "warning"
    title = "an index build that blocks writes, on a large table"
    kinds = frozenset({"create_index"})

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        reason = ctx.facts.index_blocks_writes(op)
        size = ctx.large(op) if reason else None
        if size is None or reason is None:
            return None
        return Draft(
            f"{op.qualified} has {_rows(size)} rows: {reason}, for as long as the build takes",
            size.evidence(),
        )


class BlockingIndexHeavyWritesRule(Rule):
    id = "blocking-index-heavy-writes"
    severity = "warning"
    title = "an index build that blocks writes, on a table with heavy writes"
    kinds = frozenset({"create_index"})
    advice = BlockingIndexRule.advice

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        reason = ctx.facts.index_blocks_writes(op)
        rate = ctx.busy(op) if reason else None
        if rate is None or reason is None or rate.per_second is None:
            return None
        return Draft(
            f"{op.qualified} takes {rate.per_second:.0f} writes/s: {reason}; they queue "
            "for the whole build",
            rate.evidence(),
        )

    def safer(self, op: Operation, ctx: RuleContext) -> str:
        return ctx.facts.safer("blocking-index", op) or self.advice


class AddColumnRewriteRule(Rule):
    id = "add-column-rewrite"
    severity = "warning"
    title = "adding a column rewrites a large table"
    kinds = frozenset({"add_column"})

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        reason = ctx.facts.add_column_rewrite(op)
        size = ctx.large(op) if reason else None
        if size is None or reason is None:
            return None
        return Draft(f"{op.qualified} has {_rows(size)} rows: {reason}", size.evidence())


class AddColumnHeavyWritesRule(Rule):
    id = "add-column-heavy-writes"
    severity = "warning"
    title = "adding a column to a table with heavy writes"
    kinds = frozenset({"add_column"})
    advice = (
        "run it at a quiet time with a short lock timeout and retries (the migration's "
        "runtime guards), so the lock never queues the application's writes for long"
    )

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        rate = ctx.busy(op)
        if rate is None or rate.per_second is None:
            return None
        rewrite = ctx.facts.add_column_rewrite(op)
        how = f"; worse, {rewrite}" if rewrite else ""
        return Draft(
            f"{op.qualified} takes {rate.per_second:.0f} writes/s: ADD COLUMN needs an "
            f"exclusive lock, which waits for in-flight transactions while new writes queue "
            f"behind it{how}",
            rate.evidence(),
        )


class UniqueDuplicatesRule(Rule):
    id = "unique-duplicates"
    severity = "error"
    title = "a unique index or constraint over values that hold duplicates"
    kinds = frozenset({"create_index"})
    advice = "remove or merge the duplicate rows first (in an earlier migration or a backfill)"

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        if not op.unique or not op.columns or op.using_index or ctx.is_new(op):
            return None
        check = ctx.duplicates(op)
        evidence = {
            "duplicate_rows": check.shown,
            "example": check.example,
            "check_seconds": round(check.seconds, 3),
        }
        key = ", ".join(op.columns)
        if check.timed_out:
            return Draft(
                f"could not tell whether {op.qualified} ({key}) holds duplicates: the check "
                f"stopped at its {ctx.settings.data_check_budget_seconds:g}s budget; "
                + ("it found at least one, " if check.example is not None else "")
                + "the statement fails if any exist",
                evidence,
                severity="error" if check.example is not None else "warning",
            )
        if not check.count:
            return None
        return Draft(
            f"{op.qualified} holds {check.count} row(s) that duplicate another on ({key}), "
            f"e.g. {check.example}: creating the unique index will fail",
            evidence,
        )


class ConstraintScanRule(Rule):
    id = "constraint-validation-scan"
    severity = "warning"
    title = "a foreign key or check constraint validated over a large table under a lock"
    kinds = frozenset({"add_constraint"})

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        reason = ctx.facts.constraint_scans(op)
        size = ctx.large(op) if reason else None
        if size is None or reason is None:
            return None
        return Draft(f"{op.qualified} has {_rows(size)} rows: {reason}", size.evidence())


class ConstraintScanHeavyWritesRule(Rule):
    id = "constraint-validation-heavy-writes"
    severity = "warning"
    title = "a foreign key or check constraint validated under a lock on a busy table"
    kinds = frozenset({"add_constraint"})

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        reason = ctx.facts.constraint_scans(op)
        rate = ctx.busy(op) if reason else None
        if rate is None or reason is None or rate.per_second is None:
            return None
        return Draft(
            f"{op.qualified} takes {rate.per_second:.0f} writes/s: {reason}", rate.evidence()
        )

    def safer(self, op: Operation, ctx: RuleContext) -> str:
        return ctx.facts.safer("constraint-validation-scan", op)


class NotNullWithNullsRule(Rule):
    id = "not-null-with-nulls"
    severity = "error"
    title = "SET NOT NULL (MODIFY ... NOT NULL) on a column that holds NULLs"
    kinds = frozenset({"set_not_null"})
    advice = "fill the NULLs first (a backfill or an UPDATE in an earlier migration)"

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        if ctx.is_new(op) or ctx.size(op) is None:
            return None
        check = ctx.nulls(op)
        evidence = {"null_rows": check.shown, "check_seconds": round(check.seconds, 3)}
        column = f"{op.qualified}.{op.columns[0]}"
        if check.timed_out:
            found = check.example is not None
            return Draft(
                f"could not count the NULLs in {column}: the check stopped at its "
                f"{ctx.settings.data_check_budget_seconds:g}s budget; the statement fails if "
                "any exist",
                evidence,
                severity="error" if found else "warning",
            )
        if not check.count:
            return None
        return Draft(
            f"{column} holds NULL in {check.count} row(s): making it NOT NULL will fail",
            evidence,
        )


class SetNotNullScanRule(Rule):
    id = "set-not-null-scan"
    severity = "warning"
    title = "SET NOT NULL scans a large table under a lock that blocks reads and writes"
    kinds = frozenset({"set_not_null"})

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        reason = ctx.facts.set_not_null_scans(op)
        size = ctx.large(op) if reason else None
        if size is None or reason is None:
            return None
        return Draft(f"{op.qualified} has {_rows(size)} rows: {reason}", size.evidence())


class NotNullWithoutDefaultRule(Rule):
    id = "not-null-without-default"
    severity = "error"
    title = "a NOT NULL column without a default added to a table that has rows"
    kinds = frozenset({"add_column"})
    advice = "add the column with a DEFAULT, or add it nullable, backfill it, then make it NOT NULL"

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        if not op.not_null or op.default is not None or op.generated or ctx.is_new(op):
            return None
        if ctx.size(op) is None:
            return None
        rows = ctx.has_rows(op)
        if rows.timed_out or not rows.count:
            return None
        size = ctx.size(op)
        evidence = size.evidence() if size else {}
        column = f"{op.qualified}.{op.columns[0]}"
        if ctx.facts.not_null_add_fails:
            return Draft(
                f"{op.qualified} has rows: adding NOT NULL column {column} without a DEFAULT fails",
                evidence,
            )
        return Draft(
            f"{op.qualified} has rows: NOT NULL column {column} without a DEFAULT gets the "
            "type's implicit default (0, '', ...) in every existing row",
            evidence,
            severity="warning",
        )


class TypeChangeRewriteRule(Rule):
    id = "type-change-rewrite"
    severity = "warning"
    title = "a column type change that rewrites a large table"
    kinds = frozenset({"change_type"})

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        if ctx.is_new(op):
            return None
        size = ctx.large(op)
        if size is None:
            return None
        current = ctx.column_type(op)
        reason = ctx.facts.type_change_rewrites(op, current)
        if reason is None:
            return None
        return Draft(
            f"{op.qualified} has {_rows(size)} rows: {reason}",
            {**size.evidence(), "current_type": current, "new_type": op.data_type},
        )


class DropWithDataRule(Rule):
    id = "drop-with-data"
    severity = "warning"
    title = "dropping a table or column that holds data"
    kinds = frozenset({"drop_table", "drop_column"})
    advice = (
        "stop the application using it first, keep a copy (or rename it away) and drop it in "
        "a later release; the down migration cannot bring the data back"
    )

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        if ctx.is_new(op):
            return None
        size = ctx.size(op)
        if size is None:
            return None
        check = ctx.has_rows(op) if op.kind == "drop_table" else ctx.non_nulls(op)
        if not check.timed_out and not check.count:
            return None
        what = (
            f"table {op.qualified}"
            if op.kind == "drop_table"
            else f"column {op.qualified}.{op.columns[0]}"
        )
        holds = "may hold data (" + TIMED_OUT + ")" if check.timed_out else "holds data"
        return Draft(f"{what} {holds}: dropping it loses it for good", size.evidence())


class RenameRule(Rule):
    id = "rename-breaks-app"
    severity = "warning"
    title = "renaming a table or column the running application uses"
    kinds = frozenset({"rename_table", "rename_column"})
    advice = (
        "expand and contract: add the new name (a new column kept in sync, or a view for a "
        "table), move the application to it, then remove the old name in a later migration"
    )

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        if ctx.is_new(op) or ctx.size(op) is None:
            return None
        what = (
            f"table {op.qualified}"
            if op.kind == "rename_table"
            else f"column {op.qualified}.{op.columns[0]}"
        )
        return Draft(
            f"renaming {what} to {op.new_name} breaks every running copy of the application "
            "that still uses the old name",
            {"new_name": op.new_name},
        )


class SqliteRebuildRule(Rule):
    id = "sqlite-table-rebuild"
    severity = "error"
    title = "an ALTER that SQLite cannot do in place (needs the table-rebuild procedure)"
    kinds = frozenset(
        {
            "set_not_null",
            "drop_not_null",
            "change_type",
            "add_constraint",
            "create_index",
            "add_column",
            "drop_column",
            "rename_column",
        }
    )

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        reason = ctx.facts.rebuild_needed(op)
        if reason is None and op.kind == "add_column":
            reason = ctx.facts.add_column_fails(op)
            if reason is not None and (ctx.is_new(op) or not ctx.has_rows(op).count):
                reason = None
        if reason is None:
            return None
        return Draft(f"{reason}: the statement fails", {"sqlite_version": ctx.facts.server_version})


class LongTransactionRule(Rule):
    id = "long-transaction"
    severity = "warning"
    title = "long-running transactions hold locks the migration would queue behind"
    kinds = frozenset(
        {
            "drop_table",
            "add_column",
            "drop_column",
            "set_not_null",
            "drop_not_null",
            "change_type",
            "create_index",
            "add_constraint",
            "rename_table",
            "rename_column",
        }
    )
    advice = (
        "wait for (or end) those transactions; the migration's lock timeout makes it give up "
        "instead of queueing the application behind it"
    )

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        if not ctx.facts.takes_blocking_lock(op) or ctx.is_new(op):
            return None
        holders = ctx.holders(op)
        if not holders:
            return None
        oldest = holders[0]
        return Draft(
            f"{len(holders)} transaction(s) hold locks on {op.qualified}, the oldest open "
            f"{oldest.age_seconds:.0f}s ({oldest.session}): the migration's lock waits for "
            "them, and every query on the table queues behind the migration",
            {"transactions": [h.as_dict() for h in holders]},
        )


class ConcurrentlyInTransactionRule(Rule):
    id = "concurrently-in-transaction"
    severity = "error"
    title = "CREATE INDEX CONCURRENTLY in a file that runs in a transaction"
    kinds = frozenset({"create_index"})
    advice = "put the statement in its own file whose first line is '-- metadb:no-transaction'"

    def check(self, op: Operation, ctx: RuleContext) -> Draft | None:
        if not op.concurrently or not ctx.transactional:
            return None
        return Draft(
            "PostgreSQL refuses CREATE INDEX CONCURRENTLY inside a transaction block, and this "
            "file runs in one",
            {},
        )


#: Every rule, in the order findings are listed for a statement.
RULES: tuple[Rule, ...] = (
    SqliteRebuildRule(),
    ConcurrentlyInTransactionRule(),
    UniqueDuplicatesRule(),
    NotNullWithNullsRule(),
    NotNullWithoutDefaultRule(),
    BlockingIndexRule(),
    BlockingIndexHeavyWritesRule(),
    AddColumnRewriteRule(),
    AddColumnHeavyWritesRule(),
    ConstraintScanRule(),
    ConstraintScanHeavyWritesRule(),
    SetNotNullScanRule(),
    TypeChangeRewriteRule(),
    DropWithDataRule(),
    RenameRule(),
    LongTransactionRule(),
)
RULE_IDS: frozenset[str] = frozenset(rule.id for rule in RULES)
