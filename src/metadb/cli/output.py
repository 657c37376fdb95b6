"""Printing results and errors: Rich for people (stderr for progress), JSON for machines."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from metadb.cli.exitcodes import exit_code_for
from metadb.errors import MetadbError
from metadb.migrate.source import MigrationFile

T = TypeVar("T")

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class Output:
    """How one invocation prints: ``json`` for machines (quiet), else Rich for people."""

    json: bool = False
    debug: bool = False

    def run(self, action: Callable[[], T]) -> T:
        """Call ``action``; a MetadbError is printed (no traceback unless --debug) and ends
        the process with its documented exit code."""
        try:
            return action()
        except MetadbError as exc:
            if self.debug:
                traceback.print_exc()
            code = exit_code_for(exc)
            if self.json:
                self.emit_json({"error": {"code": exc.code, "message": str(exc), "exit": code}})
            else:
                stderr.print(f"[bold red]error:[/] {_escape(str(exc))}")
            raise typer.Exit(code) from None

    def emit_json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")

    def say(self, message: str) -> None:
        if not self.json:
            stdout.print(message)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


class RichReporter:
    """Shows a progress bar per migration file on stderr."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @contextmanager
    def active(self) -> Iterator[RichReporter]:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} statements"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        ) as progress:
            self._progress = progress
            try:
                yield self
            finally:
                self._progress = None

    def lock_wait(self, holder: str | None) -> None:
        who = holder or "another connection"
        stderr.print(f"waiting for the migration lock, held by {_escape(who)}")

    def step_started(self, file: MigrationFile, statements: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task(
                f"{file.version} {file.name} ({file.direction})", total=statements
            )

    def statement_done(self, file: MigrationFile, done: int, total: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done)

    def step_finished(self, file: MigrationFile, duration_ms: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total)
