"""Runtime guards on migration statements: bounded lock waits, statement timeouts, retries.

A DDL statement that waits for a table lock makes everything behind it wait too: on PostgreSQL
an ``ALTER TABLE`` queued behind a long transaction blocks every later reader and writer of the
table until it gets its lock. The guards bound that wait (``lock_timeout`` on PostgreSQL,
``lock_wait_timeout`` and ``innodb_lock_wait_timeout`` on MySQL/MariaDB), optionally bound the
statement's run time, and retry a statement that gave up on a lock a few times with growing
pauses, so the application's traffic gets through in between. The SET statements themselves
live in the dialect classes (:meth:`metadb.db.dialect.Dialect.begin_guarded`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlalchemy.exc import DBAPIError
from sqlglot import exp

from metadb.config import (
    DEFAULT_LOCK_RETRIES,
    DEFAULT_LOCK_RETRY_BACKOFF,
    DEFAULT_STATEMENT_LOCK_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
)
from metadb.db.database import Database
from metadb.errors import ConfigError, MetadbError, TableLockTimeoutError
from metadb.migrate.source import MigrationFile

log = logging.getLogger(__name__)

#: The longest pause between two attempts, whatever the backoff grows to.
MAX_RETRY_PAUSE = 30.0


@dataclass(frozen=True)
class StatementGuards:
    """How long migration statements may wait for locks and run, and how often to retry.

    Example::

        guards = StatementGuards(lock_timeout=2, statement_timeout=600, lock_retries=5)
        MigrationRunner(db, source, guards=guards).up()
    """

    #: Seconds a statement may wait for a lock before the server cancels it; 0 waits forever.
    lock_timeout: float = DEFAULT_STATEMENT_LOCK_TIMEOUT
    #: Seconds a statement may run; 0 means no limit (MySQL cannot limit DDL: see the docs).
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
    #: How many times a statement (or a transactional step) is retried after a lock timeout.
    lock_retries: int = DEFAULT_LOCK_RETRIES
    #: Seconds before the first retry; each later pause doubles, up to ``MAX_RETRY_PAUSE``.
    retry_backoff: float = DEFAULT_LOCK_RETRY_BACKOFF

    def __post_init__(self) -> None:
        for name in ("lock_timeout", "statement_timeout", "retry_backoff"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more seconds, not {getattr(self, name)}")
        if self.lock_retries < 0:
            raise ConfigError(f"lock_retries must be 0 or more, not {self.lock_retries}")

    @property
    def attempts(self) -> int:
        """How many times a statement runs at most: once plus the retries."""
        return 1 + self.lock_retries

    def pause(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return float(min(self.retry_backoff * 2 ** (retry - 1), MAX_RETRY_PAUSE))


_WORD = re.compile(r"\b(?:TABLE|INTO|UPDATE|FROM|ON|JOIN)\s+([`\"\w.]+)", re.IGNORECASE)


def statement_tables(statement: str, *, dialect: str) -> list[str]:
    """The tables ``statement`` names, in order, for messages and lock-holder lookups.

    Parsed with sqlglot in ``dialect``; a statement sqlglot cannot parse falls back to the
    names after TABLE/INTO/UPDATE/FROM/ON/JOIN.
    """
    names: list[str] = []
    try:
        parsed = sqlglot.parse_one(statement, read=dialect)
        for table in parsed.find_all(exp.Table):
            if table.name:
                names.append(".".join(p for p in (table.db, table.name) if p))
    except sqlglot.errors.SqlglotError:
        names = [m.strip('`"') for m in _WORD.findall(statement)]
    return _unique(names)


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name, None)
    return list(seen)


class GuardedRun:
    """The guards of one migration run on one database, as the runner applies them: the
    dialect's SET options, the pause before a retry, and the lock holder for messages."""

    def __init__(self, db: Database, guards: StatementGuards) -> None:
        self.db = db
        self.guards = guards

    @property
    def options(self) -> dict[str, float]:
        """Keyword arguments of the dialect's ``begin_guarded`` and ``guarded_session``."""
        return {
            "lock_timeout": self.guards.lock_timeout,
            "statement_timeout": self.guards.statement_timeout,
        }

    def tables(self, file: MigrationFile, index: int) -> list[str]:
        """The tables statement ``index`` of ``file`` names (none for Python steps)."""
        if file.python:
            return []
        return statement_tables(file.statement_at(index)[0], dialect=self.db.dialect.sqlglot_name)

    def holder(self, file: MigrationFile, index: int) -> str | None:
        """Who holds the locks statement ``index`` waited for, asked on a fresh connection."""
        try:
            with self.db.connect() as conn:
                return self.db.dialect.lock_holders(conn, self.tables(file, index))
        except (DBAPIError, MetadbError) as exc:  # the lookup must not hide the real failure
            log.debug("could not look up the lock holder: %s", exc)
            return None

    def wait_to_retry(self, file: MigrationFile, index: int, retry: int) -> None:
        """Log the lock timeout of statement ``index`` and sleep before retry ``retry``."""
        pause = self.guards.pause(retry)
        log.warning(
            "%s statement %d waited %gs for a lock and gave up (%s); retry %d of %d in %gs",
            file.path,
            index + 1,
            self.guards.lock_timeout,
            self.holder(file, index) or "holder unknown",
            retry,
            self.guards.lock_retries,
            pause,
        )
        time.sleep(pause)

    def note(self, timeouts: int) -> str | None:
        """The history row's note about the lock timeouts a step met, if any."""
        if not timeouts:
            return None
        return (
            f"{timeouts} lock timeout(s) of {self.guards.lock_timeout:g}s "
            f"(up to {self.guards.lock_retries} retries per statement)"
        )

    def failure(
        self, file: MigrationFile, index: int, error: str, *, dirty: bool, now: int | None
    ) -> TableLockTimeoutError:
        """The error of statement ``index`` that timed out on every attempt."""
        text, line = file.statement_at(index)
        log.error(
            "%s statement %d gave up waiting for a lock %d time(s): %s",
            file.path,
            index + 1,
            self.guards.attempts,
            error,
        )
        return TableLockTimeoutError(
            tables=self.tables(file, index),
            holder=self.holder(file, index),
            attempts=self.guards.attempts,
            lock_timeout=self.guards.lock_timeout,
            path=str(file.path),
            version=file.version,
            direction=file.direction,
            statement_index=index,
            statements_total=file.statement_count,
            line=line,
            statement=text,
            server_error=error,
            dirty=dirty,
            version_now=now,
        )
