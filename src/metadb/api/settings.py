"""What a server is started with: :class:`ServeSettings`."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from metadb.config import DEFAULT_DATABASE_URL


class ServeSettings(BaseModel):
    """The server's settings, from ``metadb serve``'s flags or a program.

    ``migrate``: apply pending migrations on start; with False an out-of-date or dirty schema
    stops the start with :class:`~metadb.errors.SchemaOutOfDateError`.
    ``run_backfills``: start the pending backfills in a background thread once the schema is
    current (a failure is logged; it never stops the server).
    ``auth_token``: when set, every route but ``/healthz`` (and the OpenAPI document and its
    pages) requires ``Authorization: Bearer <token>``. It is a SecretStr so it never prints.
    ``access_log``: one log line per request (logger ``metadb.api.access``, level info).
    ``statement_timeout``: seconds each database statement of a request may run (0: no limit);
    None takes the URL's ``statement_timeout=``, else 30. A request whose client went away
    holds the database for at most this long.

    Example::

        ServeSettings(database_url="postgresql://metadb@db/metadb", auth_token="s3cret")
    """

    database_url: str = DEFAULT_DATABASE_URL
    database_type: str | None = None
    migrate: bool = True
    run_backfills: bool = True
    auth_token: SecretStr | None = None
    mysql_text: str | None = None
    access_log: bool = True
    statement_timeout: float | None = Field(default=None, ge=0)
