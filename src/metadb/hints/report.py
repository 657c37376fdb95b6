"""What a hints check found: one :class:`Finding` per problem, gathered in a :class:`HintReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

#: What a data check says when it stopped at its time budget.
TIMED_OUT = "unknown (timed out)"


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one statement.

    ``severity`` is "error" when the statement will fail as written, "warning" when it will
    lock the table or be slow. ``evidence`` holds the numbers the rule looked at (estimated rows,
    writes per second, duplicate count, ...); ``safer`` says what to write instead.
    """

    rule_id: str
    severity: Severity
    path: str
    line: int
    statement: str
    table: str | None
    evidence: dict[str, Any]
    message: str
    safer: str

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SkippedFile:
    """A pending file the check could not read (a Python step: its SQL is only known when run)."""

    path: str
    reason: str


@dataclass
class HintReport:
    """Every finding of one check, in the order of the pending statements."""

    database: str
    dialect: str
    server_version: str
    version: int | None
    target: int | None
    findings: list[Finding] = field(default_factory=list)
    statements: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    duration_ms: int = 0

    @property
    def errors(self) -> list[Finding]:
        """The findings that mean the migration will fail as written."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def at(self, path: str, line: int) -> list[Finding]:
        """The findings of the statement at ``path``:``line``."""
        return [f for f in self.findings if f.path == path and f.line == line]

    def without(self, rule_ids: set[str] | frozenset[str]) -> list[Finding]:
        """The errors left once the rules in ``rule_ids`` are overridden."""
        return [f for f in self.errors if f.rule_id not in rule_ids]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = len(self.errors)
        data["warnings"] = len(self.warnings)
        return data
