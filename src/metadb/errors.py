"""Every exception metadb raises on purpose.

Errors carry their facts as attributes and build their message in ``__init__``: what happened,
where (file, line, statement, table), and the next step. Third-party errors (SQLAlchemy, the
drivers, sqlglot) are translated into these at one seam each and never leak; the original is
kept as ``__cause__``.

    MetadbError
    ├── ConfigError                    bad settings or arguments (exit 2)
    │   ├── UnsupportedDatabaseError   a URL or DSN metadb cannot use
    │   ├── UnknownBackfillError       an id that names no backfill
    │   └── ResourceError              an operator resource file (YAML) is invalid
    ├── DatabaseError                  talking to the database failed (exit 1)
    │   ├── DatabaseUnreachableError   no connection: server down, wrong host or port
    │   │   └── ServerUnreachableError metadb.client: no answer from the metadb server
    │   ├── AuthenticationError        the server refused the credentials
    │   │   └── TokenRejectedError     metadb.client: the server refused the bearer token
    │   ├── StatementError             a statement the database rejected outside a migration
    │   ├── QueryTimeoutError          a store or runs statement ran past the statement
    │   │                              timeout and was cancelled (exit 1, HTTP 503)
    │   └── ServerResponseError        metadb.client: an answer the client cannot map (a 500)
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
    │   ├── UnsupportedSchemaError     an ml-metadata database at another schema version (exit 3)
    │   ├── SchemaOutOfDateError       migrations pending or dirty where they may not run, such
    │   │                              as ``metadb serve --no-migrate`` (exit 3)
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
    │   ├── CredentialsNotApplicableError  the database has no login roles (SQLite) (exit 2)
    │   └── SecretStoreError           a credential's secret could not be written or removed
    └── StoreError                     the metadata store refused a call (ml-metadata's codes)
        ├── NotFoundError              no such type, node or id
        ├── AlreadyExistsError         a name or external id is taken; a type conflicts
        ├── InvalidArgumentError       a malformed value, property or filter_query
        │                              (exit 2: from the CLI it is a bad argument)
        └── FailedPreconditionError    the call conflicts with stored data (a cycle, a
                                       missing node an event points at)

Exit codes are assigned in one table, :data:`metadb.cli.exitcodes.EXIT_CODES`.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metadb.backfill.runner import BackfillResult

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "BackfillFailedError",
    "BaselineError",
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
]


class MetadbError(Exception):
    """Base of every error metadb raises on purpose."""

    #: Machine-readable name, used by ``--json`` output and the REST API.
    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(MetadbError):
    """Settings or arguments that cannot work; fix the invocation."""

    code = "config"


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
    """No connection could be made."""

    code = "unreachable"

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        super().__init__(
            f"cannot connect to {url}: {detail}. Check that the server is running and that "
            "the host, port and database name are right; nothing was changed"
        )


class AuthenticationError(DatabaseError):
    """The server refused the user name or password."""

    code = "authentication"

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        super().__init__(
            f"the server at {url} refused the credentials: {detail}. Check the user name and "
            "password in the database URL; nothing was changed"
        )


class StatementError(DatabaseError):
    """The database rejected a statement metadb issued outside a migration file."""

    code = "statement"


class QueryTimeoutError(DatabaseError):
    """The database cancelled a store or runs statement that ran longer than the statement
    timeout (``statement_timeout`` of :func:`metadb.connect`, ``metadb serve
    --statement-timeout``). The database's backend is free again; nothing was changed.

    The REST API answers 503: the request was well-formed but the database could not answer
    it in time (a heavy filter, a loaded server). Exit code 1.
    """

    code = "query_timeout"

    def __init__(self, *, timeout: float, doing: str) -> None:
        self.timeout = timeout
        self.doing = doing
        super().__init__(
            f"{doing} ran longer than the statement timeout of {timeout:g}s and the database "
            "cancelled it; nothing was changed. Narrow the filter (fewer neighbours, a smaller "
            "page), or raise the timeout (statement_timeout=SECONDS in the database URL, "
            "'metadb serve --statement-timeout')"
        )


class ServerUnreachableError(DatabaseUnreachableError):
    """:mod:`metadb.client` got no answer from the metadb server (refused, timed out)."""

    code = "server_unreachable"

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        MetadbError.__init__(
            self,
            f"no answer from the metadb server at {url}: {detail}. Check that 'metadb serve' "
            "is running there and reachable; the call may or may not have been applied",
        )


class TokenRejectedError(AuthenticationError):
    """The metadb server refused :mod:`metadb.client`'s bearer token (HTTP 401)."""

    code = "unauthenticated"

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        MetadbError.__init__(
            self,
            f"the metadb server at {url} refused the request: {detail}. Pass the server's "
            "token as Client(url, token=...); nothing was changed",
        )


class ServerResponseError(DatabaseError):
    """The metadb server answered with an error :mod:`metadb.client` has no class for."""

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


class UnsupportedSchemaError(MigrationError):
    """The database holds ml-metadata tables at a schema version metadb does not read."""

    code = "unsupported_schema"

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


class SchemaOutOfDateError(MigrationError):
    """The schema is behind the migrations (or dirty) where metadb may not migrate it.

    ``database`` is the masked URL; the message names the command that fixes it.
    """

    code = "schema_out_of_date"

    def __init__(
        self, *, database: str, version: int | None, pending: Sequence[int], dirty: bool
    ) -> None:
        self.database = database
        self.version = version
        self.pending = list(pending)
        self.dirty = dirty
        where = f"--database {shlex.quote(database)}"
        password = " (with the real password in place of ***)" if "***" in database else ""
        at = "no version" if version is None else f"version {version}"
        if dirty:
            msg = (
                f"the schema of {database} is dirty at {at}: an earlier migration failed "
                f"part-way. See what failed with: metadb migrate status {where}{password}; "
                f"then continue it with: metadb migrate resume {where}"
            )
        else:
            shown = ", ".join(str(v) for v in self.pending[:10])
            more = ", ..." if len(self.pending) > 10 else ""
            msg = (
                f"the schema of {database} is not current: it is at {at} and "
                f"{len(self.pending)} migration(s) are pending ({shown}{more}). Bring it up to "
                f"date with: metadb migrate up {where}{password}; or start without --no-migrate"
            )
        super().__init__(msg + "; nothing was changed")


class LockTimeoutError(MigrationError):
    """Another run held the migration lock longer than the timeout."""

    code = "lock_timeout"

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
    code = "not_found"


class AlreadyExistsError(StoreError):
    code = "already_exists"


class InvalidArgumentError(StoreError):
    code = "invalid_argument"


class FailedPreconditionError(StoreError):
    code = "failed_precondition"


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

    def __init__(self, results: Sequence[BackfillResult]) -> None:
        self.results = list(results)
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
