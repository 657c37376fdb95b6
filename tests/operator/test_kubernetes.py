"""The kopf handlers, called directly with the objects a cluster would send.

The database is real; the Kubernetes API is an in-memory stand-in (the seam the handlers use,
like httpx's MockTransport), holding Secrets, pods and DatabaseMigrations as the API would.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from kubernetes.client.exceptions import ApiException

from metadb.operator.kubernetes import (
    KubernetesRuntime,
    forget_database,
    reconcile_database,
    register,
)
from metadb.operator.metrics import OperatorMetrics
from metadb.operator.reconcile import Event

from .support import cleanup_roles, resource, version_of, write_source


class FakeCoreApi:
    """Secrets and pods of one cluster, with the CoreV1Api methods the operator calls."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: list[dict[str, Any]] = []

    def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        if (namespace, name) not in self.secrets:
            raise ApiException(status=404, reason="Not Found")
        body = self.secrets[(namespace, name)]
        data = body.get("data") or {
            k: base64.b64encode(v.encode()).decode() for k, v in body["stringData"].items()
        }
        return SimpleNamespace(data=data, metadata=SimpleNamespace(**body["metadata"]))

    def create_namespaced_secret(self, namespace: str, body: dict[str, Any]) -> None:
        self.secrets[(namespace, body["metadata"]["name"])] = body

    def replace_namespaced_secret(self, name: str, namespace: str, body: dict[str, Any]) -> None:
        self.secrets[(namespace, name)] = body

    def delete_namespaced_secret(self, name: str, namespace: str) -> None:
        del self.secrets[(namespace, name)]

    def list_namespaced_pod(self, namespace: str) -> Any:
        return SimpleNamespace(items=self.pods)

    def list_namespaced_secret(self, namespace: str, label_selector: str = "") -> Any:
        wanted = dict(pair.split("=", 1) for pair in label_selector.split(",") if pair)
        items = []
        for (ns, _), body in self.secrets.items():
            labels = body["metadata"].get("labels") or {}
            if ns == namespace and all(labels.get(k) == v for k, v in wanted.items()):
                items.append(SimpleNamespace(metadata=SimpleNamespace(**body["metadata"])))
        return SimpleNamespace(items=items)


class FakeCustomApi:
    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects

    def list_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str
    ) -> dict[str, Any]:
        return {"items": [o for o in self.objects if o["metadata"].get("namespace") == namespace]}


class Cluster:
    def __init__(self, url: str, source: Path) -> None:
        self.core = FakeCoreApi()
        self.core.create_namespaced_secret(
            "shop-ns",
            {"metadata": {"name": "shop-admin"}, "data": {"url": _b64(url)}},
        )
        self.events: list[Event] = []
        self.runtime = KubernetesRuntime(
            metrics=OperatorMetrics(),
            core_api=self.core,
            custom_api=FakeCustomApi([]),
            post_event=lambda body, event: self.events.append(event),
        )
        self.prefix = f"t{uuid.uuid4().hex[:8]}_app"
        self.body: dict[str, Any] = {
            "apiVersion": "metadb.io/v1alpha1",
            "kind": "ManagedDatabase",
            "metadata": {"name": "shop", "namespace": "shop-ns", "uid": "u-1", "generation": 1},
            "spec": {
                "connection": {"secretRef": {"name": "shop-admin", "key": "url"}},
                "migrations": {"source": str(source)},
                "desiredVersion": 2,
                "hints": {"enabled": False},
                "credentials": {"usernamePrefix": self.prefix},
            },
        }

    def send(self, status: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call the handler as kopf would; return the patch it made."""
        patch: dict[str, Any] = {}
        reconcile_database(
            body=self.body,
            spec=self.body["spec"],
            meta=self.body["metadata"],
            status=status or {},
            name="shop",
            namespace="shop-ns",
            patch=patch,
            memo={"runtime": self.runtime},
            logger=None,
            retry=0,
        )
        return patch


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def cluster(database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(database_url, write_source(tmp_path / "m"))
    yield made
    cleanup_roles(database_url, resource(database_url, tmp_path, prefix=made.prefix), tmp_path)


def test_the_create_handler_migrates_and_patches_the_status(
    cluster: Cluster, database_url: str, backend: str
):
    patch = cluster.send()

    assert version_of(database_url) == 2
    status = patch["status"]
    assert status["currentVersion"] == 2 and status["observedGeneration"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert [e.reason for e in cluster.events if e.reason == "Migrated"] == ["Migrated"] * 2
    if backend == "sqlite":
        assert status["credentials"]["applicable"] is False
        return
    secret = cluster.core.secrets[("shop-ns", "shop-v2")]
    assert secret["metadata"]["labels"]["metadb.io/version"] == "2"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert status["credentials"]["secrets"] == {"1": "shop-v1", "2": "shop-v2"}

    # The next event carries the status back; nothing more to do.
    again = cluster.send(status)
    assert again["status"]["currentVersion"] == 2


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_unreachable_database_raises_kopf_temporary_error_with_a_delay(cluster: Cluster):
    cluster.core.secrets[("shop-ns", "shop-admin")]["data"]["url"] = _b64(
        "postgresql://postgres@127.0.0.1:1/none"
    )
    with pytest.raises(kopf.TemporaryError) as raised:
        cluster.send()
    assert raised.value.delay == 5.0
    assert "cannot connect" in str(raised.value)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_missing_admin_secret_is_temporary_and_an_invalid_spec_permanent(cluster: Cluster):
    del cluster.core.secrets[("shop-ns", "shop-admin")]
    with pytest.raises(kopf.TemporaryError, match="shop-admin does not exist"):
        cluster.send()

    cluster.body["spec"]["desiredVersion"] = -1
    with pytest.raises(kopf.PermanentError, match="desiredVersion"):
        cluster.send()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_failed_migration_raises_kopf_permanent_error_and_keeps_the_status(
    cluster: Cluster, tmp_path: Path
):
    broken = write_source(tmp_path / "broken", {1: ("CREATE TABLE t (a INTEGER);", "DROP TABLE t;"),
                                                2: ("NOT SQL AT ALL;", "SELECT 1;")})  # fmt: skip
    cluster.body["spec"]["migrations"]["source"] = str(broken)
    patch: dict[str, Any] = {}
    with pytest.raises(kopf.PermanentError, match="statement 1 of 1 failed"):
        reconcile_database(
            body=cluster.body, spec=cluster.body["spec"], meta=cluster.body["metadata"],
            status={}, name="shop", namespace="shop-ns", patch=patch,
            memo={"runtime": cluster.runtime},
        )  # fmt: skip
    assert patch["status"]["lastMigration"]["result"] == "failed"
    assert patch["status"]["currentVersion"] == 1
    assert patch["status"]["errors"][-1]["temporary"] is False


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_deleting_a_database_forgets_its_metrics(cluster: Cluster):
    cluster.send()
    registry = cluster.runtime.metrics.registry
    assert registry.get_sample_value("metadb_operator_schema_version", {"database": "shop"}) == 2
    assert registry.get_sample_value("metadb_operator_managed_databases") == 1

    forget_database(name="shop", namespace="shop-ns", memo={"runtime": cluster.runtime})

    assert registry.get_sample_value("metadb_operator_schema_version", {"database": "shop"}) is None
    assert registry.get_sample_value("metadb_operator_managed_databases") == 0


def test_register_adds_the_handlers_to_kopfs_registry():
    registry = kopf.OperatorRegistry()
    previous = kopf.get_default_registry()
    kopf.set_default_registry(registry)
    try:
        register()
    finally:
        kopf.set_default_registry(previous)
    names = {h.fn.__name__ for h in registry._changing.get_all_handlers()}
    assert {"reconcile_database", "forget_database"} <= names
    timers = {h.fn.__name__ for h in registry._spawning.get_all_handlers()}
    assert timers == {"reconcile_periodically"}
