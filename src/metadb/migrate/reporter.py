"""How a migration run tells its caller what it is doing (the CLI draws a progress bar)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from metadb.migrate.source import MigrationFile


class Reporter(Protocol):
    """Receives progress from the runner. Every method is called from the running thread."""

    def lock_wait(self, holder: str | None) -> None:
        """The migration lock is taken; called once before waiting for it."""

    def step_started(self, file: MigrationFile, statements: int) -> None:
        """A migration file is about to run."""

    def statement_done(self, file: MigrationFile, done: int, total: int) -> None:
        """``done`` of the file's ``total`` statements have run."""

    def step_finished(self, file: MigrationFile, duration_ms: int) -> None:
        """The file's migration committed."""


class NullReporter:
    """Reports nothing (the default for library calls and ``--json``)."""

    def lock_wait(self, holder: str | None) -> None:
        pass

    def step_started(self, file: MigrationFile, statements: int) -> None:
        pass

    def statement_done(self, file: MigrationFile, done: int, total: int) -> None:
        pass

    def step_finished(self, file: MigrationFile, duration_ms: int) -> None:
        pass
