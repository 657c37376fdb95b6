"""The backfill engine's errors (they belong under MetadbError in :mod:`metadb.errors`' tree)::

MetadbError
├── ConfigError
│   └── UnknownBackfillError    an id that names no backfill (exit 2)
└── BackfillFailedError         a backfill stopped on an error; it resumes (exit 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from metadb.errors import ConfigError, MetadbError

if TYPE_CHECKING:
    from metadb.backfill.runner import BackfillResult


class UnknownBackfillError(ConfigError):
    """An id given to ``run`` or ``verify`` names no backfill."""

    code = "unknown_backfill"

    def __init__(self, unknown: Sequence[str], known: Sequence[str]) -> None:
        self.unknown = list(unknown)
        self.known = list(known)
        super().__init__(
            f"no backfill named {', '.join(map(repr, self.unknown))}; nothing was run. "
            f"Known: {', '.join(self.known) or 'none'} ('metadb backfill list' shows them)"
        )


class BackfillFailedError(MetadbError):
    """One or more backfills stopped on an error. The others ran; ``results`` has them all."""

    code = "backfill_failed"

    def __init__(self, results: Sequence[BackfillResult]) -> None:
        self.results = list(results)
        self.failed = [r for r in self.results if r.state == "failed"]
        lines = []
        for r in self.failed:
            at = "the start" if r.cursor is None else f"run id {r.cursor}"
            lines.append(
                f"backfill {r.id} failed after writing {r.rows_written} rows: {r.error}. "
                f"Rows written so far are kept; fix the cause and run 'metadb backfill run "
                f"{r.id}': it resumes after {at}"
            )
        super().__init__("\n".join(lines))
