"""Every exception metadb raises on purpose.

Errors carry their facts as attributes and build their message in ``__init__``: what happened,
where (file, line, statement, table), and the next step. Third-party errors (SQLAlchemy, the
drivers, sqlglot) are translated into these at one seam each and never leak; the original is
kept as ``__cause__``.

    MetadbError                        (exit 1, HTTP 500 unless a class says otherwise)
    ├── ConfigError                    bad settings or arguments (exit 2, HTTP 400)
    │   ├── UnsupportedDatabaseError   a URL or DSN metadb cannot use
    │   ├── UnknownBackfillError       an id that names no backfill
    │   ├── MixedTextEncodingError     MySQL: MLMD text written both as ml-metadata's latin1
    │   │                              connection does and as UTF-8; the URL must pick a mode
    │   └── ResourceError              an operator resource file (YAML) is invalid
    ├── DatabaseError                  talking to the database failed (exit 1)
    │   ├── DatabaseUnreachableError   no connection: server down, wrong host or port (HTTP 503)
    │   │   └── ServerUnreachableError metadb.client: no answer from the metadb server
    │   ├── AuthenticationError        the server refused the credentials (HTTP 503)
    │   │   └── TokenRejectedError     metadb.client: the server refused the bearer token
    │   ├── StatementError             a statement the database rejected outside a migration
    │   ├── WriteConflictError         a write kept losing races to concurrent writers
    │   │                              (deadlocks, lock waits) past its retries (HTTP 503)
    │   ├── QueryTimeoutError          a store or runs statement ran past the statement
    │   │                              timeout and was cancelled (exit 1, HTTP 503)
    │   └── ServerResponseError        metadb.client: an answer the client cannot map (a 500,
    │                                  a path the server does not serve)
    ├── MigrationError
    │   ├── SourceError                the migration files are malformed (exit 1); nothing ran
    │   ├── MigrationFailedError       a statement failed while migrating (exit 1)
    │   │   └── TableLockTimeoutError  it gave up waiting for a table lock on every
    │   │                              attempt (exit 4)
    │   ├── DirtyDatabaseError         an earlier run failed mid-way (exit 3)
    │   ├── ChangedMigrationError      an applied migration's file changed (exit 3)
    │   ├── MissingMigrationError      the database is at a version the source lacks (exit 3)
    │   ├── VersionNotFoundError       a requested version is not in the source (exit 1)
    │   ├── NothingToResumeError       ``resume`` found no failed run to continue (exit 1)
    │   ├── IrreversibleMigrationError a down step has no down file (exit 1)
    │   ├── BaselineError              baseline asked of a database that has a version (exit 1)
    │   ├── BelowAdoptedBaselineError  a down step would drop the ml-metadata schema metadb
    │   │                              adopted, and its data; needs --force (exit 3)
    │   ├── UnsupportedSchemaError     an ml-metadata database at another schema version (exit 3)
    │   ├── SchemaOutOfDateError       the schema is not current (pending, dirty or newer)
    │   │                              where metadb may not migrate it: ``metadb serve
    │   │                              --no-migrate``, ``connect(migrate=False)``, the CLI's
    │   │                              run commands (exit 3; also a FailedPreconditionError)
    │   ├── HintsFailedError           the hints check found errors in pending migrations;
    │   │                              nothing ran (exit 3)
    │   └── LockTimeoutError           another run held the migration lock too long (exit 4)
    ├── BackfillFailedError            a backfill stopped on an error; it resumes (exit 1)
    ├── OperatorError                  the operator could not reconcile a database
    │   ├── TemporaryError             worth retrying with backoff (server unreachable,
    │   │                              lock timeout)
    │   └── PermanentError             waits for the resource's spec to change (a failed
    │                                  migration, a dirty database)
    ├── CredentialError                creating, granting or revoking a login role failed (exit 1)
    │   ├── CredentialsNotApplicableError  the database has no login roles (SQLite) (exit 2;
    │   │                                  also a ConfigError)
    │   └── SecretStoreError           a credential's secret could not be written or removed
    └── StoreError                     the metadata store refused a call (ml-metadata's codes)
        ├── NotFoundError              no such type, node or id (HTTP 404)
        ├── AlreadyExistsError         a name or external id is taken; a type conflicts
        │                              (HTTP 409)
        ├── InvalidArgumentError       a malformed value, property or filter_query (HTTP 400;
        │                              exit 2: from the CLI it is a bad argument)
        └── FailedPreconditionError    the call conflicts with stored data (a cycle, a
                                       missing node an event points at) (HTTP 412)

Each class carries its facts as class attributes, read at the two seams that turn errors into
answers: ``code`` (the machine-readable name of ``--json`` output and the REST API's JSON),
``exit_code`` (:mod:`metadb.cli.exitcodes` names the values) and ``http_status``
(:mod:`metadb.api.errors`). A subclass inherits its parent's unless it sets its own.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol


class _BackfillOutcome(Protocol):
    """What :class:`BackfillFailedError` reads of each backfill's result (the backfill
    package's ``BackfillResult``; declared here so that errors import nothing above them)."""

    @property
    def id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def cursor(self) -> int | None: ...
    @property
    def rows_written(self) -> int: ...
    @property
    def error(self) -> str | None: ...


#: The documented exit codes that errors carry (:mod:`metadb.cli.exitcodes` names them for the
#: CLI, with 0 for success).
EXIT_FAILED, EXIT_USAGE, EXIT_NEEDS_ATTENTION, EXIT_LOCK_TIMEOUT = 1, 2, 3, 4

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "BackfillFailedError",
    "BaselineError",
    "BelowAdoptedBaselineError",
    "ChangedMigrationError",
    "ConfigError",
    "CredentialError",
    "CredentialsNotApplicableError",
    "DatabaseError",
    "DatabaseUnreachableError",
    "DirtyDatabaseError",
    "FailedPreconditionError",
    "HintsFailedError",
    "InvalidArgumentError",
    "IrreversibleMigrationError",
    "LockTimeoutError",
    "MetadbError",
    "MigrationError",
    "MigrationFailedError",
    "MissingMigrationError",
    "MixedTextEncodingError",
    "NotFoundError",
    "NothingToResumeError",
    "OperatorError",
    "PermanentError",
    "QueryTimeoutError",
    "ResourceError",
    "SchemaOutOfDateError",
    "SecretStoreError",
    "ServerResponseError",
    "ServerUnreachableError",
    "SourceError",
    "StatementError",
    "StoreError",
    "TableLockTimeoutError",
    "TemporaryError",
    "TokenRejectedError",
    "UnknownBackfillError",
    "UnsupportedDatabaseError",
    "UnsupportedSchemaError",
    "VersionNotFoundError",
    "WriteConflictError",
]


class MetadbError(Exception):
    """Base of every error metadb raises on purpose."""

    #: Machine-readable name, used by ``--json`` output and the REST API.
    code: str = "error"
    #: The CLI's exit code for it (:mod:`metadb.cli.exitcodes`).
    exit_code: int = EXIT_FAILED
    #: The REST API's status for it; 500 is a bug, logged without the message.
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(MetadbError):
    """Settings or arguments that cannot work; fix the invocation."""

    code = "config"
    exit_code = EXIT_USAGE
    http_status = 400


class UnsupportedDatabaseError(ConfigError):
    """A database URL or DSN metadb cannot use."""

    code = "unsupported_database"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"cannot use database {url!r}: {reason}. Supported: sqlite:///PATH, "
            "postgresql://USER:PASSWORD@HOST:PORT/DB (or postgres://), "
            "mysql://USER:PASSWORD@HOST:PORT/DB, a Go MySQL DSN such as "
            "USER:PASSWORD@tcp(HOST:PORT)/DB with --database-type mysql, or a libpq "
            "'host=... dbname=...' string with --database-type postgresql"
        )


class DatabaseError(MetadbError):
    """Talking to the database failed."""

    code = "database"


class DatabaseUnreachableError(DatabaseError):
    """No connection could be made to the database at ``url`` (password masked); ``detail``
    is what the driver said.

    ``from_server``: a metadb server at ``url`` reported that *its* database is unreachable,
    and ``detail`` is the server's message (:mod:`metadb.client` raises it so).
    """

    code = "unreachable"
    http_status = 503

    def __init__(self, url: str, detail: str, *, from_server: bool = False) -> None:
        self.url = url
        self.detail = detail
        self.from_server = from_server
        super().__init__(self._explain())

    def _explain(self) -> str:
        if self.from_server:
            return f"the metadb server at {self.url} cannot reach its database: {self.detail}"
        return (
            f"cannot connect to {self.url}: {self.detail}. Check that the server is running "
            "and that the host, port and database name are right; nothing was changed"
        )


class AuthenticationError(DatabaseError):
    """The database server at ``url`` refused the user name or password.

    ``from_server``: a metadb server at ``url`` reported that *its* database refused its
    credentials, and ``detail`` is the server's message (:mod:`metadb.client` raises it so).
    """

    code = "authentication"
    http_status = 503

    def __init__(self, url: str, detail: str, *, from_server: bool = False) -> None:
        self.url = url
        self.detail = detail
        self.from_server = from_server
        super().__init__(self._explain())

    def _explain(self) -> str:
        if self.from_server:
            return f"the metadb server at {self.url} cannot log in to its database: {self.detail}"
        return (
            f"the server at {self.url} refused the credentials: {self.detail}. Check the user "
            "name and password in the database URL; nothing was changed"
        )


class StatementError(DatabaseError):
    """The database rejected a statement metadb issued outside a migration file."""

    code = "statement"


class WriteConflictError(DatabaseError):
    """A write transaction lost to concurrent writers (a deadlock, a serialization failure, a
    lock wait that gave up) on every one of its tries; each try was rolled back, so nothing
    of the call was written. Worth retrying later."""

    code = "write_conflict"
    http_status = 503

    def __init__(self, *, doing: str, attempts: int | None, detail: str) -> None:
        self.doing = doing
        #: None where a metadb server reported it (metadb.client): the server counted them.
        self.attempts = attempts
        self.detail = detail
        tries = f"all {attempts} tries" if attempts is not None else "every try"
        super().__init__(
            f"{doing} conflicted with concurrent writers on {tries} ({detail}); "
            "nothing was written. Retry the call; if it keeps failing, look for a long "
            "transaction holding locks on the database"
        )


class QueryTimeoutError(DatabaseError):
    """The database cancelled a store or runs statement that ran longer than the statement
    timeout (``statement_timeout`` of :func:`metadb.connect`, ``metadb serve
    --statement-timeout``). The database's backend is free again; nothing was changed.

    The REST API answers 503: the request was well-formed but the database could not answer
    it in time (a heavy filter, a loaded server). Exit code 1.
    """

    code = "query_timeout"
    http_status = 503

    def __init__(self, *, timeout: float | None, doing: str) -> None:
        #: None where a metadb server reported it (metadb.client): the server's limit.
        self.timeout = timeout
        self.doing = doing
        limit = (
            f"the statement timeout of {timeout:g}s"
            if timeout is not None
            else ("the server's statement timeout")
        )
        super().__init__(
            f"{doing} ran longer than {limit} and the database "
            "cancelled it; nothing was changed. Narrow the filter (fewer neighbours, a smaller "
            "page), or raise the timeout (statement_timeout=SECONDS in the database URL, "
            "'metadb serve --statement-timeout')"
        )


class ServerUnreachableError(DatabaseUnreachableError):
    """:mod:`metadb.client` got no answer from the metadb server (refused, timed out)."""

    code = "server_unreachable"

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(url, detail)

    def _explain(self) -> str:
        return (
            f"no answer from the metadb server at {self.url}: {self.detail}. Check that "
            "'metadb serve' is running there and reachable; the call may or may not have been "
            "applied"
        )


class TokenRejectedError(AuthenticationError):
    """The metadb server refused :mod:`metadb.client`'s bearer token (HTTP 401)."""

    code = "unauthenticated"

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(url, detail)

    def _explain(self) -> str:
        return (
            f"the metadb server at {self.url} refused the request: {self.detail}. Pass the "
            "server's token as Client(url, token=...); nothing was changed"
        )


class ServerResponseError(DatabaseError):
    """The metadb server answered with an error :mod:`metadb.client` has no class for: a 500,
    or ``route_not_found`` (the server does not serve the path: it runs another version)."""

    code = "server_response"

    def __init__(self, *, url: str, status: int, code: str, message: str) -> None:
        self.url = url
        self.status = status
        self.server_code = code
        super().__init__(f"the metadb server at {url} answered {status} ({code}): {message}")


class MigrationError(MetadbError):
    """Base of the migration engine's errors."""

    code = "migration"


class SourceError(MigrationError):
    """The migration source is malformed. Raised before anything runs."""

    code = "bad_source"

    def __init__(self, path: Path | str, problem: str, *, hint: str | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.hint = hint
        message = f"{self.path}: {problem}"
        if hint:
            message += f". {hint}"
        super().__init__(message + "; nothing was run")


class MigrationFailedError(MigrationError):
    """A statement of a migration failed.

    ``dirty`` says whether the database was left part-way (MySQL, or a file that opted out of
    its transaction): then ``metadb migrate resume`` continues at ``statement_index``.
    """

    code = "migration_failed"

    def __init__(
        self,
        *,
        path: str,
        version: int,
        direction: str,
        statement_index: int,
        statements_total: int,
        line: int,
        statement: str,
        server_error: str,
        dirty: bool,
        version_now: int | None,
    ) -> None:
        self.path = path
        self.version = version
        self.direction = direction
        self.statement_index = statement_index
        self.statements_total = statements_total
        self.line = line
        self.statement = statement
        self.server_error = server_error
        self.dirty = dirty
        self.version_now = version_now
        where = (
            f"{path}:{line}: statement {statement_index + 1} of {statements_total} "
            f"failed while migrating {direction}"
        )
        text = _shorten(statement)
        if dirty:
            nxt = (
                f"{statement_index} statement(s) of this file were applied and the database is "
                f"marked dirty at version {version_now}. Fix the cause, then run "
                "'metadb migrate resume' to continue at the failed statement (or repair by hand "
                f"and run 'metadb migrate force VERSION')"
            )
        else:
            now = "no version" if version_now is None else f"version {version_now}"
            nxt = (
                f"The migration's transaction was rolled back: the database is still at {now} "
                "and not dirty. Fix the file or the data and run the command again"
            )
        super().__init__(f"{where}\n  {text}\n  server said: {server_error}\n{nxt}")


class TableLockTimeoutError(MigrationFailedError):
    """A migration statement gave up waiting for a lock (the statement lock timeout) on every
    attempt, so that it never queued the application's traffic behind it for long."""

    code = "table_lock_timeout"
    exit_code = EXIT_LOCK_TIMEOUT

    def __init__(
        self,
        *,
        tables: Sequence[str],
        holder: str | None,
        attempts: int,
        lock_timeout: float,
        **failed: Any,
    ) -> None:
        super().__init__(**failed)
        self.tables = list(tables)
        self.holder = holder
        self.attempts = attempts
        self.lock_timeout = lock_timeout
        on = f"a lock on {', '.join(self.tables)}" if self.tables else "a lock"
        where = (
            f"{self.path}:{self.line}: statement {self.statement_index + 1} of "
            f"{self.statements_total} waited {lock_timeout:g}s for {on} and gave up, "
            f"{attempts} time(s) (migrating {self.direction})"
        )
        held = f"held by {holder}" if holder else "the holder is unknown (it may have finished)"
        if self.dirty:
            nxt = (
                f"{self.statement_index} statement(s) of this file were applied and the database "
                f"is marked dirty at version {self.version_now}. When the holder's transaction "
                "has ended, run 'metadb migrate resume' to continue at this statement"
            )
        else:
            now = "no version" if self.version_now is None else f"version {self.version_now}"
            nxt = (
                f"The step's transaction was rolled back: the database is still at {now} and "
                "not dirty. When the holder's transaction has ended, run the command again"
            )
        self.message = (
            f"{where}\n  {_shorten(self.statement)}\n  {held}\n{nxt} (or raise "
            "--statement-lock-timeout / --lock-retries to wait longer; the application's "
            "statements on the table queue behind the migration while it waits)"
        )
        self.args = (self.message,)


class DirtyDatabaseError(MigrationError):
    """An earlier run failed part-way and left the version marked dirty."""

    code = "dirty"
    exit_code = EXIT_NEEDS_ATTENTION

    def __init__(
        self,
        *,
        version: int | None,
        path: str | None,
        statement_index: int | None,
        statement: str | None,
        error: str | None,
        resumable: bool,
    ) -> None:
        self.version = version
        self.path = path
        self.statement_index = statement_index
        self.statement = statement
        self.error = error
        self.resumable = resumable
        msg = f"the database is dirty at version {version}: an earlier migration failed part-way"
        if path is not None:
            msg += f" in {path}"
        if statement_index is not None:
            msg += f" at statement {statement_index + 1}"
        if statement:
            msg += f"\n  {_shorten(statement)}"
        if error:
            msg += f"\n  server said: {error}"
        if resumable:
            msg += (
                "\nFix the cause, then run 'metadb migrate resume' to continue at that statement. "
                "If you repaired the schema by hand instead, run 'metadb migrate force "
                f"{version}' (the version whose migration is now complete)"
            )
        else:
            msg += (
                "\nmetadb has no record of which statements ran (the failure happened outside "
                "metadb, for example under golang-migrate). Check the schema by hand, then run "
                "'metadb migrate force VERSION' with the last version that is fully applied"
            )
        super().__init__(msg)


class ChangedMigrationError(MigrationError):
    """Files of applied migrations differ from what was applied."""

    code = "changed"
    exit_code = EXIT_NEEDS_ATTENTION

    def __init__(self, changed: Sequence[tuple[int, str]]) -> None:
        self.changed = list(changed)
        names = ", ".join(f"{path} (version {version})" for version, path in self.changed)
        super().__init__(
            f"applied migration files changed since they ran: {names}. Applied migrations must "
            "not be edited: restore the files and put the change in a new migration, or pass "
            "--allow-changed to go ahead anyway"
        )


class MissingMigrationError(MigrationError):
    """The database is at a version that the source has no file for."""

    code = "missing"
    exit_code = EXIT_NEEDS_ATTENTION

    def __init__(self, version: int, source: str) -> None:
        self.version = version
        self.source = source
        super().__init__(
            f"the database is at version {version} but {source} has no migration with that "
            "version. Point --source at the directory the database was migrated from, or run "
            "'metadb migrate force VERSION' with a version the source has"
        )


class VersionNotFoundError(MigrationError):
    """A version asked for (goto, force) is not in the source."""

    code = "version_not_found"

    def __init__(self, version: int, source: str, available: Sequence[int]) -> None:
        self.version = version
        self.source = source
        self.available = list(available)
        shown = ", ".join(str(v) for v in self.available[-10:]) or "none"
        super().__init__(
            f"{source} has no migration with version {version} (its newest versions: {shown})"
        )


class NothingToResumeError(MigrationError):
    """``resume`` was asked for but no failed migration is waiting."""

    code = "nothing_to_resume"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"nothing to resume: {reason}")


class IrreversibleMigrationError(MigrationError):
    """A down step reached a migration that has no down file."""

    code = "irreversible"

    def __init__(self, version: int, path: str) -> None:
        self.version = version
        self.path = path
        super().__init__(
            f"migration {version} ({path}) is marked irreversible and has no down migration; "
            "nothing was changed. Restore from a backup, or write a down file and remove the "
            "irreversible marker"
        )


class BaselineError(MigrationError):
    """``baseline`` records a version for databases that have none; this one has one."""

    code = "baseline"

    def __init__(self, version: int | None, dirty: bool) -> None:
        self.version = version
        self.dirty = dirty
        super().__init__(
            f"cannot baseline: the database is already at version {version}"
            f"{' (dirty)' if dirty else ''}. Baseline is for databases whose schema was created "
            "without metadb; use 'metadb migrate force VERSION' to correct a recorded version"
        )


class BelowAdoptedBaselineError(MigrationError):
    """A down step would revert the version at which metadb adopted a database that
    ml-metadata created, dropping ml-metadata's tables and every row in them."""

    code = "below_adopted_baseline"
    exit_code = EXIT_NEEDS_ATTENTION

    def __init__(
        self, *, baseline: int, target: int | None, versions: Sequence[int], tables: Sequence[str]
    ) -> None:
        self.baseline = baseline
        self.target = target
        self.versions = list(versions)
        self.tables = list(tables)
        shown = ", ".join(self.tables[:12]) + (", ..." if len(self.tables) > 12 else "")
        dropped = f"drop {len(self.tables)} table(s) ({shown})" if self.tables else "undo it"
        super().__init__(
            f"refusing to go below version {baseline}: metadb adopted this database at version "
            f"{baseline} (ml-metadata created its schema), and reverting migration(s) "
            f"{', '.join(map(str, self.versions))} would {dropped} with all their data, which "
            f"ml-metadata and its users still need; nothing was changed. Stop at version "
            f"{baseline} with 'metadb migrate goto {baseline}', or, to drop them anyway, repeat "
            "the command with --force"
        )


class UnsupportedSchemaError(MigrationError):
    """The database holds ml-metadata tables at a schema version metadb does not read."""

    code = "unsupported_schema"
    exit_code = EXIT_NEEDS_ATTENTION

    def __init__(self, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        if found < supported:
            step = (
                "Upgrade it first with ml-metadata 1.14 or newer (open it once with "
                "MetadataStore(config, enable_upgrade_migration=True)), then run metadb again"
            )
        else:
            step = "It was written by a newer ml-metadata; use a metadb release that supports it"
        super().__init__(
            f"the database was created by ml-metadata at MLMD schema version {found}; metadb "
            f"reads schema version {supported}. {step}. Nothing was changed"
        )


class LockTimeoutError(MigrationError):
    """Another run held the migration lock longer than the timeout."""

    code = "lock_timeout"
    exit_code = EXIT_LOCK_TIMEOUT

    def __init__(self, *, what: str, timeout: float, holder: str | None) -> None:
        self.what = what
        self.timeout = timeout
        self.holder = holder
        held = f"held by {holder}" if holder else "held by another connection"
        super().__init__(
            f"gave up waiting for the {what} after {timeout:g}s ({held}); nothing was changed. "
            "Wait for the other run to finish and try again, or raise --lock-timeout"
        )


class CredentialError(MetadbError):
    """Creating, granting or revoking a per-version login role failed.

    The message never holds a password: statements that carry one are not quoted.
    """

    code = "credential"


class CredentialsNotApplicableError(CredentialError, ConfigError):
    """Per-version credentials were asked of a database that has no login roles (SQLite)."""

    code = "credentials_not_applicable"
    exit_code = EXIT_USAGE
    http_status = 400

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        super().__init__(
            f"per-version credentials are not applicable to {dialect}: it has no login roles "
            "or privileges. Protect the database file with file permissions instead; nothing "
            "was changed"
        )


class SecretStoreError(CredentialError):
    """A credential's secret (a file, a Kubernetes Secret) could not be written or removed."""

    code = "secret_store"

    def __init__(self, secret: str, detail: str) -> None:
        self.secret = secret
        self.detail = detail
        super().__init__(f"cannot store or remove the secret {secret}: {detail}")


class StoreError(MetadbError):
    """Base of the metadata store's errors; the names follow ml-metadata's status codes."""

    code = "store"


class NotFoundError(StoreError):
    """No such type, node, run or id."""

    code = "not_found"
    http_status = 404


class AlreadyExistsError(StoreError):
    """A name or external id is taken, or a type conflicts with the stored one."""

    code = "already_exists"
    http_status = 409


class InvalidArgumentError(StoreError):
    """A malformed value, property, filter or request. From the CLI it is a bad argument."""

    code = "invalid_argument"
    exit_code = EXIT_USAGE
    http_status = 400


class FailedPreconditionError(StoreError):
    """The call conflicts with stored data or with the state of the database."""

    code = "failed_precondition"
    http_status = 412


class SchemaOutOfDateError(MigrationError, FailedPreconditionError):
    """The schema is not at the newest migration metadb has (migrations are pending, it is
    dirty, or a newer metadb migrated it) where metadb may not migrate it: ``metadb serve
    --no-migrate``, ``metadb.connect(url, migrate=False)``, the CLI's run commands, and the
    server's readiness. :func:`metadb.store.connect.require_current_schema` decides it.

    ``database`` is the masked URL, ``latest`` the newest migration metadb has; the message
    names the command that fixes it. It is also a FailedPreconditionError: the call needs a
    current schema.
    """

    code = "schema_out_of_date"
    exit_code = EXIT_NEEDS_ATTENTION

    def __init__(
        self,
        *,
        database: str,
        version: int | None,
        pending: Sequence[int],
        dirty: bool,
        latest: int | None = None,
    ) -> None:
        self.database = database
        self.version = version
        self.pending = list(pending)
        self.dirty = dirty
        self.latest = latest
        where = f"--database {shlex.quote(database)}"
        password = " (with the real password in place of ***)" if "***" in database else ""
        at = "no version" if version is None else f"version {version}"
        if dirty:
            msg = (
                f"the schema of {database} is dirty at {at}: an earlier migration failed "
                f"part-way. See what failed with: metadb migrate status {where}{password}; "
                f"then continue it with: metadb migrate resume {where}"
            )
        elif not self.pending and version is not None and latest is not None and version > latest:
            msg = (
                f"the schema of {database} is at {at}, newer than the newest migration this "
                f"metadb has ({latest}): a newer metadb release migrated it. Use that release "
                "or a newer one"
            )
        else:
            shown = ", ".join(str(v) for v in self.pending[:10])
            more = ", ..." if len(self.pending) > 10 else ""
            msg = (
                f"the schema of {database} is not current: it is at {at} and "
                f"{len(self.pending)} migration(s) are pending ({shown}{more}). Bring it up to "
                f"date with: metadb migrate up {where}{password}; or let metadb migrate it "
                "when it opens the database (metadb serve without --no-migrate, "
                "metadb.connect(url) without migrate=False)"
            )
        super().__init__(msg + "; nothing was changed")


class MixedTextEncodingError(ConfigError):
    """On MySQL/MariaDB, the MLMD tables hold non-ASCII text written by ml-metadata's latin1
    connection and text written as proper UTF-8, so no text mode reads all of it right."""

    code = "mixed_text_encoding"

    def __init__(
        self, *, database: str, latin1: Sequence[str], utf8: Sequence[str], parameter: str
    ) -> None:
        self.database = database
        self.latin1 = list(latin1)
        self.utf8 = list(utf8)
        super().__init__(
            f"{database} holds MLMD text written two ways: as ml-metadata's latin1 connection "
            f"writes it (e.g. {', '.join(map(repr, self.latin1))}) and as UTF-8 (e.g. "
            f"{', '.join(map(repr, self.utf8))}), so metadb cannot tell which to read; no text "
            f"was read or written. Pick one in the URL: ?{parameter}=latin1 if ml-metadata still "
            f"writes to this database, else ?{parameter}=utf8mb4 (see docs/store.md)"
        )


class ResourceError(ConfigError):
    """An operator resource (a ManagedDatabase or DatabaseMigration YAML document) is invalid."""

    code = "bad_resource"

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}. Fix the resource; nothing was changed")


class UnknownBackfillError(ConfigError):
    """An id given to ``run`` or ``verify`` names no backfill."""

    code = "unknown_backfill"

    def __init__(self, unknown: Sequence[str], known: Sequence[str]) -> None:
        self.unknown = list(unknown)
        self.known = list(known)
        super().__init__(
            f"no backfill named {', '.join(map(repr, self.unknown))}; nothing was run. "
            f"Known: {', '.join(self.known) or 'none'} ('metadb backfill list' shows them)"
        )


class BackfillFailedError(MetadbError):
    """One or more backfills stopped on an error. The others ran; ``results`` has them all."""

    code = "backfill_failed"

    def __init__(self, results: Sequence[_BackfillOutcome]) -> None:
        # The caller's own result objects (BackfillResult), as it passed them.
        self.results: list[Any] = list(results)
        self.failed = [r for r in self.results if r.state == "failed"]
        lines = []
        for r in self.failed:
            at = "the start" if r.cursor is None else f"run id {r.cursor}"
            lines.append(
                f"backfill {r.id} failed after writing {r.rows_written} rows: {r.error}. "
                f"Rows written so far are kept; fix the cause and run 'metadb backfill run "
                f"{r.id}': it resumes after {at}"
            )
        super().__init__("\n".join(lines))


class OperatorError(MetadbError):
    """The operator could not reconcile a ManagedDatabase. ``reason`` is the CamelCase word
    its status condition and event carry."""

    code = "operator"

    def __init__(self, *, database: str, reason: str, message: str) -> None:
        self.database = database
        self.reason = reason
        super().__init__(f"{database}: {message}")


class TemporaryError(OperatorError):
    """Worth retrying after ``delay`` seconds: the server is unreachable, a lock is held."""

    code = "temporary"

    def __init__(self, *, database: str, reason: str, message: str, delay: float) -> None:
        self.delay = delay
        super().__init__(database=database, reason=reason, message=message)


class PermanentError(OperatorError):
    """Retrying cannot help: the operator waits until the resource's spec changes."""

    code = "permanent"


class HintsFailedError(MigrationError):
    """The hints check found statements that will fail; ``migrate up`` ran nothing.

    ``findings`` are :class:`metadb.hints.Finding` objects (rule_id, path, line, message, ...).
    """

    code = "hints_failed"
    exit_code = EXIT_NEEDS_ATTENTION

    def __init__(self, findings: Sequence[Any]) -> None:
        self.findings = list(findings)
        lines = [
            f"  {f.path}:{f.line} [{f.rule_id}] {f.message}\n    {_shorten(f.statement, 120)}"
            + (f"\n    safer: {f.safer}" if f.safer else "")
            for f in self.findings
        ]
        rules = sorted({f.rule_id for f in self.findings})
        override = " ".join(f"--ignore-hint {r}" for r in rules)
        super().__init__(
            f"the hints check found {len(self.findings)} error(s) in the pending migrations; "
            "nothing was run:\n" + "\n".join(lines) + "\nFix the migrations or the data, or "
            f"override with {override} if you know better (--no-hints skips the check)"
        )


def _shorten(statement: str, limit: int = 300) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
