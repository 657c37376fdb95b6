"""Types over REST: put (with can_add_fields / can_omit_fields) and every way to get them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

V1 = "/api/v1"


def put_type(api: TestClient, kind: str, body: dict[str, Any], **flags: bool) -> int:
    response = api.post(f"{V1}/{kind}_types", json={f"{kind}_type": body, **flags})
    assert response.status_code == 200, response.text
    type_id: int = response.json()["type_id"]
    return type_id


def test_an_artifact_type_reads_back_every_way(api: TestClient) -> None:
    body = {
        "name": "Dataset",
        "version": "v1",
        "description": "daily data",
        "external_id": "ds-v1",
        "properties": {"day": "INT", "split": "STRING", "stats": "STRUCT"},
        "base_type": "DATASET",
    }
    type_id = put_type(api, "artifact", body)
    expected = {**body, "id": type_id}

    assert api.get(f"{V1}/artifact_types/{type_id}").json() == expected
    by_name = api.get(f"{V1}/artifact_types:by_name", params={"name": "Dataset", "version": "v1"})
    assert by_name.json() == expected
    assert api.get(f"{V1}/artifact_types").json() == {"items": [expected]}
    by_ids = api.get(f"{V1}/artifact_types:by_id", params={"id": [type_id, 999]})
    assert by_ids.json() == {"items": [expected]}
    by_external = api.get(f"{V1}/artifact_types:by_external_id", params={"external_id": "ds-v1"})
    assert by_external.json() == {"items": [expected]}


def test_putting_the_same_type_again_returns_its_id(api: TestClient) -> None:
    first = put_type(api, "context", {"name": "Run", "properties": {"owner": "STRING"}})
    assert put_type(api, "context", {"name": "Run", "properties": {"owner": "STRING"}}) == first


def test_a_changed_type_needs_can_add_fields_or_can_omit_fields(api: TestClient) -> None:
    put_type(api, "execution", {"name": "Trainer", "properties": {"lr": "DOUBLE"}})
    wider = {"name": "Trainer", "properties": {"lr": "DOUBLE", "epochs": "INT"}}

    refused = api.post(f"{V1}/execution_types", json={"execution_type": wider})
    assert refused.status_code == 409
    assert refused.json()["code"] == "already_exists"

    type_id = put_type(api, "execution", wider, can_add_fields=True)
    narrower = {"name": "Trainer", "properties": {"epochs": "INT"}}
    assert put_type(api, "execution", narrower, can_omit_fields=True) == type_id
    stored = api.get(f"{V1}/execution_types/{type_id}").json()
    assert stored["properties"] == {"lr": "DOUBLE", "epochs": "INT"}


def test_execution_types_keep_their_input_and_output_types(api: TestClient) -> None:
    body = {"name": "Trainer", "input_type": "any: {}", "output_type": "none: {}"}
    type_id = put_type(api, "execution", body)
    stored = api.get(f"{V1}/execution_types/{type_id}").json()
    assert (stored["input_type"], stored["output_type"]) == ("any: {}", "none: {}")


def test_kinds_are_separate(api: TestClient) -> None:
    type_id = put_type(api, "artifact", {"name": "Model"})
    wrong_kind = api.get(f"{V1}/context_types/{type_id}")
    assert wrong_kind.status_code == 404
    assert wrong_kind.json()["code"] == "not_found"
    assert api.get(f"{V1}/context_types").json() == {"items": []}


def test_an_unknown_type_name_is_a_404_that_names_it(api: TestClient) -> None:
    response = api.get(f"{V1}/artifact_types:by_name", params={"name": "Nope", "version": "v9"})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert "Nope" in body["message"]


def test_a_property_of_an_unknown_data_type_is_a_400(api: TestClient) -> None:
    response = api.post(
        f"{V1}/artifact_types",
        json={"artifact_type": {"name": "Bad", "properties": {"x": "INTEGER"}}},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_argument"
    assert "properties.x" in response.json()["message"]
