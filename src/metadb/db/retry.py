"""How long to wait between tries of a transaction that lost a race to another writer.

Used by :class:`~metadb.store.session.StoreSession` for every store and run-store write and by
the backfill runner for each batch. Whether an error is such a loss is the dialect's call
(:meth:`~metadb.db.dialect.Dialect.is_retryable`: a deadlock, a serialization failure, a lock
wait that gave up).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a transaction that lost a race: up to ``attempts`` tries per transaction,
    each after a jittered, exponentially growing delay (so that the losers spread out)."""

    attempts: int = 12
    first_delay: float = 0.02
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to sleep after try number ``attempt`` (1 for the first) failed."""
        cap = min(self.max_delay, self.first_delay * 2 ** (attempt - 1))
        return random.uniform(cap / 2, cap)
