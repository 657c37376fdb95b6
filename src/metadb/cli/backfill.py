"""``metadb backfill ...``: each command calls the function of the same name in metadb.backfill.

Exit codes (:mod:`metadb.cli.exitcodes`): ``run`` 1 when a backfill failed; ``status`` 3 when
one is failed; ``verify`` 3 when rows are missing; 2 for an unknown id; 1 when the database
cannot be reached or is not migrated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from metadb import backfill
from metadb.backfill.runner import BackfillResult
from metadb.cli.exitcodes import FAILED, NEEDS_ATTENTION
from metadb.cli.options import Database as DatabaseOption
from metadb.cli.options import DatabaseType, Json
from metadb.cli.output import Output, stderr, stdout
from metadb.config import load_settings
from metadb.db.database import Database
from metadb.errors import BackfillFailedError

app = typer.Typer(
    help="Resumable data migrations in batches (metadb's own: the system annotations of runs).",
    no_args_is_help=True,
)

Ids = Annotated[list[str] | None, typer.Argument(help="Backfill ids [default: all].")]


def _output(ctx: typer.Context, json: bool) -> Output:
    return Output(json=json, debug=bool(ctx.obj and ctx.obj.get("debug")))


def _database(database: str | None, database_type: str | None) -> Database:
    settings = load_settings()
    return Database.from_url(
        database or settings.database_url,
        database_type=database_type or settings.database_type,
        lock_timeout=settings.lock_timeout,
    )


class RateColumn(ProgressColumn):
    """Rows per second, averaged by Rich over the last batches."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:,.0f} rows/s")


class RichBackfillReporter:
    """A progress bar per backfill on stderr: rows written of rows expected, rate and ETA."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._done: dict[str, int] = {}

    def started(self, definition: backfill.Backfill, *, done: int, total: int) -> None:
        self._done[definition.id] = done
        self._tasks[definition.id] = self._progress.add_task(
            definition.id, total=max(total, 1), completed=done
        )

    def progress(self, definition: backfill.Backfill, *, done: int, total: int) -> None:
        self._done[definition.id] = done
        task = self._tasks.get(definition.id)
        if task is not None:
            self._progress.update(task, completed=done, total=max(total, 1))

    def finished(self, definition: backfill.Backfill, result: BackfillResult) -> None:
        task = self._tasks.get(definition.id)
        if task is not None and result.state == "done":  # the estimate may have been high
            done = self._done[definition.id]
            self._progress.update(task, completed=done, total=max(done, 1))


@contextmanager
def _progress_bars(json: bool) -> Iterator[RichBackfillReporter | None]:
    if json:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} rows"),
        RateColumn(),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        yield RichBackfillReporter(progress)


@app.command("list")
def list_(ctx: typer.Context, json: Json = False) -> None:
    """List the backfills metadb knows."""
    out = _output(ctx, json)
    definitions = backfill.list_backfills()
    if out.json:
        out.emit_json([{"id": b.id, "description": b.description} for b in definitions])
        return
    for b in definitions:
        stdout.print(f"[bold]{b.id}[/]  {b.description}")


@app.command()
def run(
    ctx: typer.Context,
    ids: Ids = None,
    target_seconds: Annotated[
        float, typer.Option("--target-seconds", help="Aim of each batch's duration.", min=0.01)
    ] = 0.5,
    database: DatabaseOption = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Run backfills: the ids given (again from the start if done and rows are missing), or
    every one not done. Each resumes at its stored cursor. Exit 1 if one failed."""
    out = _output(ctx, json)
    sizing = backfill.BatchSizing(target_seconds=target_seconds)

    def action() -> tuple[list[BackfillResult], BackfillFailedError | None]:
        db = _database(database, database_type)
        try:
            with _progress_bars(json) as reporter:
                report = backfill.run_backfills(db, ids, sizing=sizing, reporter=reporter)
            return report.results, None
        except BackfillFailedError as exc:  # printed with the results, below
            return exc.results, exc
        finally:
            db.dispose()

    results, failure = out.run(action)
    if out.json:
        document: dict[str, object] = {"results": [r.as_dict() for r in results]}
        if failure is not None:
            document["error"] = {"code": failure.code, "message": str(failure), "exit": FAILED}
        out.emit_json(document)
    else:
        if not results:
            out.say("nothing to do: every backfill is done")
        for r in results:
            out.say(
                f"{r.id}: {r.state}, {r.rows_written:,} rows written in {r.batches} "
                f"batches ({r.seconds:.1f} s)"
            )
        if failure is not None:
            stderr.print(f"[bold red]error:[/] {str(failure).replace('[', chr(92) + '[')}")
    if failure is not None:
        raise typer.Exit(FAILED)


@app.command()
def status(
    ctx: typer.Context,
    database: DatabaseOption = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Show each backfill's state, cursor, rows and last error. Exit 3 if one failed."""
    out = _output(ctx, json)

    def action() -> list[backfill.BackfillState]:
        db = _database(database, database_type)
        try:
            return backfill.backfill_status(db)
        finally:
            db.dispose()

    states = out.run(action)
    if out.json:
        out.emit_json([s.as_dict() for s in states])
    else:
        table = Table()
        for column in ("backfill", "state", "rows", "cursor", "attempts", "updated", "error"):
            table.add_column(column)
        for s in states:
            style = {"done": "green", "failed": "bold red", "running": "yellow"}.get(s.state, "")
            rows = f"{s.rows_done:,}" + (f"/{s.rows_estimate:,}" if s.rows_estimate else "")
            table.add_row(
                s.id,
                f"[{style}]{s.state}[/]" if style else s.state,
                rows,
                "" if s.cursor is None else str(s.cursor),
                str(s.attempts),
                "" if s.updated_at is None else f"{s.updated_at:%Y-%m-%d %H:%M:%S}",
                s.last_error or "",
            )
        stdout.print(table)
    if any(s.state == "failed" for s in states):
        raise typer.Exit(NEEDS_ATTENTION)


@app.command()
def verify(
    ctx: typer.Context,
    ids: Ids = None,
    database: DatabaseOption = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Count the rows each backfill still has to write. Exit 3 if any are missing."""
    out = _output(ctx, json)

    def action() -> list[backfill.Verification]:
        db = _database(database, database_type)
        try:
            return backfill.verify_backfills(db, ids)
        finally:
            db.dispose()

    checks = out.run(action)
    if out.json:
        out.emit_json([c.as_dict() for c in checks])
    else:
        for c in checks:
            verdict = (
                "[green]complete[/]" if not c.missing else f"[bold red]{c.missing:,} missing[/]"
            )
            out.say(f"{c.id}: {verdict}")
    if any(c.missing for c in checks):
        if not out.json:
            out.say("run 'metadb backfill run' to write the missing rows")
        raise typer.Exit(NEEDS_ATTENTION)
