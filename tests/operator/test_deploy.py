"""deploy/: the checked-in CRDs are the generated ones, structural, and every overlay renders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from metadb.operator.resources import ManagedDatabase, crd_yaml, crds

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
FORBIDDEN = {"anyOf", "oneOf", "allOf", "$ref", "const", "$defs", "title"}


@pytest.mark.parametrize("crd", crds(), ids=lambda c: c["metadata"]["name"])
def test_the_checked_in_crds_are_the_generated_ones(crd: dict[str, Any]):
    path = DEPLOY / "base" / "crds" / f"{crd['metadata']['name']}.yaml"
    assert path.read_text() == crd_yaml(crd), (
        f"{path} is out of date: run 'metadb operator crds --output-dir deploy/base/crds'"
    )


def _check_structural(node: dict[str, Any], where: str) -> None:
    assert not FORBIDDEN & node.keys(), f"{where} uses {FORBIDDEN & node.keys()}"
    assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{where}: no type"
    for key in ("exclusiveMinimum", "exclusiveMaximum", "nullable"):
        if key in node:
            assert isinstance(node[key], bool), f"{where}.{key} must be a boolean in OpenAPI v3.0"
    for name, child in node.get("properties", {}).items():
        _check_structural(child, f"{where}.{name}")
    if "items" in node:
        _check_structural(node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        _check_structural(node["additionalProperties"], f"{where}{{}}")


@pytest.mark.parametrize("crd", crds(), ids=lambda c: c["metadata"]["name"])
def test_the_crd_schemas_are_structural(crd: dict[str, Any]):
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    _check_structural(schema, crd["spec"]["names"]["kind"])
    spec = schema["properties"]["spec"]
    if crd["spec"]["names"]["kind"] == "ManagedDatabase":
        assert spec["required"] == ["connection"]
        assert schema["properties"]["status"]["x-kubernetes-preserve-unknown-fields"] is True
        assert version["subresources"] == {"status": {}}
        lock = spec["properties"]["migrations"]["properties"]["lockTimeout"]
        assert lock["minimum"] == 0 and lock["exclusiveMinimum"] is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_with_kubectl_kustomize(overlay: str):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot render the kustomize overlays")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert ("Deployment", "metadb-operator") in kinds
    assert ("CustomResourceDefinition", "manageddatabases.metadb.io") in kinds
    assert ("StatefulSet", f"metadb-{overlay}") in kinds
    (managed,) = [d for d in documents if d["kind"] == "ManagedDatabase"]
    resource = ManagedDatabase.model_validate(managed)
    assert resource.metadata.namespace == "metadb"
    ref = resource.spec.connection.secret_ref
    assert ref is not None
    (secret,) = [
        d for d in documents if d["kind"] == "Secret" and d["metadata"]["name"] == ref.name
    ]
    assert ref.key in secret["data"]
    for document in documents:
        if document["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole",
                                    "ClusterRoleBinding"):  # fmt: skip
            assert document["metadata"].get("namespace") == "metadb", document["metadata"]
