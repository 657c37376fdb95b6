"""What a server is started with: :class:`ServeSettings`."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr


class ServeSettings(BaseModel):
    """The server's settings, from ``metadb serve``'s flags or a program.

    ``auth_token``: when set, every API route but ``/healthz`` requires
    ``Authorization: Bearer <token>``. It is a SecretStr so it never prints.
    """

    database_url: str = "sqlite:///metadb.sqlite"
    database_type: str | None = None
    migrate: bool = True
    run_backfills: bool = True
    auth_token: SecretStr | None = None
    mysql_text: str | None = None
