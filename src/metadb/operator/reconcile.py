"""The control loop: bring one ManagedDatabase to its desired schema version, as plain Python.

One call of :func:`reconcile` is one pass:

1. read and publish the data metrics;
2. read the current version; if it is the desired one, reconcile the credentials and stop;
3. walk the chain of migrations from the current version to the desired one (the
   DatabaseMigrations' ``previous`` links, or the source's order); a missing link blocks;
4. run the hints; an error-level finding blocks, with the findings in the status;
5. migrate one version at a time; after each step ensure the credentials of the new version,
   revoke those of versions N-2 and below once no session uses them, update status and metrics.

A failed migration is never rolled back: the status, an event and a metric say what failed.
Temporary errors (unreachable server, lock timeouts) ask to be retried with backoff; permanent
ones wait until the spec changes. A desired version below the current one blocks unless
``allowDowngrade``; ``readOnly`` reports what would be done and changes nothing. Nothing here
imports kopf: :mod:`metadb.operator.kubernetes` and :mod:`metadb.operator.local` call this.

Example::

    result = reconcile(resource, context=ReconcileContext(metrics=OperatorMetrics(),
                                                          resolve_secret=resolver))
    result.status.current_version, result.error, result.requeue_after
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from metadb import migrate
from metadb.clock import utcnow
from metadb.db.database import Database
from metadb.errors import (
    AuthenticationError,
    CredentialError,
    DatabaseUnreachableError,
    LockTimeoutError,
    MetadbError,
    MigrationFailedError,
    OperatorError,
    PermanentError,
    TableLockTimeoutError,
    TemporaryError,
)
from metadb.hints.report import Finding
from metadb.migrate.commands import MigrateConfig
from metadb.migrate.source import load_source
from metadb.operator import datametrics
from metadb.operator.credentials import SecretSink, credentials_for
from metadb.operator.metrics import OperatorMetrics
from metadb.operator.resources import (
    Condition,
    ConditionType,
    DatabaseMigration,
    ErrorRecord,
    HintFinding,
    HintsStatus,
    ManagedDatabase,
    ManagedDatabaseStatus,
    MigrationRecord,
    SecretRef,
)
from metadb.operator.rotation import rotate
from metadb.operator.versioning import (
    BrokenChain,
    GolangMigrateReader,
    Step,
    VersionReader,
    VersionReadError,
    newest,
    plan_chain,
    reader_for,
)

log = logging.getLogger(__name__)

#: Resolves a secret reference in a namespace to its value; raises LookupError (with a message
#: naming the secret) when there is no such secret or key.
SecretResolver = Callable[[SecretRef, str | None], str]
_ERRORS_KEPT = 10


def _status_time() -> datetime:
    """Now, to the second: the statuses' times (Kubernetes shows them to the second)."""
    return utcnow(whole_seconds=True)


@dataclass(frozen=True)
class Event:
    """Something worth telling the user (a Kubernetes Event, a log line on one machine)."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass
class ReconcileContext:
    """What a pass needs besides the resource. Building one does no I/O."""

    metrics: OperatorMetrics
    resolve_secret: SecretResolver
    #: Where per-version credentials are written; None: credentials are not managed.
    secret_sink: SecretSink | None = None
    #: The DatabaseMigrations of the resource's namespace (or directory).
    migrations: Sequence[DatabaseMigration] = ()
    #: Relative migration sources are read from here (the resource file's directory).
    base_dir: Path | None = None
    pushgateway: str | None = None
    #: Called with the status after each migration step, to publish progress mid-pass.
    on_status: Callable[[ManagedDatabaseStatus], None] | None = None
    clock: Callable[[], datetime] = _status_time
    backoff_base: float = 5.0
    backoff_max: float = 300.0
    #: How soon to look again while a revocation waits for sessions, or while blocked.
    recheck_after: float = 30.0


@dataclass
class ReconcileResult:
    status: ManagedDatabaseStatus
    #: The error that ended the pass (TemporaryError: retry after ``requeue_after``).
    error: OperatorError | None = None
    requeue_after: float | None = None
    events: list[Event] = field(default_factory=list)
    #: The migration steps this pass ran, in order.
    steps: list[Step] = field(default_factory=list)
    #: Set when the pass did nothing because an earlier permanent error waits for the spec to
    #: change: that error's message.
    waiting_for_spec: str | None = None


class _Blocked(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def reconcile(resource: ManagedDatabase, *, context: ReconcileContext) -> ReconcileResult:
    """Run one pass of the control loop over ``resource`` and return its new status.

    Never raises for what the database or the migrations do: errors are returned in
    :attr:`ReconcileResult.error` and recorded in the status. A resource whose last pass ended
    in a permanent error is left alone until its spec changes.
    """
    return _Pass(resource, context).run()


class _Pass:
    def __init__(self, resource: ManagedDatabase, context: ReconcileContext) -> None:
        self.resource = resource
        self.spec = resource.spec
        self.name = resource.name
        self.context = context
        self.metrics = context.metrics
        self.status = resource.status.model_copy(deep=True)
        self.now = context.clock()
        self.result = ReconcileResult(self.status)
        self.migrations = [
            m.spec for m in context.migrations if m.spec.database in (None, self.name)
        ]
        self.degraded: list[tuple[str, str]] = []
        self.waiting = ""
        self._db: Database | None = None

    # -- the pass -------------------------------------------------------------------------

    def run(self) -> ReconcileResult:
        fingerprint = self.spec.fingerprint()
        last = self.status.errors[-1] if self.status.errors else None
        if (
            last is not None
            and not last.temporary
            and self.status.consecutive_failures
            and self.status.spec_fingerprint == fingerprint
        ):
            self.result.waiting_for_spec = last.message  # until the spec changes
            return self.result
        self.status.spec_fingerprint = fingerprint
        self.status.observed_generation = self.resource.metadata.generation
        self.status.last_reconciled = self.now
        db: Database | None = None
        try:
            db = self._db = self._open()
            self._steps(db)
            self.status.consecutive_failures = 0
        except _Blocked as blocked:
            self._blocked(blocked)
        except OperatorError as exc:
            self._failed(exc)
        except MetadbError as exc:
            self._failed(self._classify(exc, db))
        finally:
            if db is not None:
                db.dispose()
        self._set("Degraded", bool(self.degraded), *self._degraded_reason())
        return self.result

    def _steps(self, db: Database) -> None:
        if (
            self.spec.data_metrics.table_estimated_rows
            or self.spec.data_metrics.table_next_id
            or (self.spec.data_metrics.sql_queries)
        ):
            for problem in datametrics.collect(
                db, database=self.name, spec=self.spec.data_metrics, metrics=self.metrics
            ):
                self.degraded.append(("MetricQueryFailed", problem))
        reader = self._reader()
        current = self._read_version(db, reader)
        if self.status.current_version is not None and (
            current is None or current < self.status.current_version
        ):
            self._event(
                "Warning",
                "VersionWentBack",
                f"the database is at version {current}, below version "
                f"{self.status.current_version} seen before (restored from a backup?); "
                "bringing it forward again",
            )
        self.status.current_version = current
        desired = self._desired()
        self.status.desired_version = desired
        self._gauge_versions(current, desired)
        if current == desired:
            self.status.pending = []
            self._credentials(db, current)
            self._ready(current)
            return
        try:
            steps = plan_chain(
                current, desired, versions_in=self._versions_in, migrations=self.migrations
            )
        except BrokenChain as broken:
            raise _Blocked(broken.reason, broken.message) from None
        self.status.pending = [s.version for s in steps]
        down = steps[0].direction == "down"
        if down and not self.spec.allow_downgrade:
            raise _Blocked(
                "DowngradeNotAllowed",
                f"desiredVersion {desired} is below the current version {current}; set "
                "spec.allowDowngrade to run the down migrations, or raise desiredVersion",
            )
        self._hints(desired, steps)
        if self.spec.read_only:
            self._credentials(db, current)
            plan = " -> ".join(str(s.lands_on) for s in steps)
            raise _Blocked(
                "ReadOnly",
                f"read-only: would migrate {'down' if down else 'up'} {current} -> {plan}; "
                "nothing was changed",
            )
        self._adopt(reader, current)
        for step in steps:
            self._migrate(db, reader, step)
            self._credentials(db, step.lands_on)
        self._ready(self.status.current_version)

    # -- reading ---------------------------------------------------------------------------

    def _open(self) -> Database:
        connection = self.spec.connection
        if connection.secret_ref is not None:
            try:
                url = self.context.resolve_secret(
                    connection.secret_ref, self.resource.metadata.namespace
                )
            except LookupError as exc:
                raise TemporaryError(
                    database=self.name,
                    reason="SecretNotFound",
                    message=str(exc),
                    delay=self._backoff(),
                ) from None
        elif connection.url:
            url = connection.url
        else:
            raise PermanentError(
                database=self.name,
                reason="NoConnection",
                message="spec.connection needs secretRef (or url for a URL with no password)",
            )
        return Database.from_url(
            url,
            database_type=connection.database_type,
            lock_timeout=self.spec.migrations.lock_timeout,
        )

    def _source(self, source: str | None) -> str | None:
        path = source if source is not None else self.spec.migrations.source
        if path is None:
            return None
        resolved = Path(path)
        if not resolved.is_absolute() and self.context.base_dir is not None:
            resolved = self.context.base_dir / resolved
        return str(resolved)

    def _config(self, db: Database, source: str | None = None) -> MigrateConfig:
        return MigrateConfig(
            database=db.url,
            source=self._source(source),
            table=self.spec.migrations.table,
            lock_timeout=self.spec.migrations.lock_timeout,
        )

    def _versions_in(self, source: str | None) -> list[int]:
        return load_source(self._source(source), self.db.url.dialect).versions

    def _reader(self) -> VersionReader:
        try:
            return reader_for(self.spec.version, self.migrations)
        except VersionReadError as exc:
            raise PermanentError(
                database=self.name, reason="InvalidSpec", message=str(exc)
            ) from None

    def _read_version(self, db: Database, reader: VersionReader) -> int | None:
        config = self._config(db)
        try:
            state = reader.read(db, config)
        except VersionReadError as exc:
            raise PermanentError(
                database=self.name, reason="VersionUnreadable", message=str(exc)
            ) from None
        if state.dirty:
            problem = migrate.status(config).problem or f"dirty at version {state.version}"
            raise PermanentError(database=self.name, reason="DirtyDatabase", message=problem)
        return state.version

    def _desired(self) -> int | None:
        if self.spec.desired_version is not None:
            return self.spec.desired_version
        try:
            return newest(self._versions_in, self.migrations)
        except BrokenChain as broken:
            raise _Blocked(broken.reason, broken.message) from None

    def _gauge_versions(self, current: int | None, desired: int | None) -> None:
        if current is not None:
            self.metrics.schema_version.labels(database=self.name).set(current)
        if desired is not None:
            self.metrics.desired_version.labels(database=self.name).set(desired)

    # -- hints -----------------------------------------------------------------------------

    def _hints(self, target: int | None, steps: Sequence[Step]) -> None:
        if not self.spec.hints.enabled:
            self.status.hints = None
            return
        from metadb.hints import HintSettings, check_pending  # the hints engine is optional

        given = self.spec.hints.model_dump(exclude={"enabled"}, exclude_none=True)
        report = check_pending(self._config(self.db), settings=HintSettings(**given), target=target)
        declared = {h.table for m in self.migrations for h in m.hints}
        chain = {s.version for s in steps}
        undeclared = sorted(
            {f.table for f in report.findings if f.table and f.table not in declared}
            if any(m.hints for m in self.migrations if m.version in chain)
            else set()
        )
        self.status.hints = HintsStatus(
            target=target,
            errors=[_finding(f) for f in report.errors],
            warnings=[_finding(f) for f in report.warnings],
            undeclared_tables=undeclared,
        )
        if undeclared:
            self._event(
                "Warning",
                "UndeclaredChange",
                f"the migrations change table(s) {', '.join(undeclared)} that no "
                "DatabaseMigration declares in its hints",
            )
        if report.errors:
            first = report.errors[0]
            raise _Blocked(
                "HintErrors",
                f"{len(report.errors)} hint error(s) block the migration; first: "
                f"{first.path}:{first.line}: {first.message}",
            )

    # -- migrating -------------------------------------------------------------------------

    def _adopt(self, reader: VersionReader, current: int | None) -> None:
        """Record the version another tool keeps in golang-migrate's table, so that metadb's
        runner starts where that tool left the database."""
        if isinstance(reader, GolangMigrateReader) or current is None:
            return
        config = self._config(self.db)
        if migrate.version(config).version is None:
            migrate.baseline(config, current)

    def _migrate(self, db: Database, reader: VersionReader, step: Step) -> None:
        config = self._config(db, step.source)
        record = MigrationRecord(
            version=step.version,
            direction=step.direction,
            started=self.context.clock(),
            result="running",
        )
        self.status.last_migration = record
        self._set("Migrating", True, "Migrating", f"{step.direction} {step.version}")
        self._publish()
        started = time.perf_counter()
        labels = {"database": self.name, "direction": step.direction}
        try:
            if step.direction == "up":
                migrate.goto(config, step.version)
            else:
                migrate.down(config, 1)
        except MetadbError as exc:
            self.metrics.migrations.labels(**labels, result="failed").inc()
            self.metrics.last_failure.labels(database=self.name).set_to_current_time()
            record.result, record.finished = "failed", self.context.clock()
            record.message = str(exc)
            self._event("Warning", "MigrationFailed", f"{step.direction} {step.version}: {exc}")
            self._push()
            raise
        finally:
            self.metrics.migration_duration.labels(**labels).observe(time.perf_counter() - started)
        self.metrics.migrations.labels(**labels, result="succeeded").inc()
        record.result, record.finished = "succeeded", self.context.clock()
        self.result.steps.append(step)
        reader.record(db, step.lands_on)
        now = self._read_version(db, reader)
        if now != step.lands_on:
            raise PermanentError(
                database=self.name,
                reason="VersionMismatch",
                message=f"after migrating {step.direction} {step.version} the {reader.name} "
                f"reader says version {now}, not {step.lands_on}; make the migrations keep "
                "what the version query reads",
            )
        self.status.current_version = now
        self.status.pending = [v for v in self.status.pending if v != step.version]
        if now is not None:
            self.metrics.schema_version.labels(database=self.name).set(now)
        self._event("Normal", "Migrated", f"{step.direction} {step.version}: now at {now}")
        self._push()
        self._publish()

    # -- credentials -----------------------------------------------------------------------

    def _credentials(self, db: Database, current: int | None) -> None:
        spec = self.spec.credentials
        sink = self.context.secret_sink
        if not spec.enabled or sink is None:
            self.status.credentials = None
            return
        creds = credentials_for(
            db,
            prefix=spec.username_prefix,
            sink=sink,
            database_name=self.name,
            privileges=spec.privileges,
        )
        rotation = rotate(
            creds, current=current, database=self.name, sink=sink,
            kill_sessions=spec.kill_sessions, read_only=self.spec.read_only,
        )  # fmt: skip
        self.status.credentials = rotation.status
        for credential in rotation.created:
            self.metrics.credentials_created.labels(database=self.name).inc()
            message = f"{credential.username} for version {credential.version}"
            self._event("Normal", "CredentialsCreated", message)
        for outcome in rotation.revoked:
            self.metrics.credentials_revoked.labels(database=self.name).inc()
            self._event("Normal", "CredentialsRevoked", outcome.message)
        above = rotation.above_current_message
        if above is not None:
            self.degraded.append(("CredentialsAboveCurrentVersion", above))
        if rotation.status.waiting:
            self.waiting = "; ".join(w.message for w in rotation.status.waiting)
            self._requeue(self.context.recheck_after)

    # -- status ----------------------------------------------------------------------------

    def _ready(self, current: int | None) -> None:
        message = f"at version {current}"
        if self.waiting:
            message += f"; revocation {self.waiting}"
        self._set("Ready", True, "AtDesiredVersion", message)
        self._set("Migrating", False, "Idle", "")
        self._set("Blocked", False, "NotBlocked", "")

    def _blocked(self, blocked: _Blocked) -> None:
        self._set("Ready", False, blocked.reason, blocked.message)
        self._set("Migrating", False, "Idle", "")
        self._set("Blocked", True, blocked.reason, blocked.message)
        self._event("Warning", blocked.reason, blocked.message)
        self.status.consecutive_failures = 0
        self._requeue(self.context.recheck_after)

    def _failed(self, error: OperatorError) -> None:
        temporary = isinstance(error, TemporaryError)
        self.result.error = error
        self.status.consecutive_failures += 1
        self.status.errors = [
            *self.status.errors,
            ErrorRecord(
                time=self.now, reason=error.reason, message=str(error), temporary=temporary
            ),
        ][-_ERRORS_KEPT:]
        self.metrics.reconcile_errors.labels(
            database=self.name, reason=error.reason, temporary=str(temporary).lower()
        ).inc()
        self._set("Ready", False, error.reason, str(error))
        failed = self.status.last_migration is not None and (
            self.status.last_migration.result == "failed"
        )
        self._set("Migrating", False, "MigrationFailed" if failed else "Idle", "")
        if not temporary:
            self._set("Blocked", True, "WaitingForSpecChange", str(error))
        self.degraded.append((error.reason, str(error)))
        self._event("Warning", error.reason, str(error))
        if isinstance(error, TemporaryError):
            self._requeue(error.delay)

    def _classify(self, exc: MetadbError, db: Database | None) -> OperatorError:
        message = str(exc)
        reason = type(exc).__name__.removesuffix("Error") or "Error"
        if isinstance(exc, TableLockTimeoutError) and not exc.dirty:
            reason = "TableLockTimeout"
        elif isinstance(exc, MigrationFailedError) and not exc.dirty and db is not None:
            cause = exc.__cause__
            if cause is not None and db.dialect.is_lock_timeout(getattr(cause, "orig", cause)):
                reason = "LockTimeout"
        if reason in ("TableLockTimeout", "LockTimeout") or isinstance(
            exc, (DatabaseUnreachableError, AuthenticationError, LockTimeoutError, CredentialError)
        ):
            if isinstance(exc, DatabaseUnreachableError):
                reason = "DatabaseUnreachable"
            return TemporaryError(
                database=self.name, reason=reason, message=message, delay=self._backoff()
            )
        return PermanentError(database=self.name, reason=reason, message=message)

    def _backoff(self) -> float:
        exponent = min(self.status.consecutive_failures, 16)
        return float(min(self.context.backoff_base * 2**exponent, self.context.backoff_max))

    def _degraded_reason(self) -> tuple[str, str]:
        if not self.degraded:
            return "Healthy", ""
        return self.degraded[0][0], "; ".join(message for _, message in self.degraded)

    def _set(self, type_: ConditionType, value: bool, reason: str, message: str) -> None:
        text: Literal["True", "False"] = "True" if value else "False"
        found = self.status.condition(type_)
        if found is None:
            self.status.conditions.append(
                Condition(
                    type=type_,
                    status=text,
                    reason=reason,
                    message=message,
                    last_transition_time=self.now,
                )
            )
            return
        if found.status != text:
            found.last_transition_time = self.now
        found.status, found.reason, found.message = text, reason, message

    def _event(self, type_: Literal["Normal", "Warning"], reason: str, message: str) -> None:
        self.result.events.append(Event(type_, reason, message))
        log.log(
            logging.WARNING if type_ == "Warning" else logging.INFO,
            "%s: %s: %s",
            self.name,
            reason,
            message,
        )

    def _requeue(self, delay: float) -> None:
        current = self.result.requeue_after
        self.result.requeue_after = delay if current is None else min(current, delay)

    def _publish(self) -> None:
        if self.context.on_status is not None:
            self.context.on_status(self.status)

    def _push(self) -> None:
        if self.context.pushgateway:
            self.metrics.push(self.context.pushgateway, database=self.name)

    @property
    def db(self) -> Database:
        assert self._db is not None, "used before the database was opened"
        return self._db


def _finding(finding: Finding) -> HintFinding:
    return HintFinding(
        rule_id=finding.rule_id,
        severity=finding.severity,
        message=finding.message,
        path=finding.path,
        line=finding.line,
        table=finding.table,
        safer=finding.safer or None,
    )


__all__ = [
    "Event",
    "ReconcileContext",
    "ReconcileResult",
    "SecretResolver",
    "reconcile",
]
