"""The app's frame: unknown routes and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_unknown_route_is_a_json_404(api: TestClient) -> None:
    response = api.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_openapi_document_is_served(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    assert document["info"]["title"] == "metadb"
