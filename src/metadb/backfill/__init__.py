"""Backfills: idempotent, resumable data migrations that run in keyset batches, and metadb's
built-in ones (the system annotations of pipeline runs).

Each function here is one ``metadb backfill`` command; see :mod:`metadb.backfill.commands`.
How a run proceeds, batch by batch, is in :mod:`metadb.backfill.runner`; how to write a backfill
in :mod:`metadb.backfill.definition`; docs/backfills.md has the whole story.
"""

from __future__ import annotations

from metadb.backfill.commands import (
    BackfillReport,
    BackgroundBackfills,
    Verification,
    backfill_status,
    list_backfills,
    run_backfills,
    start_pending_backfills_in_background,
    verify_backfills,
)
from metadb.backfill.definition import Backfill, Batch, key_range, keyset_range
from metadb.backfill.runner import (
    BackfillReporter,
    BackfillResult,
    BackfillRunner,
    BatchInfo,
    BatchSizing,
)
from metadb.backfill.state import BackfillState
from metadb.backfill.system_annotations import SYSTEM_BACKFILLS
from metadb.db.retry import RetryPolicy
from metadb.errors import BackfillFailedError, UnknownBackfillError

__all__ = [
    "SYSTEM_BACKFILLS",
    "Backfill",
    "BackfillFailedError",
    "BackfillReport",
    "BackfillReporter",
    "BackfillResult",
    "BackfillRunner",
    "BackfillState",
    "BackgroundBackfills",
    "Batch",
    "BatchInfo",
    "BatchSizing",
    "RetryPolicy",
    "UnknownBackfillError",
    "Verification",
    "backfill_status",
    "key_range",
    "keyset_range",
    "list_backfills",
    "run_backfills",
    "start_pending_backfills_in_background",
    "verify_backfills",
]
