"""Options every command that opens a database takes, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        help="Database URL or DSN (env METADB_DATABASE_URL; default sqlite:///metadb.sqlite).",
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
