"""What a server is started with: :class:`ServeSettings`."""

from __future__ import annotations

from pydantic import BaseModel, Field, PositiveInt, SecretStr, field_validator

from metadb.config import DEFAULT_DATABASE_URL, DEFAULT_MAX_BODY_BYTES
from metadb.errors import ConfigError


class ServeSettings(BaseModel):
    """The server's settings, from ``metadb serve``'s flags or a program.

    ``migrate``: apply pending migrations on start; with False an out-of-date or dirty schema
    stops the start with :class:`~metadb.errors.SchemaOutOfDateError`.
    ``run_backfills``: start the pending backfills in a background thread once the schema is
    current (a failure is logged; it never stops the server).
    ``auth_token``: when set, every route but ``/healthz`` (and the OpenAPI document and its
    pages) requires ``Authorization: Bearer <token>``. It is a SecretStr so it never prints;
    an empty or blank token is refused (:class:`~metadb.errors.ConfigError`), so that a
    mistyped variable never serves without auth.
    ``access_log``: one log line per request (logger ``metadb.api.access``, level info).
    ``max_body_bytes``: larger request bodies are refused with 413 before they are read.
    ``debug``: log the full traceback of a 500 (its SQL text included; never the bind
    parameters); without it the log line names the exception's class and where it was raised.
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
    max_body_bytes: PositiveInt = DEFAULT_MAX_BODY_BYTES
    debug: bool = False

    @field_validator("auth_token")
    @classmethod
    def _token_not_blank(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None:
            require_token(token.get_secret_value(), source="the auth token")
        return token


def require_token(token: str, *, source: str) -> str:
    """``token``, unless it is empty or only whitespace: then a ConfigError naming ``source``
    (a flag, a variable, a file) and what to set. The token itself is never in the message.

    Raises:
        ConfigError: the token is blank.

    Example::

        require_token(os.environ["METADB_AUTH_TOKEN"], source="METADB_AUTH_TOKEN")
    """
    if not token.strip():
        raise ConfigError(
            f"{source} is empty or only whitespace, which would leave the server without "
            "auth. Set --auth-token-file PATH (or METADB_AUTH_TOKEN, or --auth-token) to a "
            "non-empty token, or set none of them to serve without auth; the server did not "
            "start"
        )
    return token
