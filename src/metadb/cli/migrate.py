"""``metadb migrate ...``: each command calls the function of the same name in metadb.migrate
(``up`` and ``plan`` through :mod:`metadb.hints`, which adds the hints check). The flags they
share are declared once, in :mod:`metadb.cli.options`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from metadb import hints, migrate
from metadb.cli.exitcodes import NEEDS_ATTENTION
from metadb.cli.hints import hint_comment
from metadb.cli.options import GUARDS, LOCKING, TARGET, MigrateOptions, migrate_options
from metadb.cli.output import RichReporter, stdout
from metadb.migrate.commands import MigrateConfig, MigrationReport
from metadb.paging import DEFAULT_LIMIT

app = typer.Typer(
    help="Versioned schema migrations (golang-migrate's format).", no_args_is_help=True
)

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
BelowBaseline = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Go below the version an ml-metadata database was adopted at, dropping "
        "ml-metadata's tables and data.",
    ),
]


def _run_report(
    options: MigrateOptions, action: Callable[[MigrateConfig], MigrationReport]
) -> None:
    """Run ``action`` with a progress bar (none with --json) and print what it did."""
    out = options.output()
    reporter = None if out.json else RichReporter()
    config = options.config(reporter=reporter)
    with reporter.active() if reporter else nullcontext():
        report = out.run(lambda: action(config))
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
@migrate_options(*TARGET, *LOCKING, *GUARDS)
def up(
    steps: Annotated[int | None, typer.Argument(help="Apply only the next N.", min=1)] = None,
    allow_changed: AllowChanged = False,
    ignore_hint: IgnoreHint = None,
    no_hints: NoHints = False,
    *,
    options: MigrateOptions,
) -> None:
    """Apply pending migrations (all, or the next N), after the hints check passes."""
    _run_report(
        options,
        lambda config: hints.migrate_up(
            config,
            steps,
            allow_changed=allow_changed,
            hints=not no_hints,
            ignore_hints=ignore_hint or (),
        ),
    )


@app.command()
@migrate_options(*TARGET, *LOCKING, *GUARDS)
def down(
    steps: Annotated[
        int | None, typer.Argument(help="Revert N migrations (default: 1).", min=1)
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Revert every applied migration.")] = False,
    force: BelowBaseline = False,
    *,
    options: MigrateOptions,
) -> None:
    """Revert the newest migration (or N, or --all)."""
    if all_ and steps is not None:
        raise typer.BadParameter("give N or --all, not both")
    count = None if all_ else (steps or 1)
    _run_report(options, lambda config: migrate.down(config, count, force=force))


@app.command()
@migrate_options(*TARGET, *LOCKING, *GUARDS)
def goto(
    version: Annotated[int, typer.Argument(help="The version to migrate to.", min=0)],
    allow_changed: AllowChanged = False,
    force: BelowBaseline = False,
    *,
    options: MigrateOptions,
) -> None:
    """Migrate up or down to VERSION."""
    _run_report(
        options,
        lambda config: migrate.goto(config, version, allow_changed=allow_changed, force=force),
    )


@app.command()
@migrate_options(*TARGET, *LOCKING, *GUARDS)
def resume(*, options: MigrateOptions) -> None:
    """Continue a migration that failed part-way, at the failed statement."""
    _run_report(options, migrate.resume)


@app.command()
@migrate_options(*TARGET, *LOCKING)
def force(
    version: Annotated[int, typer.Argument(help="The version to record.", min=0)],
    *,
    options: MigrateOptions,
) -> None:
    """Record VERSION as applied and clear the dirty flag, running nothing (manual repair)."""
    out = options.output()
    state = out.run(lambda: migrate.force(options.config(), version))
    if out.json:
        out.emit_json({"version": state.version, "dirty": state.dirty})
    else:
        out.say(f"version forced to {state.version}; dirty flag cleared")


@app.command("version")
@migrate_options(*TARGET)
def version_(*, options: MigrateOptions) -> None:
    """Print the database's version and dirty flag."""
    out = options.output()
    state = out.run(lambda: migrate.version(options.config()))
    if out.json:
        out.emit_json({"version": state.version, "dirty": state.dirty})
    else:
        out.say(f"{state.version if state.version is not None else 'none'}"
                f"{' (dirty)' if state.dirty else ''}")  # fmt: skip
    if state.dirty:
        raise typer.Exit(NEEDS_ATTENTION)


@app.command()
@migrate_options(*TARGET)
def status(*, options: MigrateOptions) -> None:
    """List applied, pending, changed and missing migrations. Exit 3 if any need attention."""
    out = options.output()
    st = out.run(lambda: migrate.status(options.config()))
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
@migrate_options(*TARGET)
def plan(
    steps: Annotated[int | None, typer.Argument(help="Plan only the next N.", min=1)] = None,
    allow_changed: AllowChanged = False,
    no_hints: NoHints = False,
    *,
    options: MigrateOptions,
) -> None:
    """Print the SQL that 'up' would run, without running it, with the hints under each
    statement."""
    out = options.output()
    config = options.config()
    result = out.run(
        lambda: hints.migrate_plan(config, steps, allow_changed=allow_changed, hints=not no_hints)
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
@migrate_options()
def create(
    name: Annotated[str, typer.Argument(help="What the migration does, e.g. add_users_email.")],
    source: Annotated[Path, typer.Option("--source", "-s", help="Migrations directory.")],
    timestamp: Annotated[
        bool, typer.Option("--timestamp", help="Version by UTC time, not by sequence.")
    ] = False,
    python: Annotated[bool, typer.Option("--python", help="Write a Python migration.")] = False,
    *,
    options: MigrateOptions,
) -> None:
    """Write the up and down files of a new migration, one pair per dialect directory."""
    out = options.output()
    paths = out.run(lambda: migrate.create(source, name, timestamp=timestamp, python=python))
    if out.json:
        out.emit_json({"created": [str(p) for p in paths]})
    else:
        for path in paths:
            out.say(f"created {path}")


@app.command()
@migrate_options("database", "database_type", "table")
def history(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many rows.")] = DEFAULT_LIMIT,
    *,
    options: MigrateOptions,
) -> None:
    """Show the newest applications of migrations: who ran what, when, and how it ended."""
    out = options.output()
    rows = out.run(lambda: migrate.history(options.config(), limit=limit))
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
@migrate_options(*TARGET, *LOCKING)
def baseline(
    version: Annotated[
        int | None,
        typer.Argument(
            help="The version the schema matches (default: detect ml-metadata's).", min=1
        ),
    ] = None,
    *,
    options: MigrateOptions,
) -> None:
    """Record a version for a database whose schema was made without metadb, running nothing."""
    out = options.output()
    state = out.run(lambda: migrate.baseline(options.config(), version))
    if out.json:
        out.emit_json({"version": state.version, "dirty": state.dirty})
    else:
        out.say(f"baselined at version {state.version}; nothing was run")
