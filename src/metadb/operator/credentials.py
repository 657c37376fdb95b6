"""Per-version credentials: one login role per schema version, with only the privileges the
application needs, rotated as the schema moves forward.

For schema version N the role is ``<prefix>_v<N>``. :meth:`VersionCredentials.ensure` creates it
with a random password (:mod:`secrets`), grants DML on the application's tables and writes the
URL to a :class:`SecretSink`; :meth:`VersionCredentials.revoke` drops it once no session uses it
(it never ends sessions unless told to). Who calls what:

- ``metadb db init`` (:mod:`metadb.operator.bootstrap`) calls :meth:`ensure` for the first
  version.
- The operator's control loop calls :meth:`ensure` for the current version after every
  migration (this also re-grants on tables the migration created), reads
  :meth:`existing_versions`, and calls :meth:`revoke` for versions below N-1.

What differs between databases lives in one class per dialect, registered in
:data:`CREDENTIALS` and picked by :func:`credentials_for`:
:class:`~metadb.operator.credentials_postgresql.PostgresqlCredentials` and
:class:`~metadb.operator.credentials_mysql.MysqlCredentials` implement the hooks of
:class:`LoginRoleCredentials`; :class:`~metadb.operator.credentials_sqlite.SqliteCredentials`
answers "not applicable".

Passwords never appear in logs, errors or return values: once written to the sink they are
forgotten. Role names appear only in :class:`RevokeOutcome` (the operator's status) and never in
log records.
"""

from __future__ import annotations

import logging
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy import Connection, String, literal
from sqlalchemy.exc import DBAPIError

from metadb.config import BUNDLED_MIGRATIONS_TABLE, DEFAULT_MIGRATIONS_TABLE
from metadb.db import Database
from metadb.db.dialect import DialectRegistry
from metadb.db.urls import DIALECTS
from metadb.errors import ConfigError, CredentialError

__all__ = [
    "CREDENTIALS",
    "DEFAULT_PROTECTED_TABLES",
    "PREFIX_PATTERN",
    "Credential",
    "LoginRoleCredentials",
    "MigrationCredential",
    "RevokeOutcome",
    "SecretSink",
    "VersionCredentials",
    "credentials_for",
    "generate_password",
    "validate_role_name",
]

log = logging.getLogger(__name__)

#: What a role-name prefix (and the migration role's name) must look like: lower-case, starting
#: with a letter or "_", at most 41 characters, so that ``<prefix>_v<version>`` stays within
#: PostgreSQL's 63 characters (which it would silently truncate) for any bigint version.
#: MySQL 8 allows 32 characters per user name: keep the prefix short there.
PREFIX_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,40}")

#: The table privileges an application role may get: data, never schema.
APPLICATION_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def validate_privileges(privileges: Sequence[str]) -> tuple[str, ...]:
    """``privileges`` upper-cased, in the order of :data:`APPLICATION_PRIVILEGES`.

    Raises:
        ConfigError: empty, or a privilege that is not one of the four.
    """
    wanted = {p.upper() for p in privileges}
    unknown = sorted(wanted - set(APPLICATION_PRIVILEGES))
    if unknown or not wanted:
        raise ConfigError(
            f"application privileges must be some of {', '.join(APPLICATION_PRIVILEGES)}"
            + (f", not {', '.join(unknown)}" if unknown else " (none given)")
        )
    return tuple(p for p in APPLICATION_PRIVILEGES if p in wanted)


#: Tables the application role may read but not write: the migration engine's bookkeeping
#: (golang-migrate's version table, metadb's history, Alembic's version table). PostgreSQL only;
#: see docs/credentials.md for MySQL.
DEFAULT_PROTECTED_TABLES = (
    DEFAULT_MIGRATIONS_TABLE,
    f"{DEFAULT_MIGRATIONS_TABLE}_history",
    BUNDLED_MIGRATIONS_TABLE,
    f"{BUNDLED_MIGRATIONS_TABLE}_history",
    "alembic_version",
)

#: Password length in bytes of randomness (the URL-safe text is 4/3 as long).
_PASSWORD_BYTES = 24


@dataclass(frozen=True)
class Credential:
    """The login role of one schema version and where its secret is. Holds no password."""

    version: int
    username: str
    secret_name: str
    #: Whether this call created the role (False when it existed and was only re-granted).
    created: bool = False


@dataclass(frozen=True)
class MigrationCredential:
    """The migration role made by ``metadb db init`` (it owns the database and runs DDL)."""

    username: str
    secret_name: str
    created: bool = False


@dataclass(frozen=True)
class RevokeOutcome:
    """What :meth:`VersionCredentials.revoke` did.

    ``revoked=False`` with ``sessions > 0``: the role is still in use, nothing was changed
    (message ``"waiting: N sessions use <user>"``). ``revoked=True``: the role is gone and its
    secret deleted; ``sessions`` is then the number of sessions that were terminated.
    """

    version: int
    username: str
    revoked: bool
    sessions: int
    message: str


class SecretSink(Protocol):
    """Where credentials go: files (:class:`~metadb.operator.secrets.FileSecretSink`) or
    Kubernetes Secrets (:class:`~metadb.operator.secrets.KubernetesSecretSink`).

    ``database`` is the managed database's name (it names and labels the secret), not
    necessarily the SQL database's name.
    """

    def write(self, *, database: str, version: int, username: str, password: str, url: str) -> str:
        """Create or replace the secret of ``version``; return its name (or file path)."""
        ...

    def delete(self, *, database: str, version: int) -> None:
        """Remove the secret of ``version`` if it exists (a sink may keep one still in use)."""
        ...

    def find(self, *, database: str, version: int) -> str | None:
        """The name of the existing secret of ``version``, or None. Never reads the password."""
        ...

    def write_migration(self, *, database: str, username: str, password: str, url: str) -> str:
        """Create or replace the migration role's secret; return its name (or file path)."""
        ...

    def find_migration(self, *, database: str) -> str | None:
        """The name of the migration role's existing secret, or None."""
        ...


def validate_role_name(name: str, *, what: str = "role name prefix") -> str:
    """``name`` if it matches :data:`PREFIX_PATTERN`; raises ConfigError otherwise.

    Example: ``validate_role_name("metadb_app")``.
    """
    if not PREFIX_PATTERN.fullmatch(name):
        raise ConfigError(
            f"the {what} {name!r} is not allowed: use 1 to 41 characters a-z, 0-9 and _, "
            "starting with a letter or _"
        )
    return name


def generate_password() -> str:
    """A new random password (192 bits, URL-safe characters) from :mod:`secrets`."""
    return secrets.token_urlsafe(_PASSWORD_BYTES)


class VersionCredentials(ABC):
    """Login roles ``<prefix>_v<N>`` on one database, and their secrets.

    ``database`` is an admin connection to the managed database itself (privileges are granted
    per database): it needs to create and drop roles, grant on the tables, and see every
    session (PostgreSQL: superuser or CREATEROLE plus ownership of the tables; MySQL: CREATE
    USER, GRANT OPTION, PROCESS and CONNECTION ADMIN). Constructing one does no I/O.

    Example::

        creds = credentials_for(db, prefix="shop_app", sink=FileSecretSink("secrets"),
                                database_name="shop")
        creds.ensure(3)                       # role shop_app_v3, secret secrets/shop-v3
        creds.revoke(1)                       # waits while a session of shop_app_v1 is open
    """

    #: False where the database has no login roles (SQLite).
    applicable: ClassVar[bool] = True

    def __init__(
        self,
        database: Database,
        *,
        prefix: str,
        sink: SecretSink,
        database_name: str,
        protected_tables: Sequence[str] = DEFAULT_PROTECTED_TABLES,
        privileges: Sequence[str] = APPLICATION_PRIVILEGES,
    ) -> None:
        self.database = database
        self.prefix = validate_role_name(prefix)
        self.sink = sink
        self.database_name = database_name
        self.protected_tables = tuple(protected_tables)
        self.privileges = validate_privileges(privileges)
        self._name = re.compile(re.escape(self.prefix) + r"_v(\d+)")

    # -- the interface the operator uses ----------------------------------------------------

    def username(self, version: int) -> str:
        """The role of ``version``: ``<prefix>_v<version>``."""
        if version < 0:
            raise ConfigError(f"a schema version is 0 or more, not {version}")
        return f"{self.prefix}_v{version}"

    @abstractmethod
    def ensure(self, version: int) -> Credential:
        """Make sure the role of ``version`` exists, can log in, has exactly the application's
        privileges, and has a secret. Idempotent: an existing role keeps its password (and its
        secret) and is only re-granted, which also covers tables created since the last call.
        A role whose secret is missing gets a new password and a new secret.

        Raises:
            CredentialError: the server refused a statement (the message has no password).
            SecretStoreError: the secret could not be written.
            CredentialsNotApplicableError: on SQLite.
        """

    @abstractmethod
    def existing_versions(self) -> list[int]:
        """The versions whose role exists on the server, ascending (found by the prefix)."""

    @abstractmethod
    def sessions(self, version: int) -> int:
        """How many sessions (other than this one) are logged in as the role of ``version``."""

    @abstractmethod
    def revoke(self, version: int, *, kill_sessions: bool = False) -> RevokeOutcome:
        """Drop the role of ``version`` and delete its secret, unless a session uses it.

        While a session is logged in as the role, nothing is changed and the outcome says
        ``waiting: N sessions use <user>`` (call again later). With ``kill_sessions=True`` those
        sessions are terminated first. Logins are disabled before the final session count, so
        a session cannot slip in between the check and the drop. A role that is already gone
        counts as revoked (its secret is deleted if left over).

        Raises:
            CredentialError: the server refused a statement.
            SecretStoreError: the secret could not be deleted.
        """

    # -- used by metadb db init ------------------------------------------------------------

    @abstractmethod
    def create_database_if_missing(self, admin: Database) -> bool:
        """Create this database (the one :attr:`database` points at) through ``admin``, a
        connection to the server's administrative database, unless it exists; return whether
        it was created. Called by ``metadb db init``.

        Raises:
            CredentialError: the server refused (the admin may not create databases).
        """

    @abstractmethod
    def ensure_migration_role(self, user: str) -> MigrationCredential:
        """Make sure role ``user`` exists and may run DDL on this database (it owns it on
        PostgreSQL; ALL PRIVILEGES on it on MySQL), with a secret. Idempotent like
        :meth:`ensure`.

        Raises:
            CredentialError, SecretStoreError: as :meth:`ensure`.
        """

    def url_for(self, user: str, password: str) -> str:
        """The admin URL with ``user`` and ``password`` in place of the admin's."""
        url = self.database.url.url.set(username=user, password=password)
        return url.render_as_string(hide_password=False)


class LoginRoleCredentials(VersionCredentials):
    """:class:`VersionCredentials` on a server with login roles (PostgreSQL, MySQL): the steps
    every such server shares, over the hooks below that each dialect's class implements."""

    def ensure(self, version: int) -> Credential:
        user = self.username(version)
        existing_secret = self.sink.find(database=self.database_name, version=version)
        with self._admin("creating or granting the login role", version) as conn:
            exists = self._role_exists(conn, user)
            password = None
            if not exists or existing_secret is None:
                password = generate_password()
                self._apply_password(conn, user, password, create=not exists, version=version)
            else:
                self._enable_login(conn, user)  # in case a revoke stopped half-way
            self._grant(conn, user)
        if password is None:
            assert existing_secret is not None
            log.info("credentials of version %s re-granted (secret %s)", version, existing_secret)
            return Credential(version, user, existing_secret, created=False)
        secret = self.sink.write(
            database=self.database_name,
            version=version,
            username=user,
            password=password,
            url=self.url_for(user, password),
        )
        log.info(
            "credentials of version %s %s (secret %s)",
            version,
            "created" if not exists else "given a new password",
            secret,
        )
        return Credential(version, user, secret, created=not exists)

    def existing_versions(self) -> list[int]:
        with self._admin("listing login roles", None) as conn:
            names = self._role_names(conn)
        found = (self._name.fullmatch(name) for name in names)
        return sorted({int(match[1]) for match in found if match})

    def sessions(self, version: int) -> int:
        with self._admin("counting sessions", version) as conn:
            return self._count_sessions(conn, self.username(version))

    def revoke(self, version: int, *, kill_sessions: bool = False) -> RevokeOutcome:
        user = self.username(version)
        killed = 0
        with self._admin("revoking the login role", version) as conn:
            if not self._role_exists(conn, user):
                self.sink.delete(database=self.database_name, version=version)
                return RevokeOutcome(version, user, True, 0, f"{user} was already revoked")
            count = self._count_sessions(conn, user)
            if count and not kill_sessions:
                return _waiting(version, user, count)
            # Each step commits: new logins must be refused before the sessions are counted
            # again, and PostgreSQL counts from a snapshot taken once per transaction.
            self._disable_login(conn, user)
            conn.commit()
            if kill_sessions:
                killed = self._terminate_sessions(conn, user)
                conn.commit()
            count = self._count_sessions(conn, user)
            conn.commit()
            if count:
                self._enable_login(conn, user)  # a session slipped in, or survived the kill
                return _waiting(version, user, count)
            self._drop_role(conn, user)
        self.sink.delete(database=self.database_name, version=version)
        log.info("credentials of version %s revoked (%d sessions terminated)", version, killed)
        message = f"revoked {user}" + (f" after terminating {killed} sessions" if killed else "")
        return RevokeOutcome(version, user, True, killed, message)

    def create_database_if_missing(self, admin: Database) -> bool:
        name = self.database.url.database
        if not name:
            raise ConfigError(f"{self.database.url.masked()} names no database")
        try:
            with admin.connect(autocommit=True) as conn:
                return admin.dialect.create_database_if_missing(conn, name)
        except DBAPIError as exc:
            raise self._error(exc, "creating the database", None) from exc

    def ensure_migration_role(self, user: str) -> MigrationCredential:
        validate_role_name(user, what="migration role name")
        existing_secret = self.sink.find_migration(database=self.database_name)
        with self._admin("creating the migration role", None) as conn:
            exists = self._role_exists(conn, user)
            password = None
            if not exists or existing_secret is None:
                password = generate_password()
                self._apply_password(conn, user, password, create=not exists, version=None)
            self._grant_migration(conn, user)
        if password is None:
            assert existing_secret is not None
            return MigrationCredential(user, existing_secret, created=False)
        secret = self.sink.write_migration(
            database=self.database_name,
            username=user,
            password=password,
            url=self.url_for(user, password),
        )
        return MigrationCredential(user, secret, created=not exists)

    # -- what each dialect provides --------------------------------------------------------

    @abstractmethod
    def _role_exists(self, conn: Connection, user: str) -> bool:
        """Whether the login role ``user`` exists on the server."""

    @abstractmethod
    def _password_sql(
        self, conn: Connection, user: str, password: str, *, create: bool
    ) -> tuple[str, str]:
        """The statement that creates the login role with ``password`` (``create``) or gives
        it a new one, and the literal in it that must never be shown."""

    def _after_password(self, conn: Connection, user: str) -> None:
        """Called after a new password was set on an existing role."""

    @abstractmethod
    def _grant(self, conn: Connection, user: str) -> None:
        """Give ``user`` exactly :attr:`privileges` on the application's tables (and withdraw
        the others), covering tables created since the last call."""

    @abstractmethod
    def _grant_migration(self, conn: Connection, user: str) -> None:
        """Let the migration role ``user`` run DDL on this database."""

    @abstractmethod
    def _role_names(self, conn: Connection) -> list[str]:
        """Names of the roles that start with the prefix."""

    @abstractmethod
    def _count_sessions(self, conn: Connection, user: str) -> int:
        """How many sessions other than ``conn``'s are logged in as ``user``."""

    @abstractmethod
    def _disable_login(self, conn: Connection, user: str) -> None:
        """Refuse new logins as ``user`` (sessions already open stay)."""

    @abstractmethod
    def _enable_login(self, conn: Connection, user: str) -> None:
        """Accept logins as ``user`` again."""

    @abstractmethod
    def _terminate_sessions(self, conn: Connection, user: str) -> int:
        """End every other session logged in as ``user``; how many were ended."""

    @abstractmethod
    def _drop_role(self, conn: Connection, user: str) -> None:
        """Drop the login role ``user`` (and what it owns)."""

    # -- helpers for the dialect classes ---------------------------------------------------

    @staticmethod
    def quote(conn: Connection, identifier: str) -> str:
        """``identifier`` quoted by the dialect's identifier preparer."""
        return conn.dialect.identifier_preparer.quote_identifier(identifier)

    @staticmethod
    def literal(conn: Connection, value: str) -> str:
        """``value`` as a SQL string literal of the dialect (for statements that take no bind
        parameters, such as CREATE ROLE)."""
        compiled = literal(value, String()).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True}
        )
        return str(compiled)

    @contextmanager
    def _admin(self, doing: str, version: int | None) -> Iterator[Connection]:
        """An admin connection whose work is one transaction, committed at the end (where the
        database has transactional DDL, a failure leaves nothing half done); server errors
        become CredentialError."""
        try:
            with self.database.connect() as conn:
                yield conn
                conn.commit()
        except DBAPIError as exc:
            raise self._error(exc, doing, version) from exc

    def _apply_password(
        self, conn: Connection, user: str, password: str, *, create: bool, version: int | None
    ) -> None:
        """Run the password statement on the driver's own cursor, in ``conn``'s transaction.

        Not through SQLAlchemy: its engine log (on whenever logging is at INFO, as with
        ``metadb --debug``) and its exceptions would carry the statement, and so the password.
        """
        statement, sensitive = self._password_sql(conn, user, password, create=create)
        if not conn.in_transaction():
            conn.begin()
        raw: Any = conn.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            # Empty parameters, as SQLAlchemy's exec_driver_sql passes: "%%" means "%" alike.
            cursor.execute(statement, ())
        except conn.dialect.loaded_dbapi.Error as exc:
            detail = " ".join(str(exc).split())
            for secret in (password, sensitive):
                detail = detail.replace(secret, "***")
            which = f" of version {version}" if version is not None else ""
            # from None: the driver's exception may quote the statement.
            raise CredentialError(
                f"setting the password of the login role{which} failed on "
                f"{self.database.url.masked()}: {self.database.url.scrub(detail)}. Check that "
                "the admin user may create roles (see docs/credentials.md); nothing was changed"
            ) from None
        finally:
            cursor.close()
        if not create:
            self._after_password(conn, user)

    def _error(self, exc: DBAPIError, doing: str, version: int | None) -> Exception:
        if exc.connection_invalidated or not exc.statement:
            return self.database.translate_connect_error(exc)
        orig = exc.orig if exc.orig is not None else exc
        detail = self.database.url.scrub(" ".join(str(orig).split()))
        which = f" of version {version}" if version is not None else ""
        kept = (
            "nothing was changed"
            if self.database.dialect.transactional_ddl
            else "statements that ran before it are kept; running it again completes the rest"
        )
        return CredentialError(
            f"{doing}{which} failed on {self.database.url.masked()}: {detail}. Check that the "
            f"admin user may create roles and grant privileges (see docs/credentials.md); {kept}"
        )


def _waiting(version: int, user: str, count: int) -> RevokeOutcome:
    log.info("credentials of version %s still in use by %d sessions; waiting", version, count)
    return RevokeOutcome(version, user, False, count, f"waiting: {count} sessions use {user}")


#: The :class:`VersionCredentials` class of each dialect; each dialect's module registers its own.
CREDENTIALS = DialectRegistry[type[VersionCredentials]](
    "per-version credentials",
    modules=[f"metadb.operator.credentials_{name}" for name in DIALECTS],
)


def credentials_for(
    database: Database,
    *,
    prefix: str,
    sink: SecretSink,
    database_name: str,
    protected_tables: Sequence[str] = DEFAULT_PROTECTED_TABLES,
    privileges: Sequence[str] = APPLICATION_PRIVILEGES,
) -> VersionCredentials:
    """The :class:`VersionCredentials` of ``database``'s dialect. Does no I/O.

    ``database`` connects as an admin to the managed database; ``prefix`` names the roles
    (``<prefix>_v<N>``; roles are server-wide, so give each database its own prefix);
    ``database_name`` names the secrets; ``privileges`` are the table privileges the
    application roles get (a subset of SELECT, INSERT, UPDATE, DELETE; all four by default).

    Raises:
        ConfigError: ``prefix`` is not a valid role name prefix, or ``privileges`` names
            something else than those four.

    Example: ``credentials_for(db, prefix="shop_app", sink=FileSecretSink("s"),
    database_name="shop").ensure(1)``.
    """
    cls = CREDENTIALS.get(database.dialect)
    return cls(
        database,
        prefix=prefix,
        sink=sink,
        database_name=database_name,
        protected_tables=protected_tables,
        privileges=privileges,
    )
