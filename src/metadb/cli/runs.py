"""``metadb runs ...``: each command calls one :class:`metadb.runs.RunStore` method.

The schema must be current (``metadb migrate up``): these commands never migrate.
"""

from __future__ import annotations

import json as jsonlib
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from metadb import runs as runs_lib
from metadb.cli.options import Database, DatabaseType, Json
from metadb.cli.output import Output, stdout
from metadb.config import load_settings
from metadb.errors import InvalidArgumentError
from metadb.paging import DEFAULT_LIMIT, MAX_LIMIT
from metadb.runs import Run, RunPage, RunStore

T = TypeVar("T")

app = typer.Typer(
    help="Pipeline runs: create, annotate, log metrics, search.", no_args_is_help=True
)

RunId = Annotated[int, typer.Argument(help="The run's id.")]
Sort = Annotated[
    str, typer.Option("--sort", help="created_at, name or metric:<name>, then asc or desc.")
]
Limit = Annotated[
    int,
    typer.Option(
        "--limit", "-n", "--page-size",
        help=f"Runs per page (1-{MAX_LIMIT}); --page-size is its former name.",
    ),
]  # fmt: skip
PageToken = Annotated[
    str | None, typer.Option("--page-token", help="next_page_token of the previous page.")
]
Total = Annotated[bool, typer.Option("--total", help="Also count every matching run.")]
Full = Annotated[bool, typer.Option("--full", help="Include the pipeline spec.")]


def _call(
    ctx: typer.Context,
    json: bool,
    database: str | None,
    database_type: str | None,
    action: Callable[[RunStore], T],
) -> tuple[Output, T]:
    """Open the store, run ``action`` on it, close it; errors end the process (Output.run)."""
    out = Output(json=json, debug=bool(ctx.obj and ctx.obj.get("debug")))
    settings = load_settings()
    url = database or settings.database_url
    kind = database_type or settings.database_type

    def run() -> T:
        with runs_lib.connect(url, database_type=kind, migrate=False) as store:
            return action(store)

    return out, out.run(run)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{what} must be KEY=VALUE, not {item!r}")
        pairs[key] = value
    return pairs


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _show_run(out: Output, run: Run) -> None:
    if out.json:
        out.emit_json(run.as_dict())
        return
    out.say(f"[bold]run {run.id}[/] {run.name}  state {run.state}")
    out.say(f"pipeline {run.pipeline_name or '-'}  created by {run.created_by or '-'}")
    out.say(f"created {_time(run.created_at_ms)}  finished {_time(run.finished_at_ms) or '-'}")
    for key, value in run.annotations.items():
        out.say(f"  {key} = {value}")
    for name, number in run.metrics.items():
        out.say(f"  metric {name} = {number:g}")
    for task in run.tasks:
        out.say(f"  task {task.id} {task.name} {task.state}")
    if run.pipeline_spec is not None:
        out.say(run.pipeline_spec)


def _show_page(out: Output, page: RunPage) -> None:
    if out.json:
        out.emit_json(page.as_dict())
        return
    table = Table()
    for column in ("id", "name", "state", "pipeline", "created by", "created", "metrics"):
        table.add_column(column)
    for run in page.items:
        metrics = ", ".join(f"{k}={v:g}" for k, v in run.metrics.items())
        table.add_row(
            str(run.id), run.name, run.state, run.pipeline_name or "", run.created_by or "",
            _time(run.created_at_ms), metrics,
        )  # fmt: skip
    stdout.print(table)
    if page.total_size is not None:
        out.say(f"{page.total_size} matching run(s)")
    if page.next_page_token:
        out.say(f"next page: --page-token {page.next_page_token}")


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The run's name.")],
    pipeline_name: Annotated[str | None, typer.Option("--pipeline-name")] = None,
    created_by: Annotated[str | None, typer.Option("--created-by")] = None,
    state: Annotated[str, typer.Option("--state")] = "PENDING",
    spec_file: Annotated[
        Path | None, typer.Option("--spec-file", help="A file holding the pipeline spec.")
    ] = None,
    extra: Annotated[str | None, typer.Option("--extra", help="Extra data as JSON.")] = None,
    context_id: Annotated[
        int | None, typer.Option("--context-id", help="The run's MLMD context id.")
    ] = None,
    annotation: Annotated[
        list[str] | None, typer.Option("--annotation", "-a", help="KEY=VALUE, repeatable.")
    ] = None,
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Create a run (with its system annotations) and print it."""
    annotations = _pairs(annotation or [], "--annotation")
    spec = spec_file.read_text(encoding="utf-8") if spec_file else None

    def action(store: RunStore) -> Run:
        return store.create_run(
            name, pipeline_name=pipeline_name, created_by=created_by, state=state,
            pipeline_spec=spec, extra_data=_json_value(extra, "--extra"),
            mlmd_context_id=context_id, annotations=annotations,
        )  # fmt: skip

    out, run = _call(ctx, json, database, database_type, action)
    _show_run(out, run)


@app.command()
def get(
    ctx: typer.Context,
    run_id: RunId,
    full: Full = False,
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Print one run with its annotations, metrics and tasks."""
    out, run = _call(ctx, json, database, database_type, lambda s: s.get_run(run_id, full=full))
    _show_run(out, run)


@app.command("list")
def list_(
    ctx: typer.Context,
    sort: Sort = "created_at desc",
    limit: Limit = DEFAULT_LIMIT,
    page_token: PageToken = None,
    total: Total = False,
    full: Full = False,
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """List runs, one page at a time (newest first by default)."""
    out, page = _call(ctx, json, database, database_type, lambda s: s.search_runs(
        None, sort=sort, limit=limit, page_token=page_token, with_total=total, full=full,
    ))  # fmt: skip
    _show_page(out, page)


@app.command()
def search(
    ctx: typer.Context,
    filter_json: Annotated[
        str | None, typer.Argument(help="The filter as JSON (see docs/runs.md).")
    ] = None,
    filter_file: Annotated[
        Path | None,
        typer.Option("--filter-file", "-f", help="Read the filter from a file; - for stdin."),
    ] = None,
    sort: Sort = "created_at desc",
    limit: Limit = DEFAULT_LIMIT,
    page_token: PageToken = None,
    total: Total = False,
    full: Full = False,
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Search runs with a JSON filter tree, one page at a time."""
    if filter_json is not None and filter_file is not None:
        raise typer.BadParameter("give the filter as an argument or with --filter-file, not both")
    if filter_file is not None:
        text = sys.stdin.read() if str(filter_file) == "-" else filter_file.read_text("utf-8")
    else:
        text = filter_json
    out, page = _call(ctx, json, database, database_type, lambda s: s.search_runs(
        text, sort=sort, limit=limit, page_token=page_token, with_total=total, full=full,
    ))  # fmt: skip
    _show_page(out, page)


@app.command()
def annotate(
    ctx: typer.Context,
    run_id: RunId,
    pairs: Annotated[list[str], typer.Argument(help="KEY=VALUE ...")],
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Set annotations of a run (keys starting with system/ are reserved)."""
    values = _pairs(pairs, "an annotation")
    out, annotations = _call(
        ctx, json, database, database_type, lambda s: s.set_annotations(run_id, values)
    )
    _show_mapping(out, annotations)


@app.command()
def unannotate(
    ctx: typer.Context,
    run_id: RunId,
    key: Annotated[str, typer.Argument(help="The annotation's key.")],
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Delete one annotation of a run."""
    out, _ = _call(ctx, json, database, database_type, lambda s: s.delete_annotation(run_id, key))
    if out.json:
        out.emit_json({"deleted": key})
    else:
        out.say(f"deleted annotation {key}")


@app.command()
def metrics(
    ctx: typer.Context,
    run_id: RunId,
    pairs: Annotated[list[str] | None, typer.Argument(help="NAME=NUMBER ... to log.")] = None,
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Log metrics of a run (insert or replace) and print all of them; with none, just print."""
    values = {name: _number(text, name) for name, text in _pairs(pairs or [], "a metric").items()}
    out, logged = _call(ctx, json, database, database_type, lambda s: s.log_metrics(run_id, values))
    _show_mapping(out, logged)


@app.command()
def tasks(
    ctx: typer.Context,
    run_id: RunId,
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """List the tasks of a run."""
    out, found = _call(ctx, json, database, database_type, lambda s: s.list_tasks(run_id))
    if out.json:
        out.emit_json([task.as_dict() for task in found])
        return
    table = Table()
    for column in ("id", "name", "state", "started", "finished", "execution"):
        table.add_column(column)
    for task in found:
        table.add_row(
            str(task.id), task.name, task.state, _time(task.started_at_ms),
            _time(task.finished_at_ms), str(task.mlmd_execution_id or ""),
        )  # fmt: skip
    stdout.print(table)


@app.command()
def state(
    ctx: typer.Context,
    run_id: RunId,
    new_state: Annotated[str, typer.Argument(metavar="STATE", help="e.g. RUNNING, SUCCEEDED.")],
    finished_at: Annotated[
        int | None, typer.Option("--finished-at", help="Finished time, ms since the epoch.")
    ] = None,
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Set the state of a run (a terminal state also sets its finished time)."""
    out, run = _call(ctx, json, database, database_type, lambda s: s.update_run_state(
        run_id, new_state, finished_at_ms=finished_at
    ))  # fmt: skip
    _show_run(out, run)


@app.command()
def delete(
    ctx: typer.Context,
    run_id: RunId,
    database: Database = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Delete a run with its annotations, metrics and tasks."""
    out, _ = _call(ctx, json, database, database_type, lambda s: s.delete_run(run_id))
    if out.json:
        out.emit_json({"deleted": run_id})
    else:
        out.say(f"deleted run {run_id}")


def _show_mapping(out: Output, values: dict[str, Any]) -> None:
    if out.json:
        out.emit_json(values)
        return
    for key, value in values.items():
        out.say(f"{key} = {value}")


def _json_value(text: str | None, option: str) -> Any:
    if text is None:
        return None
    try:
        return jsonlib.loads(text)
    except ValueError as exc:
        raise InvalidArgumentError(f"{option} is not valid JSON: {exc}") from exc


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"metric {name} must be a number, not {text!r}") from None
