"""The wall clock, read one way everywhere: milliseconds since the epoch (MLMD's timestamps,
the runs and backfill tables) and aware UTC datetimes (history rows, operator statuses)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["now_ms", "utcnow"]


def now_ms() -> int:
    """Milliseconds since the Unix epoch, as MLMD's ``*_time_since_epoch`` columns hold them."""
    return int(time.time() * 1000)


def utcnow(*, whole_seconds: bool = False) -> datetime:
    """The current time as an aware UTC datetime; ``whole_seconds`` drops the microseconds
    (Kubernetes statuses show times to the second)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=0) if whole_seconds else now
