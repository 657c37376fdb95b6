"""``metadb migrate ...``: each command calls the function of the same name in metadb.migrate."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from metadb import migrate
from metadb.cli.exitcodes import NEEDS_ATTENTION
from metadb.cli.hints import hint_comment
from metadb.cli.options import Database, DatabaseType, Json
from metadb.cli.output import Output, RichReporter, stdout
from metadb.config import load_settings
from metadb.migrate.commands import MigrateConfig, RunReport
from metadb.paging import DEFAULT_LIMIT

app = typer.Typer(
    help="Versioned schema migrations (golang-migrate's format).", no_args_is_help=True
)

Source = Annotated[
    Path | None,
    typer.Option("--source", "-s", help="Migrations directory [default: metadb's own schema]."),
]
TableName = Annotated[
    str | None,
    typer.Option("--table", help="Version table [default: schema_migrations].", show_default=False),
]
LockTimeout = Annotated[
    float | None,
    typer.Option("--lock-timeout", help="Seconds to wait for the migration lock [default: 60]."),
]
StatementLockTimeout = Annotated[
    float | None,
    typer.Option(
        "--statement-lock-timeout",
        help="Seconds a migration statement may wait for a table lock before it gives up and "
        "is retried; 0 waits forever (default 5).",
        min=0,
        show_default=False,
    ),
]
StatementTimeout = Annotated[
    float | None,
    typer.Option(
        "--statement-timeout",
        help="Seconds a migration statement may run; 0 means no limit (MySQL limits only "
        "SELECTs; default 0).",
        min=0,
        show_default=False,
    ),
]
LockRetries = Annotated[
    int | None,
    typer.Option(
        "--lock-retries",
        help="Retries of a statement that gave up waiting for a table lock, with doubling "
        "pauses (default 3).",
        min=0,
        show_default=False,
    ),
]
IgnoreHint = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore-hint",
        help="Run even though the hints rule RULE_ID found errors (repeatable).",
        metavar="RULE_ID",
        show_default=False,
    ),
]
NoHints = Annotated[
    bool, typer.Option("--no-hints", help="Skip the hints check of pending migrations.")
]
AllowChanged = Annotated[
    bool, typer.Option("--allow-changed", help="Run even if applied migration files changed.")
]


def _setup(
    ctx: typer.Context,
    *,
    database: str | None,
    database_type: str | None,
    source: Path | None,
    table: str | None,
    lock_timeout: float | None,
    json: bool,
    guards: dict[str, Any] | None = None,
) -> tuple[Output, MigrateConfig, RichReporter | None]:
    out = Output(json=json, debug=bool(ctx.obj and ctx.obj.get("debug")))
    reporter = None if json else RichReporter()
    config = MigrateConfig.from_settings(
        load_settings(),
        database=database,
        database_type=database_type,
        source=source,
        table=table,
        lock_timeout=lock_timeout,
        reporter=reporter,
        **(guards or {}),
    )
    return out, config, reporter


def _guards(
    statement_lock_timeout: float | None, statement_timeout: float | None, lock_retries: int | None
) -> dict[str, Any]:
    """The runtime-guard flags as MigrateConfig overrides (None: the setting's value)."""
    return {
        "statement_lock_timeout": statement_lock_timeout,
        "statement_timeout": statement_timeout,
        "lock_retries": lock_retries,
    }


def _run_report(out: Output, reporter: RichReporter | None, action: Any) -> None:
    with reporter.active() if reporter else nullcontext():
        report: RunReport = out.run(action)
    if out.json:
        out.emit_json(report.as_dict())
        return
    if report.adopted_at is not None:
        out.say(f"adopted the ml-metadata database at version {report.adopted_at} (no DDL run)")
    if not report.steps:
        out.say(f"no change: the database is at version {report.version_after}")
    else:
        for step in report.steps:
            out.say(
                f"{step.direction:>4} {step.version} {step.name} "
                f"({step.statements} statements, {step.duration_ms} ms)"
            )
        out.say(f"version {report.version_before} -> {report.version_after}")
    if report.pending:
        out.say(f"{report.pending} migration(s) pending")


@app.command()
def up(
    ctx: typer.Context,
    steps: Annotated[int | None, typer.Argument(help="Apply only the next N.", min=1)] = None,
    allow_changed: AllowChanged = False,
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    lock_timeout: LockTimeout = None,
    statement_lock_timeout: StatementLockTimeout = None,
    statement_timeout: StatementTimeout = None,
    lock_retries: LockRetries = None,
    ignore_hint: IgnoreHint = None,
    no_hints: NoHints = False,
    json: Json = False,
) -> None:
    """Apply pending migrations (all, or the next N), after the hints check passes."""
    out, config, reporter = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=lock_timeout, json=json,
        guards=_guards(statement_lock_timeout, statement_timeout, lock_retries),
    )  # fmt: skip
    _run_report(
        out,
        reporter,
        lambda: migrate.up(
            config,
            steps,
            allow_changed=allow_changed,
            hints=not no_hints,
            ignore_hints=ignore_hint or (),
        ),
    )


@app.command()
def down(
    ctx: typer.Context,
    steps: Annotated[
        int | None, typer.Argument(help="Revert N migrations [default 1].", min=1)
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Revert every applied migration.")] = False,
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    lock_timeout: LockTimeout = None,
    statement_lock_timeout: StatementLockTimeout = None,
    statement_timeout: StatementTimeout = None,
    lock_retries: LockRetries = None,
    json: Json = False,
) -> None:
    """Revert the newest migration (or N, or --all)."""
    if all_ and steps is not None:
        raise typer.BadParameter("give N or --all, not both")
    out, config, reporter = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=lock_timeout, json=json,
        guards=_guards(statement_lock_timeout, statement_timeout, lock_retries),
    )  # fmt: skip
    count = None if all_ else (steps or 1)
    _run_report(out, reporter, lambda: migrate.down(config, count))


@app.command()
def goto(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(help="The version to migrate to.", min=0)],
    allow_changed: AllowChanged = False,
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    lock_timeout: LockTimeout = None,
    statement_lock_timeout: StatementLockTimeout = None,
    statement_timeout: StatementTimeout = None,
    lock_retries: LockRetries = None,
    json: Json = False,
) -> None:
    """Migrate up or down to VERSION."""
    out, config, reporter = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=lock_timeout, json=json,
        guards=_guards(statement_lock_timeout, statement_timeout, lock_retries),
    )  # fmt: skip
    _run_report(out, reporter, lambda: migrate.goto(config, version, allow_changed=allow_changed))


@app.command()
def resume(
    ctx: typer.Context,
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    lock_timeout: LockTimeout = None,
    statement_lock_timeout: StatementLockTimeout = None,
    statement_timeout: StatementTimeout = None,
    lock_retries: LockRetries = None,
    json: Json = False,
) -> None:
    """Continue a migration that failed part-way, at the failed statement."""
    out, config, reporter = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=lock_timeout, json=json,
        guards=_guards(statement_lock_timeout, statement_timeout, lock_retries),
    )  # fmt: skip
    _run_report(out, reporter, lambda: migrate.resume(config))


@app.command()
def force(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(help="The version to record.", min=0)],
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    lock_timeout: LockTimeout = None,
    json: Json = False,
) -> None:
    """Record VERSION as applied and clear the dirty flag, running nothing (manual repair)."""
    out, config, _ = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=lock_timeout, json=json,
    )  # fmt: skip
    state = out.run(lambda: migrate.force(config, version))
    if out.json:
        out.emit_json({"version": state.version, "dirty": state.dirty})
    else:
        out.say(f"version forced to {state.version}; dirty flag cleared")


@app.command("version")
def version_(
    ctx: typer.Context,
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    json: Json = False,
) -> None:
    """Print the database's version and dirty flag."""
    out, config, _ = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=None, json=json,
    )  # fmt: skip
    state = out.run(lambda: migrate.version(config))
    if out.json:
        out.emit_json({"version": state.version, "dirty": state.dirty})
    else:
        out.say(f"{state.version if state.version is not None else 'none'}"
                f"{' (dirty)' if state.dirty else ''}")  # fmt: skip
    if state.dirty:
        raise typer.Exit(NEEDS_ATTENTION)


@app.command()
def status(
    ctx: typer.Context,
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    json: Json = False,
) -> None:
    """List applied, pending, changed and missing migrations. Exit 3 if any need attention."""
    out, config, _ = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=None, json=json,
    )  # fmt: skip
    st = out.run(lambda: migrate.status(config))
    if out.json:
        out.emit_json(st.as_dict())
    else:
        table_ = Table(title=f"{st.database}: version {st.version}{' (DIRTY)' if st.dirty else ''}")
        for column in ("version", "name", "state"):
            table_.add_column(column)
        for m in st.migrations:
            style = {"applied": "green", "pending": "yellow", "changed": "bold red"}[m.state]
            table_.add_row(str(m.version), m.name, f"[{style}]{m.state}[/]")
        for v in st.missing:
            table_.add_row(str(v), "?", "[bold red]missing file[/]")
        stdout.print(table_)
        out.say(f"source: {st.source}")
        if st.problem:
            out.say(f"[bold red]{st.problem}[/]")
    if st.needs_attention:
        raise typer.Exit(NEEDS_ATTENTION)


@app.command()
def plan(
    ctx: typer.Context,
    steps: Annotated[int | None, typer.Argument(help="Plan only the next N.", min=1)] = None,
    allow_changed: AllowChanged = False,
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    no_hints: NoHints = False,
    json: Json = False,
) -> None:
    """Print the SQL that 'up' would run, without running it, with the hints under each
    statement."""
    out, config, _ = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=None, json=json,
    )  # fmt: skip
    result = out.run(
        lambda: migrate.plan(config, steps, allow_changed=allow_changed, hints=not no_hints)
    )
    if out.json:
        out.emit_json(result.as_dict())
        return
    if not result.steps:
        out.say(f"-- nothing to do: the database is at version {result.version}")
    for step in result.steps:
        mode = "in one transaction" if step.transactional else "statement by statement"
        typer.echo(f"-- {step.version} {step.name} ({step.path}), {mode}")
        for statement in step.statements:
            typer.echo(f"-- line {statement.line}\n{statement.sql};")
            for finding in statement.hints:
                typer.echo("\n".join(hint_comment(finding)))
            typer.echo("")


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the migration does, e.g. add_users_email.")],
    source: Annotated[Path, typer.Option("--source", "-s", help="Migrations directory.")],
    timestamp: Annotated[
        bool, typer.Option("--timestamp", help="Version by UTC time, not by sequence.")
    ] = False,
    python: Annotated[bool, typer.Option("--python", help="Write a Python migration.")] = False,
    json: Json = False,
) -> None:
    """Write the up and down files of a new migration, one pair per dialect directory."""
    out = Output(json=json, debug=bool(ctx.obj and ctx.obj.get("debug")))
    paths = out.run(lambda: migrate.create(source, name, timestamp=timestamp, python=python))
    if out.json:
        out.emit_json({"created": [str(p) for p in paths]})
    else:
        for path in paths:
            out.say(f"created {path}")


@app.command()
def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many rows.")] = DEFAULT_LIMIT,
    database: Database = None,
    database_type: DatabaseType = None,
    table: TableName = None,
    json: Json = False,
) -> None:
    """Show the newest applications of migrations: who ran what, when, and how it ended."""
    out, config, _ = _setup(
        ctx, database=database, database_type=database_type, source=None, table=table,
        lock_timeout=None, json=json,
    )  # fmt: skip
    rows = out.run(lambda: migrate.history(config, limit=limit))
    if out.json:
        out.emit_json([row.as_dict() for row in rows])
        return
    table_ = Table()
    for column in ("started", "version", "direction", "status", "statements", "ms", "by"):
        table_.add_column(column)
    for row in rows:
        style = {"succeeded": "green", "running": "yellow"}.get(row.status, "bold red")
        table_.add_row(
            f"{row.started_at:%Y-%m-%d %H:%M:%S}",
            f"{row.version} {row.name}",
            row.direction,
            f"[{style}]{row.status}[/]",
            f"{row.statements_done}/{row.statements_total}",
            "" if row.duration_ms is None else str(row.duration_ms),
            row.applied_by,
        )
    stdout.print(table_)


@app.command()
def baseline(
    ctx: typer.Context,
    version: Annotated[
        int | None,
        typer.Argument(
            help="The version the schema matches [default: detect ml-metadata's].", min=1
        ),
    ] = None,
    database: Database = None,
    database_type: DatabaseType = None,
    source: Source = None,
    table: TableName = None,
    lock_timeout: LockTimeout = None,
    json: Json = False,
) -> None:
    """Record a version for a database whose schema was made without metadb, running nothing."""
    out, config, _ = _setup(
        ctx, database=database, database_type=database_type, source=source, table=table,
        lock_timeout=lock_timeout, json=json,
    )  # fmt: skip
    state = out.run(lambda: migrate.baseline(config, version))
    if out.json:
        out.emit_json({"version": state.version, "dirty": state.dirty})
    else:
        out.say(f"baselined at version {state.version}; nothing was run")
