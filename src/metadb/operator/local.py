"""The operator on one machine: ``metadb operator run --resources DIR``.

Every ``*.yaml``/``*.yml`` file in DIR may hold ManagedDatabase and DatabaseMigration documents
(several per file, separated by ``---``). The status of ManagedDatabase NAME is written beside
its file as ``NAME.status.yaml`` after each pass (and after each migration step), and read back
at the next pass. Secrets are read from a directory (default ``DIR/secrets``): a secretRef
``{name: N, key: K}`` is the file ``N/K``, the key K of the mapping in ``N.yaml``, or the whole
file ``N``. Per-version credentials are written to the same directory, one file per version.

Example::

    operator = LocalOperator(resources=Path("ops"), metrics=OperatorMetrics())
    for outcome in operator.run_once():
        print(outcome.name, outcome.result.status.current_version)
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from metadb.errors import ResourceError
from metadb.operator.metrics import OperatorMetrics
from metadb.operator.reconcile import ReconcileContext, ReconcileResult, reconcile
from metadb.operator.resources import (
    API_VERSION,
    DatabaseMigration,
    ManagedDatabase,
    ManagedDatabaseStatus,
    SecretRef,
    dump_status,
)
from metadb.operator.secrets import FileSecretSink

log = logging.getLogger(__name__)
STATUS_SUFFIX = ".status.yaml"


@dataclass(frozen=True)
class LocalResource:
    """A ManagedDatabase and the file it came from."""

    path: Path
    resource: ManagedDatabase

    @property
    def status_path(self) -> Path:
        return self.path.parent / f"{self.resource.name}{STATUS_SUFFIX}"


@dataclass(frozen=True)
class ResourceSet:
    databases: list[LocalResource]
    migrations: list[DatabaseMigration]


@dataclass(frozen=True)
class Outcome:
    """One database's pass."""

    name: str
    status_path: Path
    result: ReconcileResult

    def as_dict(self) -> dict[str, Any]:
        error = self.result.error
        return {
            "name": self.name,
            "status_file": str(self.status_path),
            "status": dump_status(self.result.status),
            "error": None
            if error is None
            else {
                "reason": error.reason,
                "message": str(error),
                "temporary": getattr(error, "delay", None) is not None,
            },
            "steps": [{"version": s.version, "direction": s.direction} for s in self.result.steps],
            "requeue_after": self.result.requeue_after,
            "waiting_for_spec": self.result.waiting_for_spec,
        }


def load_resources(directory: Path) -> ResourceSet:
    """Read every resource in ``directory`` (status files are skipped).

    Raises:
        ResourceError: a file is not YAML, a document is not a known kind, or it fails
            validation (naming the file and the field); two ManagedDatabases share a name.
    """
    if not directory.is_dir():
        raise ResourceError(directory, "is not a directory of resources")
    databases: list[LocalResource] = []
    migrations: list[DatabaseMigration] = []
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        if path.name.endswith(STATUS_SUFFIX):
            continue
        try:
            documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as exc:
            raise ResourceError(path, f"is not YAML: {exc}") from None
        for index, document in enumerate(documents):
            where = f"{path} (document {index + 1})" if len(documents) > 1 else path
            kind = document.get("kind") if isinstance(document, dict) else None
            try:
                if kind == "ManagedDatabase":
                    databases.append(LocalResource(path, ManagedDatabase.model_validate(document)))
                elif kind == "DatabaseMigration":
                    migrations.append(DatabaseMigration.model_validate(document))
                else:
                    raise ResourceError(
                        where, f"kind {kind!r} is neither ManagedDatabase nor DatabaseMigration"
                    )
            except ValidationError as exc:
                raise ResourceError(where, _validation_message(exc)) from None
    names = [d.resource.name for d in databases]
    for name in {n for n in names if names.count(n) > 1}:
        raise ResourceError(directory, f"two ManagedDatabases are named {name!r}")
    return ResourceSet(databases, migrations)


def _validation_message(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
    ]
    return "invalid resource: " + "; ".join(problems)


def read_status(path: Path) -> ManagedDatabaseStatus:
    """The status stored in a status file (empty when there is none yet).

    Raises:
        ResourceError: the file is not a status this version of metadb can read.
    """
    if not path.exists():
        return ManagedDatabaseStatus()
    try:
        data = yaml.safe_load(path.read_text()) or {}
        return ManagedDatabaseStatus.model_validate(data.get("status") or {})
    except (yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise ResourceError(
            path, f"is not a status file ({exc}); delete it to start over"
        ) from None


def write_status(path: Path, name: str, status: ManagedDatabaseStatus) -> None:
    """Write ``status`` atomically (a reader never sees half a file)."""
    document = {
        "apiVersion": API_VERSION,
        "kind": "ManagedDatabase",
        "metadata": {"name": name},
        "status": dump_status(status),
    }
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            yaml.safe_dump(document, handle, sort_keys=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FileSecretResolver:
    """Secret references resolved from files in ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __call__(self, ref: SecretRef, namespace: str | None) -> str:
        base = self.directory / ref.name
        if base.is_dir():
            candidate = base / ref.key
            if candidate.is_file():
                return candidate.read_text().strip()
            raise LookupError(f"secret {ref.name} has no key {ref.key} ({candidate} is missing)")
        for mapping_file in (base.with_name(ref.name + ".yaml"), base.with_name(ref.name + ".yml")):
            if mapping_file.is_file():
                data = yaml.safe_load(mapping_file.read_text()) or {}
                if not isinstance(data, dict) or ref.key not in data:
                    raise LookupError(f"secret {ref.name} ({mapping_file}) has no key {ref.key}")
                return str(data[ref.key]).strip()
        if base.is_file():
            return base.read_text().strip()
        raise LookupError(
            f"secret {ref.name} not found: expected {base}/{ref.key}, {base}.yaml or {base} "
            f"in the secrets directory {self.directory}"
        )


class LocalOperator:
    """Reconciles the resources of one directory. Constructing it does no I/O."""

    def __init__(
        self,
        *,
        resources: Path,
        metrics: OperatorMetrics,
        secrets: Path | None = None,
        pushgateway: str | None = None,
    ) -> None:
        self.resources = resources
        self.secrets = secrets if secrets is not None else resources / "secrets"
        self.metrics = metrics
        self.pushgateway = pushgateway

    def run_once(self) -> list[Outcome]:
        """One pass over every ManagedDatabase; statuses are written beside their files.

        Raises:
            ResourceError: a resource or status file is invalid (nothing was reconciled).
        """
        found = load_resources(self.resources)
        self.metrics.track(d.resource.name for d in found.databases)
        outcomes = []
        for local in found.databases:
            resource = local.resource.model_copy(update={"status": read_status(local.status_path)})
            path, name = local.status_path, resource.name
            context = ReconcileContext(
                metrics=self.metrics,
                resolve_secret=FileSecretResolver(self.secrets),
                secret_sink=FileSecretSink(self.secrets),
                migrations=found.migrations,
                base_dir=local.path.parent,
                pushgateway=self.pushgateway,
                on_status=partial(write_status, path, name),
            )
            result = reconcile(resource, context=context)
            write_status(path, name, result.status)
            outcomes.append(Outcome(name, path, result))
        return outcomes

    def run_forever(self, *, interval: float, stop: threading.Event | None = None) -> None:
        """Pass after pass until ``stop`` is set; a database asking to be looked at sooner
        (a temporary error's backoff, a revocation waiting for sessions) shortens the wait.
        An invalid resource is logged and retried at the next pass."""
        stop = stop or threading.Event()
        while not stop.is_set():
            wait = interval
            try:
                for outcome in self.run_once():
                    if outcome.result.requeue_after is not None:
                        wait = min(wait, outcome.result.requeue_after)
            except ResourceError as exc:
                log.error("%s", exc)
            stop.wait(wait)


__all__ = [
    "FileSecretResolver",
    "LocalOperator",
    "LocalResource",
    "Outcome",
    "ResourceSet",
    "load_resources",
    "read_status",
    "write_status",
]
