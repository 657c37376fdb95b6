"""The polling loop that every server-side migration lock shares.

PostgreSQL's ``pg_try_advisory_lock`` and MySQL's ``GET_LOCK`` are both polled with a short wait,
so the waiting run can say who holds the lock and can stop at its own timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from metadb.db.dialect import OnWait
from metadb.errors import LockTimeoutError


def poll_lock(
    try_acquire: Callable[[], bool],
    holder: Callable[[], str | None],
    *,
    what: str,
    timeout: float,
    on_wait: OnWait,
    interval: float = 0.2,
) -> None:
    """Call ``try_acquire`` until it returns True or ``timeout`` seconds pass.

    Raises:
        LockTimeoutError: with the holder's description, once the time is up.
    """
    deadline = time.monotonic() + timeout
    told = False
    while not try_acquire():
        who = holder()
        if not told:
            on_wait(who)
            told = True
        if time.monotonic() >= deadline:
            raise LockTimeoutError(what=what, timeout=timeout, holder=who)
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 1.5, 1.0)
