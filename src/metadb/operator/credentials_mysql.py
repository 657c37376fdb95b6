"""Per-version credentials on MySQL and MariaDB: accounts ``'<prefix>_v<N>'@'%'``, a
database-level grant, information_schema.processlist.

The grant is ``SELECT, INSERT, UPDATE, DELETE ON <database>.*``: it covers tables a migration
creates later without a re-grant, and includes the migration tables, because MySQL cannot take a
table out of a database-level grant (per-table grants would not follow renamed tables).
"""

from __future__ import annotations

import time
from typing import ClassVar

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from metadb.operator.credentials import APPLICATION_PRIVILEGES, CREDENTIALS, LoginRoleCredentials

#: ER_NO_SUCH_THREAD: the session ended before KILL reached it.
_NO_SUCH_THREAD = 1094
#: How long to wait for killed sessions to leave the process list, in seconds.
_KILL_WAIT = 5.0


@CREDENTIALS.register("mysql")
class MysqlCredentials(LoginRoleCredentials):
    """Accounts are server-wide; the application's privileges are on the managed database."""

    #: The host part of every account metadb creates.
    account_host: ClassVar[str] = "%"

    def _account(self, conn: Connection, user: str) -> str:
        return f"{self.quote(conn, user)}@{self.literal(conn, self.account_host)}"

    def _database(self, conn: Connection) -> str:
        return self.quote(conn, str(conn.execute(text("SELECT DATABASE()")).scalar_one()))

    def _role_exists(self, conn: Connection, user: str) -> bool:
        row = conn.execute(
            text("SELECT 1 FROM mysql.user WHERE user = :u AND host = :h"),
            {"u": user, "h": self.account_host},
        ).first()
        return row is not None

    def _password_sql(
        self, conn: Connection, user: str, password: str, *, create: bool
    ) -> tuple[str, str]:
        verb = "CREATE USER" if create else "ALTER USER"
        literal = self.literal(conn, password)
        return f"{verb} {self._account(conn, user)} IDENTIFIED BY {literal}", literal

    def _after_password(self, conn: Connection, user: str) -> None:
        conn.exec_driver_sql(f"ALTER USER {self._account(conn, user)} ACCOUNT UNLOCK")

    def _grant(self, conn: Connection, user: str) -> None:
        target = f"ON {self._database(conn)}.* TO {self._account(conn, user)}"
        conn.exec_driver_sql(f"GRANT {', '.join(self.privileges)} {target}")
        withdrawn = [p for p in APPLICATION_PRIVILEGES if p not in self.privileges]
        if withdrawn:
            # Only what the spec no longer gives: the application keeps working meanwhile.
            revoke_from = target.replace(" TO ", " FROM ", 1)
            conn.exec_driver_sql(f"REVOKE {', '.join(withdrawn)} {revoke_from}")

    def _grant_migration(self, conn: Connection, user: str) -> None:
        conn.exec_driver_sql(
            f"GRANT ALL PRIVILEGES ON {self._database(conn)}.* TO {self._account(conn, user)}"
        )

    def _role_names(self, conn: Connection) -> list[str]:
        rows = conn.execute(
            text("SELECT user FROM mysql.user WHERE host = :h AND LEFT(user, :n) = :p"),
            {"h": self.account_host, "n": len(self.prefix), "p": self.prefix},
        )
        return [str(name) for name in rows.scalars()]

    def _session_ids(self, conn: Connection, user: str) -> list[int]:
        rows = conn.execute(
            text(
                "SELECT id FROM information_schema.processlist "
                "WHERE user = :u AND id <> CONNECTION_ID()"
            ),
            {"u": user},
        )
        return [int(i) for i in rows.scalars()]

    def _count_sessions(self, conn: Connection, user: str) -> int:
        return len(self._session_ids(conn, user))

    def _disable_login(self, conn: Connection, user: str) -> None:
        conn.exec_driver_sql(f"ALTER USER {self._account(conn, user)} ACCOUNT LOCK")

    def _enable_login(self, conn: Connection, user: str) -> None:
        conn.exec_driver_sql(f"ALTER USER {self._account(conn, user)} ACCOUNT UNLOCK")

    def _terminate_sessions(self, conn: Connection, user: str) -> int:
        ended = 0
        for session in self._session_ids(conn, user):
            try:
                conn.exec_driver_sql(f"KILL CONNECTION {int(session)}")
            except DBAPIError as exc:
                if getattr(exc.orig, "args", (None,))[0] != _NO_SUCH_THREAD:
                    raise
            else:
                ended += 1
        # A killed session stays in the process list until its thread notices.
        deadline = time.monotonic() + _KILL_WAIT
        while self._session_ids(conn, user) and time.monotonic() < deadline:
            time.sleep(0.05)
        return ended

    def _drop_role(self, conn: Connection, user: str) -> None:
        conn.exec_driver_sql(f"DROP USER IF EXISTS {self._account(conn, user)}")
