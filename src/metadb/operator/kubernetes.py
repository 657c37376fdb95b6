"""The operator on Kubernetes: thin kopf handlers over :func:`metadb.operator.reconcile.reconcile`.

This is the only module that imports kopf. The handlers are plain functions (kopf's decorators
return them unchanged), so tests call them with the dicts a cluster would send::

    runtime = KubernetesRuntime(metrics=OperatorMetrics(), core_api=..., custom_api=...)
    patch: dict = {}
    reconcile_database(body=obj, spec=obj["spec"], meta=obj["metadata"], status={},
                       name="shop", namespace="default", patch=patch, memo={"runtime": runtime})
    patch["status"]["currentVersion"]

A temporary error is raised as ``kopf.TemporaryError(delay=...)`` (kopf retries the handler
after the backoff); a permanent one as ``kopf.PermanentError`` (kopf waits for the next change
of the object). The status is patched either way.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
from pydantic import ValidationError

from metadb.errors import TemporaryError
from metadb.operator.metrics import OperatorMetrics
from metadb.operator.reconcile import Event, ReconcileContext, reconcile
from metadb.operator.resources import (
    GROUP,
    VERSION,
    DatabaseMigration,
    ManagedDatabase,
    SecretRef,
    dump_status,
)
from metadb.operator.secrets import KubernetesSecretSink

log = logging.getLogger(__name__)

DATABASES = "manageddatabases"
MIGRATIONS = "databasemigrations"
#: How often every ManagedDatabase is reconciled even when nothing changed (new
#: DatabaseMigrations, a restored database, a revocation waiting for sessions).
TIMER_INTERVAL = 60.0


def _post_event(body: Mapping[str, Any], event: Event) -> None:
    # kopf builds the event's object reference from the body (apiVersion, kind, metadata).
    target: Any = body
    kopf.event(target, type=event.type, reason=event.reason, message=event.message[:1000])


@dataclass
class KubernetesRuntime:
    """What the handlers share: metrics and the Kubernetes API clients (made on first use from
    the in-cluster configuration, or ~/.kube/config, when not given)."""

    metrics: OperatorMetrics
    core_api: Any = None
    custom_api: Any = None
    pushgateway: str | None = None
    post_event: Callable[[Mapping[str, Any], Event], None] = _post_event
    known: set[tuple[str, str]] = field(default_factory=set)

    def _apis(self) -> None:
        if self.core_api is None or self.custom_api is None:
            from kubernetes import client
            from kubernetes import config as kubeconfig

            config: Any = kubeconfig
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            self.core_api = self.core_api or client.CoreV1Api()
            self.custom_api = self.custom_api or client.CustomObjectsApi()

    def resolve_secret(self, ref: SecretRef, namespace: str | None) -> str:
        """The value of ``ref`` in ``namespace``; LookupError when the Secret or key is missing."""
        self._apis()
        try:
            secret = self.core_api.read_namespaced_secret(ref.name, namespace or "default")
        except Exception as exc:  # kubernetes.client.ApiException, without importing it here
            if getattr(exc, "status", None) == 404:
                raise LookupError(f"Secret {namespace}/{ref.name} does not exist") from None
            raise
        data = getattr(secret, "data", None) or {}
        if ref.key not in data:
            raise LookupError(f"Secret {namespace}/{ref.name} has no key {ref.key}")
        return base64.b64decode(data[ref.key]).decode()

    def migrations(self, namespace: str | None) -> list[DatabaseMigration]:
        """The DatabaseMigrations of ``namespace``; invalid ones are logged and skipped."""
        self._apis()
        listed = self.custom_api.list_namespaced_custom_object(
            GROUP, VERSION, namespace or "default", MIGRATIONS
        )
        found = []
        for item in listed.get("items", []):
            try:
                found.append(DatabaseMigration.model_validate(item))
            except ValidationError as exc:
                name = (item.get("metadata") or {}).get("name")
                log.error("DatabaseMigration %s/%s is invalid: %s", namespace, name, exc)
        return found

    def sink(self, namespace: str | None, body: Mapping[str, Any]) -> KubernetesSecretSink:
        self._apis()
        return KubernetesSecretSink(namespace=namespace or "default", api=self.core_api, owner=body)


def reconcile_database(
    *,
    body: Mapping[str, Any],
    spec: Mapping[str, Any],
    meta: Mapping[str, Any],
    status: Mapping[str, Any],
    name: str,
    namespace: str | None,
    patch: dict[str, Any],
    memo: Mapping[str, Any],
    **_: Any,
) -> None:
    """Create, update, resume and timer handler of ManagedDatabases: one reconcile pass.

    Raises:
        kopf.TemporaryError: retry after the backoff (server unreachable, lock timeout).
        kopf.PermanentError: the spec is invalid or a migration failed; wait for a change.
    """
    runtime: KubernetesRuntime = memo["runtime"]
    try:
        resource = ManagedDatabase.model_validate(
            {"metadata": dict(meta), "spec": dict(spec), "status": dict(status or {})}
        )
    except ValidationError as exc:
        raise kopf.PermanentError(f"{namespace}/{name} is invalid: {exc}") from None
    runtime.known.add((namespace or "default", name))
    runtime.metrics.track(n for _, n in runtime.known)
    sink = runtime.sink(namespace, body)
    context = ReconcileContext(
        metrics=runtime.metrics,
        resolve_secret=runtime.resolve_secret,
        secret_sink=sink,
        migrations=runtime.migrations(namespace),
        pushgateway=runtime.pushgateway,
    )
    result = reconcile(resource, context=context)
    patch["status"] = dump_status(result.status)
    for event in result.events:
        runtime.post_event(body, event)
    credentials = result.status.credentials
    if credentials is not None and credentials.applicable:
        sink.prune(database=name, keep=credentials.active_versions)
    error = result.error
    if isinstance(error, TemporaryError):
        raise kopf.TemporaryError(str(error), delay=error.delay)
    if error is not None:
        raise kopf.PermanentError(str(error))


def forget_database(*, name: str, namespace: str | None, memo: Mapping[str, Any], **_: Any) -> None:
    """Delete handler: drop the database's metric series (its Secrets go with it, as owned
    objects)."""
    runtime: KubernetesRuntime = memo["runtime"]
    runtime.known.discard((namespace or "default", name))
    runtime.metrics.track(n for _, n in runtime.known)
    runtime.metrics.forget(name)


def reconcile_periodically(**kwargs: Any) -> None:
    """Timer handler: the same pass, so that changes outside the object are noticed."""
    reconcile_database(**kwargs)


def register() -> None:
    """Register the handlers with kopf's default registry (``metadb operator run
    --kubernetes`` does this; importing the module does not)."""
    kopf.on.create(GROUP, VERSION, DATABASES)(reconcile_database)
    kopf.on.update(GROUP, VERSION, DATABASES, field="spec")(reconcile_database)
    kopf.on.resume(GROUP, VERSION, DATABASES)(reconcile_database)
    kopf.timer(GROUP, VERSION, DATABASES, interval=TIMER_INTERVAL, idle=TIMER_INTERVAL)(
        reconcile_periodically
    )
    kopf.on.delete(GROUP, VERSION, DATABASES, optional=True)(forget_database)


def run(
    *,
    metrics: OperatorMetrics,
    namespaces: list[str],
    pushgateway: str | None = None,
) -> None:
    """Run the operator until it is stopped: every namespace when ``namespaces`` is empty."""
    register()
    runtime = KubernetesRuntime(metrics=metrics, pushgateway=pushgateway)
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=True,
        memo=kopf.Memo(runtime=runtime),
    )


__all__ = [
    "KubernetesRuntime",
    "forget_database",
    "reconcile_database",
    "reconcile_periodically",
    "register",
    "run",
]
