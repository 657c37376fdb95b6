"""Options the commands share, declared once.

Each flag is an ``Annotated`` alias whose help text reads its default from
:mod:`metadb.config`. The commands that work on migrations (``metadb migrate ...``,
``metadb hints check``) take their set of these flags through :func:`migrate_options`, which
adds them to the command's signature and hands them over as one :class:`MigrateOptions`:

    @app.command()
    @migrate_options(*TARGET, *LOCKING)
    def force(version: int, *, options: MigrateOptions) -> None:
        migrate.force(options.config(), version)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from metadb.cli.output import Output
from metadb.config import (
    DEFAULT_DATABASE_URL,
    DEFAULT_LOCK_RETRIES,
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_MIGRATIONS_TABLE,
    DEFAULT_STATEMENT_LOCK_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    load_settings,
)
from metadb.migrate.commands import MigrateConfig
from metadb.migrate.reporter import Reporter

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        help=f"Database URL or DSN (env METADB_DATABASE_URL; default {DEFAULT_DATABASE_URL}).",
        show_default=False,
    ),
]
DatabaseType = Annotated[
    str | None,
    typer.Option(
        "--database-type", help="sqlite, postgresql or mysql, for DSNs that do not say which."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document; no progress.")]
Source = Annotated[
    Path | None,
    typer.Option("--source", "-s", help="Migrations directory (default: metadb's own schema)."),
]
TableName = Annotated[
    str | None,
    typer.Option(
        "--table",
        help=f"Version table (default: {DEFAULT_MIGRATIONS_TABLE}).",
        show_default=False,
    ),
]
LockTimeout = Annotated[
    float | None,
    typer.Option(
        "--lock-timeout",
        help=f"Seconds to wait for the migration lock (default: {DEFAULT_LOCK_TIMEOUT:g}).",
    ),
]
StatementLockTimeout = Annotated[
    float | None,
    typer.Option(
        "--statement-lock-timeout",
        help="Seconds a migration statement may wait for a table lock before it gives up and "
        f"is retried; 0 waits forever (default {DEFAULT_STATEMENT_LOCK_TIMEOUT:g}).",
        min=0,
        show_default=False,
    ),
]
StatementTimeout = Annotated[
    float | None,
    typer.Option(
        "--statement-timeout",
        help="Seconds a migration statement may run; 0 means no limit (MySQL limits only "
        f"SELECTs; default {DEFAULT_STATEMENT_TIMEOUT:g}).",
        min=0,
        show_default=False,
    ),
]
LockRetries = Annotated[
    int | None,
    typer.Option(
        "--lock-retries",
        help="Retries of a statement that gave up waiting for a table lock, with doubling "
        f"pauses (default {DEFAULT_LOCK_RETRIES}).",
        min=0,
        show_default=False,
    ),
]

#: Which database and which migrations: every command that reads a version table.
TARGET = ("database", "database_type", "source", "table")
#: How long to wait for the migration lock: the commands that take it.
LOCKING = ("lock_timeout",)
#: The runtime guards of migration statements: the commands that run migrations.
GUARDS = ("statement_lock_timeout", "statement_timeout", "lock_retries")

#: Each shared flag's parameter: its annotation (with the typer.Option) and default.
_PARAMETERS: dict[str, tuple[Any, Any]] = {
    "database": (Database, None),
    "database_type": (DatabaseType, None),
    "source": (Source, None),
    "table": (TableName, None),
    "lock_timeout": (LockTimeout, None),
    "statement_lock_timeout": (StatementLockTimeout, None),
    "statement_timeout": (StatementTimeout, None),
    "lock_retries": (LockRetries, None),
    "json": (Json, False),
}


@dataclass(frozen=True)
class MigrateOptions:
    """The shared flags one command was given; None means the setting's value (environment
    or default, :mod:`metadb.config`)."""

    database: str | None = None
    database_type: str | None = None
    source: Path | None = None
    table: str | None = None
    lock_timeout: float | None = None
    statement_lock_timeout: float | None = None
    statement_timeout: float | None = None
    lock_retries: int | None = None
    json: bool = False
    debug: bool = False

    def output(self) -> Output:
        """Where the command prints, as ``--json`` and ``--debug`` say."""
        return Output(json=self.json, debug=self.debug)

    def config(self, *, reporter: Reporter | None = None) -> MigrateConfig:
        """The :class:`MigrateConfig` of these flags over the ``METADB_*`` settings (the one
        place the migrate and hints commands read the environment).

        Raises:
            pydantic.ValidationError: a ``METADB_*`` variable holds no valid value.
        """
        return MigrateConfig.from_settings(
            load_settings(),
            database=self.database,
            database_type=self.database_type,
            source=self.source,
            table=self.table,
            lock_timeout=self.lock_timeout,
            statement_lock_timeout=self.statement_lock_timeout,
            statement_timeout=self.statement_timeout,
            lock_retries=self.lock_retries,
            reporter=reporter,
        )


def migrate_options(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give the decorated command the shared flags ``names`` (fields of
    :class:`MigrateOptions`; see :data:`TARGET`, :data:`LOCKING`, :data:`GUARDS`) and
    ``--json``, after its own parameters. The command takes them as one keyword argument,
    ``options: MigrateOptions`` (with ``--debug`` of ``metadb --debug``).
    """
    shared = (*names, "json")
    unknown = sorted(set(shared) - set(_PARAMETERS))
    if unknown:
        raise ValueError(f"no shared option {', '.join(unknown)}")

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "options"]
        added = [
            inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
            *(
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=_PARAMETERS[name][0],
                    default=_PARAMETERS[name][1],
                )
                for name in shared
            ),
        ]

        def run(**kwargs: Any) -> None:
            ctx: typer.Context = kwargs.pop("ctx")
            options = MigrateOptions(
                **{name: kwargs.pop(name) for name in shared},
                debug=bool(ctx.obj and ctx.obj.get("debug")),
            )
            command(**kwargs, options=options)

        run.__name__, run.__qualname__ = command.__name__, command.__qualname__
        run.__doc__, run.__module__ = command.__doc__, command.__module__
        parameters = [*own, *added]
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate
