"""Request bodies are taken at their JSON type (issue 13): a boolean is not an id, a string not
an INT, ``false`` not a metric. Each is a 400 ``invalid_argument`` naming the field, and nothing
is written. JSON's integers still fill double fields; query parameters are still text parsed
as their types."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

V1 = "/api/v1"


def refused(response: Any, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_argument"
    assert field in body["message"], body["message"]


@pytest.fixture
def dataset(api: TestClient) -> int:
    response = api.post(
        f"{V1}/artifact_types",
        json={"artifact_type": {"name": "Dataset", "properties": {"day": "INT", "w": "DOUBLE"}}},
    )
    assert response.status_code == 200, response.text
    type_id: int = response.json()["type_id"]
    return type_id


def artifacts(api: TestClient) -> list[Any]:
    response = api.get(f"{V1}/artifacts")
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    ("artifact", "field"),
    [
        ({"type_id": True}, "type_id"),
        ({"type_id": "1"}, "type_id"),
        ({"type_id": 1.0}, "type_id"),
        ({"properties": {"day": {"int_value": "7"}}}, "int_value"),
        ({"properties": {"day": {"int_value": True}}}, "int_value"),
        ({"properties": {"w": {"double_value": True}}}, "double_value"),
        ({"properties": {"w": {"double_value": "0.5"}}}, "double_value"),
        ({"custom_properties": {"note": {"string_value": 7}}}, "string_value"),
        ({"uri": 7}, "uri"),
        ({"name": 5}, "name"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_400_and_writes_nothing(
    api: TestClient, dataset: int, artifact: dict[str, Any], field: str
) -> None:
    response = api.post(f"{V1}/artifacts", json={"artifacts": [{"type_id": dataset, **artifact}]})

    refused(response, field)
    assert artifacts(api) == []


def test_a_boolean_type_id_does_not_create_an_artifact_of_type_1(api: TestClient) -> None:
    # Type 1 exists in every store (a system type), so ``true`` used to be accepted as it.
    refused(api.post(f"{V1}/artifacts", json={"artifacts": [{"type_id": True}]}), "type_id")
    assert artifacts(api) == []


def test_a_string_flag_is_not_a_boolean(api: TestClient) -> None:
    body = {"artifact_type": {"name": "Dataset"}, "can_add_fields": "true"}

    refused(api.post(f"{V1}/artifact_types", json=body), "can_add_fields")
    assert api.get(f"{V1}/artifact_types").json()["items"] == []


def test_json_integers_still_fill_double_fields(api: TestClient, dataset: int) -> None:
    body = {"artifacts": [{"type_id": dataset, "properties": {"w": {"double_value": 1}}}]}
    response = api.post(f"{V1}/artifacts", json=body)
    assert response.status_code == 200, response.text

    [stored] = artifacts(api)
    assert stored["properties"]["w"] == {"double_value": 1.0}


def test_query_parameters_are_still_parsed_from_text(api: TestClient, dataset: int) -> None:
    body = {"artifacts": [{"type_id": dataset, "uri": f"s3://b/{i}"} for i in range(3)]}
    assert api.post(f"{V1}/artifacts", json=body).status_code == 200

    page = api.get(f"{V1}/artifacts", params={"limit": "2", "is_asc": "false"})
    assert page.status_code == 200, page.text
    assert [a["uri"] for a in page.json()["items"]] == ["s3://b/2", "s3://b/1"]


@pytest.fixture
def run_id(api: TestClient) -> int:
    response = api.post(f"{V1}/runs", json={"name": "nightly"})
    assert response.status_code == 201, response.text
    value: int = response.json()["id"]
    return value


def test_a_boolean_metric_is_a_400_and_the_metrics_stay(api: TestClient, run_id: int) -> None:
    kept = api.patch(f"{V1}/runs/{run_id}/metrics", json={"metrics": {"acc": 0.5, "n": 3}})
    assert kept.json() == {"metrics": {"acc": 0.5, "n": 3.0}}

    bad = api.patch(f"{V1}/runs/{run_id}/metrics", json={"metrics": {"acc": 0.9, "a": False}})

    refused(bad, "metrics.a")
    assert api.get(f"{V1}/runs/{run_id}").json()["metrics"] == {"acc": 0.5, "n": 3.0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": "r", "mlmd_context_id": True}, "mlmd_context_id"),
        ({"name": "r", "created_at_ms": "1700000000000"}, "created_at_ms"),
        ({"name": "r", "annotations": {"team": 1}}, "annotations.team"),
    ],
)
def test_a_run_body_of_the_wrong_json_type_is_a_400_and_creates_no_run(
    api: TestClient, body: dict[str, Any], field: str
) -> None:
    refused(api.post(f"{V1}/runs", json=body), field)

    page = api.post(f"{V1}/runs/search", json={})
    assert page.json()["items"] == []
