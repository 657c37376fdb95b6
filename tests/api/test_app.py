"""The app's frame: unknown routes and methods, unreadable bodies, the OpenAPI document and the
route labels of the metrics."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_unknown_route_is_a_json_404_of_its_own_naming_method_and_path(api: TestClient) -> None:
    response = api.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "route_not_found"
    assert "GET /api/v1/no-such-thing" in response.json()["message"]
    # A store's "no such node" keeps its code.
    missing = api.get("/api/v1/artifacts/7")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_options_and_405_answer_with_the_methods_of_the_route(api: TestClient) -> None:
    for path, allow in [
        ("/api/v1/runs", "GET, POST, OPTIONS"),
        ("/api/v1/runs/1", "GET, DELETE, OPTIONS"),
        ("/api/v1/artifacts/1", "GET, PUT, OPTIONS"),
        ("/healthz", "GET, OPTIONS"),
    ]:
        options = api.options(path)
        assert options.status_code == 204, path
        assert options.headers["allow"] == allow, path
    wrong = api.delete("/api/v1/runs")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, POST, OPTIONS"
    assert "DELETE /api/v1/runs" in wrong.json()["message"]


NOT_JSON = [
    b"{not json",
    b'{"name": "caf\xe9"}',  # latin-1, not UTF-8
    b"[" * 100_000 + b"]" * 100_000,  # nested beyond the parser's recursion limit
]


def test_a_body_that_is_not_json_is_an_invalid_argument(api: TestClient) -> None:
    for body in NOT_JSON:
        response = api.post(
            "/api/v1/runs", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, body[:20]
        assert response.json()["code"] == "invalid_argument", response.text
        assert response.json()["message"].startswith("body"), response.text


def test_metrics_label_every_route_by_its_full_template(api: TestClient) -> None:
    type_id = api.post(
        "/api/v1/artifact_types", json={"artifact_type": {"name": "Dataset"}}
    ).json()["type_id"]
    api.get(f"/api/v1/artifact_types/{type_id}")
    api.get("/api/v1/artifacts/1")
    api.get("/api/v1/contexts/1/parents")
    api.post("/api/v1/lineage:query", json={"starting_artifacts": "id > 0"})
    api.get("/api/v1/runs/1")
    api.get("/api/v1/migrations")
    text = api.get("/metrics").text
    labels = set(re.findall(r'^metadb_http_requests_total\{.*route="([^"]*)"', text, re.M))
    paths = set(api.get("/openapi.json").json()["paths"])
    assert {
        "/api/v1/artifact_types",
        "/api/v1/artifact_types/{type_id}",
        "/api/v1/artifacts/{artifact_id}",
        "/api/v1/contexts/{context_id}/parents",
        "/api/v1/lineage:query",
        "/api/v1/runs/{run_id}",
        "/api/v1/migrations",
    } <= labels
    assert labels <= paths, labels - paths


def test_openapi_document_is_served(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    assert document["info"]["title"] == "metadb"
