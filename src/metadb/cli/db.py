"""``metadb db ...``: set up databases; each command calls a function of metadb.operator.

``metadb db init`` prints where the credentials went (secret names or file paths), never a
password or a role name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from metadb.cli.options import DatabaseType, Json
from metadb.cli.output import Output
from metadb.config import DEFAULT_MIGRATIONS_TABLE
from metadb.operator.bootstrap import DEFAULT_SECRETS_DIR, InitReport, init_database

app = typer.Typer(help="Create and set up databases.", no_args_is_help=True)


@app.command()
def init(
    ctx: typer.Context,
    admin_url: Annotated[
        str,
        typer.Option(
            "--admin-url",
            envvar="METADB_ADMIN_URL",
            help="URL of a user that may create databases and roles [env METADB_ADMIN_URL].",
            show_default=False,
        ),
    ],
    database: Annotated[
        str,
        typer.Option(
            "--database", "-d", help="Name of the database to create (SQLite: the file path)."
        ),
    ],
    migration_user: Annotated[
        str | None,
        typer.Option("--migration-user", help="Migration role (default: <database>_migration)."),
    ] = None,
    app_prefix: Annotated[
        str | None,
        typer.Option(
            "--app-prefix", help="Application roles are <prefix>_v<N> (default: <database>_app)."
        ),
    ] = None,
    secrets_dir: Annotated[
        Path,
        typer.Option("--secrets-dir", help="Directory for the credential files (mode 0600)."),
    ] = Path(DEFAULT_SECRETS_DIR),
    migrations_table: Annotated[
        str | None,
        typer.Option("--table", help=f"Version table (default: {DEFAULT_MIGRATIONS_TABLE})."),
    ] = None,
    database_type: DatabaseType = None,
    json: Json = False,
) -> None:
    """Create the database, its migration role and the application role of the current
    schema version, so that the application never runs as a superuser. Idempotent."""
    out = Output(json=json, debug=bool(ctx.obj and ctx.obj.get("debug")))
    report: InitReport = out.run(
        lambda: init_database(
            admin_url=admin_url,
            database=database,
            migration_user=migration_user,
            app_prefix=app_prefix,
            secrets_dir=secrets_dir,
            database_type=database_type,
            migrations_table=migrations_table,
        )
    )
    if out.json:
        out.emit_json(report.as_dict())
        return
    out.say(f"database {report.database}: {'created' if report.created_database else 'exists'}")
    if not report.credentials_applicable:
        out.say(f"credentials: not applicable to {report.dialect} (no login roles)")
        return
    if report.migration is not None:
        state = "created" if report.migration.created else "kept"
        out.say(f"migration role: {state}, secret {report.migration.secret_name}")
    if report.application is not None:
        state = "created" if report.application.created else "kept, re-granted"
        out.say(
            f"application role of version {report.application.version}: {state}, "
            f"secret {report.application.secret_name}"
        )
