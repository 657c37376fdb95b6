"""``metadb operator run --resources DIR``: YAML in, status YAML out, through the installed CLI."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from metadb.operator.local import LocalOperator
from metadb.operator.metrics import OperatorMetrics
from tests.migrate.conftest import metadb_executable

from .support import cleanup_roles, resource, version_of, write_source

METADB = metadb_executable()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [METADB, "operator", "run", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def resources(database_url: str, tmp_path: Path) -> Iterator[Path]:
    """A resources directory: one ManagedDatabase whose admin URL is in a secret file, its
    migrations beside it, and DatabaseMigrations linking versions 1 <- 2."""
    directory = tmp_path / "ops"
    write_source(directory / "migrations")
    (directory / "secrets").mkdir(parents=True)
    (directory / "secrets" / "shop-admin").write_text(database_url + "\n")
    prefix = f"t{uuid.uuid4().hex[:8]}_app"
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "metadb.io/v1alpha1",
            "kind": "ManagedDatabase",
            "metadata": {"name": "shop"},
            "spec": {
                "connection": {"secretRef": {"name": "shop-admin"}},
                "migrations": {"source": "migrations"},
                "desiredVersion": 2,
                "credentials": {"usernamePrefix": prefix},
            },
        },
        *(
            {"apiVersion": "metadb.io/v1alpha1", "kind": "DatabaseMigration",
             "metadata": {"name": f"shop-v{v}"}, "spec": {"version": v, "previous": p}}
            for v, p in ((1, None), (2, 1))
        ),
    ]  # fmt: skip
    (directory / "shop.yaml").write_text(yaml.safe_dump_all(documents))
    yield directory
    cleanup_roles(
        database_url, resource(database_url, directory, prefix=prefix), directory / "secrets"
    )


def test_once_migrates_and_writes_the_status_beside_the_resource(
    resources: Path, database_url: str, backend: str
):
    done = _run("--resources", str(resources), "--once", "--json")

    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)["databases"]
    assert [s["version"] for s in report["steps"]] == [1, 2]
    assert version_of(database_url) == 2
    status = yaml.safe_load((resources / "shop.status.yaml").read_text())
    assert status["kind"] == "ManagedDatabase" and status["metadata"]["name"] == "shop"
    assert status["status"]["currentVersion"] == 2
    ready = [c for c in status["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    if backend == "sqlite":
        assert status["status"]["credentials"]["applicable"] is False
    else:
        assert status["status"]["credentials"]["activeVersions"] == [1, 2]
        assert (resources / "secrets" / "shop-v2").exists()

    again = _run("--resources", str(resources), "--once")
    assert again.returncode == 0, again.stderr
    assert "shop: version 2 (desired 2), AtDesiredVersion" in again.stdout


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_invalid_resource_names_its_file_and_field(resources: Path):
    (resources / "broken.yaml").write_text(
        "apiVersion: metadb.io/v1alpha1\nkind: ManagedDatabase\nmetadata: {name: x}\n"
        "spec: {connection: {url: 'sqlite:///x.db'}, desiredVersoin: 3}\n"
    )
    done = _run("--resources", str(resources), "--once")
    assert done.returncode == 2
    assert "broken.yaml" in done.stderr and "desiredVersoin" in done.stderr
    assert not (resources / "shop.status.yaml").exists()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_missing_secret_is_a_temporary_error_and_exits_1(resources: Path):
    (resources / "secrets" / "shop-admin").unlink()
    done = _run("--resources", str(resources), "--once", "--json")
    assert done.returncode == 1
    (report,) = json.loads(done.stdout)["databases"]
    assert report["error"]["reason"] == "SecretNotFound"
    assert report["error"]["temporary"] is True


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_run_forever_passes_until_stopped(resources: Path, database_url: str):
    operator = LocalOperator(resources=resources, metrics=OperatorMetrics())
    stop = threading.Event()
    thread = threading.Thread(target=operator.run_forever, kwargs={"interval": 0.2, "stop": stop})
    thread.start()
    try:
        for _ in range(100):
            if (resources / "shop.status.yaml").exists() and version_of(database_url) == 2:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert version_of(database_url) == 2
    assert operator.metrics.registry.get_sample_value("metadb_operator_managed_databases") == 1
