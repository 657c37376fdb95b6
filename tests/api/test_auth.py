"""Bearer-token auth: off by default; when on, every route but /healthz needs the token."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from metadb.api import ServeSettings
from metadb.errors import ConfigError
from tests.api.conftest import TOKEN

GOOD = {"Authorization": f"Bearer {TOKEN}"}
PROTECTED = ["/readyz", "/metrics", "/api/v1/migrations", "/api/v1/runs", "/api/v1/runs/1"]


def test_without_a_token_configured_nothing_asks_for_one(api: TestClient) -> None:
    assert api.get("/api/v1/runs").status_code == 200
    assert api.get("/readyz").status_code == 200
    assert "securitySchemes" not in api.get("/openapi.json").json().get("components", {})


def test_every_route_but_healthz_needs_the_token(authed_api: TestClient) -> None:
    assert authed_api.get("/healthz").status_code == 200
    for path in PROTECTED:
        response = authed_api.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthenticated"
        assert response.headers["www-authenticate"].startswith("Bearer")
    created = authed_api.post("/api/v1/runs", json={"name": "r"}, headers=GOOD)
    assert created.status_code == 201
    assert authed_api.get(f"/api/v1/runs/{created.json()['id']}", headers=GOOD).status_code == 200
    assert authed_api.get("/readyz", headers=GOOD).status_code == 200
    assert authed_api.get("/metrics", headers=GOOD).status_code == 200


WRONG_HEADERS: list[str | bytes] = [
    f"Bearer {TOKEN}x",
    f"Bearer {TOKEN[:-1]}",
    "Bearer ",
    f"Basic {TOKEN}",
    TOKEN,
    "Bearer tøken".encode(),
]


def test_a_wrong_or_malformed_token_is_a_401_that_does_not_echo_it(
    authed_api: TestClient,
) -> None:
    for header in WRONG_HEADERS:
        response = authed_api.get("/api/v1/runs", headers={"Authorization": header})  # type: ignore[dict-item]
        assert response.status_code == 401, header
        assert response.json()["code"] == "unauthenticated"
        assert TOKEN not in response.text


def test_writes_are_refused_without_the_token_and_change_nothing(authed_api: TestClient) -> None:
    assert authed_api.post("/api/v1/runs", json={"name": "r"}).status_code == 401
    assert authed_api.get("/api/v1/runs", headers=GOOD).json()["items"] == []


def test_the_token_is_never_logged(
    authed_api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="metadb")
    authed_api.get("/api/v1/runs", headers=GOOD, params={"token": TOKEN})
    authed_api.get("/api/v1/runs", headers={"Authorization": f"Bearer {TOKEN}-wrong"})
    authed_api.get("/api/v1/runs/nope", headers=GOOD)
    assert "GET /api/v1/runs 200" in caplog.text
    assert "GET /api/v1/runs 401" in caplog.text
    assert TOKEN not in caplog.text


def test_openapi_declares_the_bearer_scheme_when_auth_is_on(authed_api: TestClient) -> None:
    document = authed_api.get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "description": scheme["description"]}
    runs_get = document["paths"]["/api/v1/runs"]["get"]
    assert {"bearerAuth": []} in runs_get["security"]
    assert "security" not in document["paths"]["/healthz"]["get"]


def test_the_token_is_checked_before_routing_so_unknown_paths_reveal_nothing(
    authed_api: TestClient,
) -> None:
    assert authed_api.get("/api/v1/no-such-thing").status_code == 401
    assert authed_api.options("/api/v1/runs").status_code == 401
    found = authed_api.get("/api/v1/no-such-thing", headers=GOOD)
    assert (found.status_code, found.json()["code"]) == (404, "route_not_found")
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert authed_api.get(path).status_code == 200, path


@pytest.mark.parametrize("token", ["", " ", "\t\n"])
def test_a_blank_token_is_refused_rather_than_serving_without_auth(token: str) -> None:
    with pytest.raises(ConfigError, match="empty or only whitespace") as raised:
        ServeSettings(auth_token=token)
    assert "--auth-token-file" in str(raised.value)
