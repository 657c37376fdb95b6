"""``metadb serve``: the REST API on uvicorn (:func:`metadb.api.server.serve`).

Also takes the flags Kubeflow's model registry uses for the same job, so that its deployments
can switch binaries without changing arguments::

    metadb serve --datastore-type embedmd --embedmd-database-type mysql \\
        --embedmd-database-dsn 'root:pw@tcp(db:3306)/metadb?charset=utf8mb4&parseTime=True'

Start-up failures print one message and exit with the documented code (no traceback unless
--debug): 2 for a bad URL, an address that cannot be listened on or an empty token, 1 for an
unreachable database, 3 for a schema that is not current with --no-migrate (or is dirty).
``metadb --debug serve`` also logs the full traceback of a request that fails with a 500.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from metadb.cli.options import Database, DatabaseType
from metadb.cli.output import Output
from metadb.config import DEFAULT_MAX_BODY_BYTES, LOG_LEVELS, Settings, load_settings
from metadb.errors import ConfigError

EMBEDMD_TYPES = ("mysql", "postgresql")


def serve(
    ctx: typer.Context,
    database: Database = None,
    database_type: DatabaseType = None,
    host: Annotated[
        str, typer.Option("--host", "--hostname", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8080,
    no_migrate: Annotated[
        bool,
        typer.Option(
            "--no-migrate",
            help="Do not apply pending migrations; refuse to start unless the schema is current.",
        ),
    ] = False,
    no_backfills: Annotated[
        bool, typer.Option("--no-backfills", help="Do not start pending backfills.")
    ] = False,
    auth_token: Annotated[
        str | None,
        typer.Option(
            "--auth-token",
            help="Require 'Authorization: Bearer TOKEN' on every route but /healthz "
            "(or env METADB_AUTH_TOKEN, or --auth-token-file, which keep it out of the "
            "process list).",
            show_default=False,
        ),
    ] = None,
    auth_token_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-token-file",
            help="Read the token from this file (a trailing newline is dropped).",
            show_default=False,
        ),
    ] = None,
    max_body_bytes: Annotated[
        int,
        typer.Option(
            "--max-body-bytes",
            min=1,
            help="Refuse request bodies larger than this with 413, before reading them.",
        ),
    ] = DEFAULT_MAX_BODY_BYTES,
    log_level: Annotated[
        str, typer.Option("--log-level", help=f"One of {', '.join(LOG_LEVELS)}.")
    ] = "info",
    statement_timeout: Annotated[
        float | None,
        typer.Option(
            "--statement-timeout",
            min=0,
            help="Seconds a database statement of a request may run before the database "
            "cancels it (503 query_timeout); 0: no limit. Default: the URL's "
            "statement_timeout=, else 30.",
            show_default=False,
        ),
    ] = None,
    datastore_type: Annotated[
        str | None,
        typer.Option("--datastore-type", help="Model registry compatibility: only 'embedmd'."),
    ] = None,
    embedmd_database_type: Annotated[
        str | None,
        typer.Option(
            "--embedmd-database-type", help="Model registry compatibility: mysql or postgresql."
        ),
    ] = None,
    embedmd_database_dsn: Annotated[
        str | None,
        typer.Option(
            "--embedmd-database-dsn",
            help="Model registry compatibility: the database DSN (Go MySQL DSN or libpq).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the REST API (store, runs, migration state, /healthz, /readyz, /metrics).

    Applies pending migrations first (unless --no-migrate) and starts pending backfills in the
    background. Stops gracefully on SIGTERM or Ctrl-C.
    """
    debug = bool(ctx.obj and ctx.obj.get("debug"))
    out = Output(debug=debug)

    def run() -> None:
        # FastAPI and uvicorn are imported here, so that other commands start without them.
        from metadb.api.server import serve as serve_api
        from metadb.api.settings import ServeSettings

        env = load_settings()
        url, kind = _database(
            database=database,
            database_type=database_type,
            datastore_type=datastore_type,
            embedmd_database_type=embedmd_database_type,
            embedmd_database_dsn=embedmd_database_dsn,
        )
        settings = ServeSettings(
            database_url=url or env.database_url,
            database_type=kind or env.database_type,
            migrate=not no_migrate,
            run_backfills=not no_backfills,
            auth_token=_token(flag=auth_token, file=auth_token_file, env=env),
            max_body_bytes=max_body_bytes,
            debug=debug,
            statement_timeout=statement_timeout,
        )
        _configure_logging(log_level)
        serve_api(settings, host=host, port=port, log_level=log_level)

    try:
        out.run(run)
    except KeyboardInterrupt:  # Ctrl-C before the server took over the signal (migrating)
        raise typer.Exit(130) from None


def _token(*, flag: str | None, file: Path | None, env: Settings) -> SecretStr | None:
    """The token from --auth-token-file or --auth-token (not both), else METADB_AUTH_TOKEN;
    a blank one is a ConfigError naming where it came from, never serving without auth."""
    from metadb.api.auth import read_token_file
    from metadb.api.settings import require_token

    if flag is not None and file is not None:
        raise ConfigError("give --auth-token or --auth-token-file, not both")
    if file is not None:
        return read_token_file(file)
    if flag is not None:
        return SecretStr(require_token(flag, source="--auth-token"))
    if env.auth_token is not None:
        require_token(env.auth_token.get_secret_value(), source="METADB_AUTH_TOKEN")
    return env.auth_token


def _database(
    *,
    database: str | None,
    database_type: str | None,
    datastore_type: str | None,
    embedmd_database_type: str | None,
    embedmd_database_dsn: str | None,
) -> tuple[str | None, str | None]:
    """The URL and database type from metadb's flags or the model registry's."""
    if datastore_type is not None and datastore_type != "embedmd":
        raise ConfigError(
            f"--datastore-type must be 'embedmd' (the only datastore metadb serves), "
            f"not {datastore_type!r}"
        )
    if embedmd_database_type is not None and embedmd_database_type not in EMBEDMD_TYPES:
        raise ConfigError(
            f"--embedmd-database-type must be mysql or postgresql, not {embedmd_database_type!r}"
        )
    if embedmd_database_dsn is None:
        if embedmd_database_type is not None:
            raise ConfigError("--embedmd-database-type needs --embedmd-database-dsn")
        return database, database_type
    if database is not None:
        raise ConfigError("give --database or --embedmd-database-dsn, not both")
    if database_type is not None and embedmd_database_type not in (None, database_type):
        raise ConfigError("--database-type and --embedmd-database-type disagree")
    return embedmd_database_dsn, embedmd_database_type or database_type


def _configure_logging(level: str) -> None:
    if level not in LOG_LEVELS:
        raise ConfigError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    # The root stays at WARNING: SQLAlchemy logs every statement when its logger is enabled
    # for INFO, so only metadb's and uvicorn's loggers get the chosen level.
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in ("metadb", "uvicorn"):
        logging.getLogger(name).setLevel(getattr(logging, level.upper()))
