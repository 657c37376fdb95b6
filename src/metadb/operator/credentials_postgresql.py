"""Per-version credentials on PostgreSQL: login roles, grants on one schema, pg_stat_activity.

The password never reaches the server in clear text: libpq computes the SCRAM-SHA-256 verifier
on the client (``PQencryptPasswordConn``, as psql's ``\\password`` does) and CREATE ROLE receives
only that, so a statement log cannot reveal it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from metadb.operator.credentials import APPLICATION_PRIVILEGES, CREDENTIALS, LoginRoleCredentials

#: How long pg_terminate_backend waits for each session to end, in milliseconds.
_TERMINATE_WAIT_MS = 5000


@CREDENTIALS.register("postgresql")
class PostgresqlCredentials(LoginRoleCredentials):
    """Roles are cluster-wide; privileges are granted in the managed database's current schema
    (the first schema of the admin's search_path that exists, normally ``public``).

    The application role gets CONNECT on the database, USAGE on the schema, SELECT, INSERT,
    UPDATE and DELETE on every table, USAGE and SELECT on every sequence, and only SELECT on
    the :attr:`protected_tables` (the migration engine's tables).
    """

    def _role_exists(self, conn: Connection, user: str) -> bool:
        row = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :u"), {"u": user}).first()
        return row is not None

    def _password_sql(
        self, conn: Connection, user: str, password: str, *, create: bool
    ) -> tuple[str, str]:
        raw: Any = conn.connection.dbapi_connection
        verifier = raw.pgconn.encrypt_password(
            password.encode(), user.encode(), b"scram-sha-256"
        ).decode()
        verb = "CREATE" if create else "ALTER"
        literal = self.literal(conn, verifier)
        return f"{verb} ROLE {self.quote(conn, user)} LOGIN PASSWORD {literal}", verifier

    def _schema(self, conn: Connection) -> str:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())

    def _grant(self, conn: Connection, user: str) -> None:
        role, schema = self.quote(conn, user), self._schema(conn)
        quoted_schema = self.quote(conn, schema)
        protected = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename = ANY(:names)"
            ),
            {"s": schema, "names": list(self.protected_tables)},
        ).scalars()
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        # All in the caller's transaction: nobody sees the role with the write privileges on
        # the migration tables that the REVOKE takes away again.
        conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {self.quote(conn, database)} TO {role}")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {quoted_schema} TO {role}")
        conn.exec_driver_sql(
            f"GRANT {', '.join(self.privileges)} ON ALL TABLES IN SCHEMA {quoted_schema} TO {role}"
        )
        withdrawn = [p for p in APPLICATION_PRIVILEGES if p not in self.privileges]
        if withdrawn:  # what the spec no longer gives, in the same transaction as the grant
            conn.exec_driver_sql(
                f"REVOKE {', '.join(withdrawn)} ON ALL TABLES IN SCHEMA {quoted_schema} FROM {role}"
            )
        conn.exec_driver_sql(
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quoted_schema} TO {role}"
        )
        for table in protected:
            conn.exec_driver_sql(
                f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {quoted_schema}."
                f"{self.quote(conn, table)} FROM {role}"
            )

    def _grant_migration(self, conn: Connection, user: str) -> None:
        role, schema = self.quote(conn, user), self.quote(conn, self._schema(conn))
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        # Owning the database lets it create schemas; on PostgreSQL 15 the public schema
        # belongs to the database owner. Earlier versions let everyone create tables in
        # public: that is taken back, so that only the migration role runs DDL.
        conn.exec_driver_sql(f"ALTER DATABASE {self.quote(conn, database)} OWNER TO {role}")
        conn.exec_driver_sql(f"GRANT ALL ON SCHEMA {schema} TO {role}")
        conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC")

    def _role_names(self, conn: Connection) -> list[str]:
        rows = conn.execute(
            text("SELECT rolname FROM pg_roles WHERE left(rolname, :n) = :p"),
            {"n": len(self.prefix), "p": self.prefix},
        )
        return [str(name) for name in rows.scalars()]

    def _count_sessions(self, conn: Connection, user: str) -> int:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE usename = :u AND pid <> pg_backend_pid()"
                ),
                {"u": user},
            ).scalar_one()
        )

    def _disable_login(self, conn: Connection, user: str) -> None:
        conn.exec_driver_sql(f"ALTER ROLE {self.quote(conn, user)} NOLOGIN")

    def _enable_login(self, conn: Connection, user: str) -> None:
        conn.exec_driver_sql(f"ALTER ROLE {self.quote(conn, user)} LOGIN")

    def _terminate_sessions(self, conn: Connection, user: str) -> int:
        ended = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, :wait)) "
                "FROM pg_stat_activity WHERE usename = :u AND pid <> pg_backend_pid()"
            ),
            {"u": user, "wait": _TERMINATE_WAIT_MS},
        ).scalar_one()
        return int(ended)

    def _drop_role(self, conn: Connection, user: str) -> None:
        role = self.quote(conn, user)
        # REASSIGN hands anything the role created to the admin; DROP OWNED then removes its
        # privileges here and on the database itself, which DROP ROLE requires. One
        # transaction: all three happen or none.
        conn.exec_driver_sql(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
        conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE {role}")
