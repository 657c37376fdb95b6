"""The ``metadb`` entry point."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.logging import RichHandler

from metadb import __version__
from metadb.cli import backfill, db, hints, migrate, operator, runs, serve
from metadb.cli.output import stderr

app = typer.Typer(
    name="metadb",
    help="ML metadata store and database-operations toolkit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(migrate.app, name="migrate")
app.add_typer(runs.app, name="runs")
app.add_typer(backfill.app, name="backfill")
app.add_typer(hints.app, name="hints")
app.add_typer(db.app, name="db")
app.add_typer(operator.app, name="operator")
app.command("serve")(serve.serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"metadb {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.obj = {"debug": debug}
    if debug:
        handler = RichHandler(console=stderr, show_path=False)
        logging.basicConfig(level=logging.DEBUG, handlers=[handler], format="%(message)s")


def main() -> None:
    app()
