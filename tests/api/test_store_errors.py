"""Bad input to the store's routes: a JSON error with the right status, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

V1 = "/api/v1"


@pytest.fixture
def dataset(api: TestClient) -> int:
    response = api.post(
        f"{V1}/artifact_types",
        json={"artifact_type": {"name": "Dataset", "properties": {"day": "INT"}}},
    )
    type_id: int = response.json()["type_id"]
    return type_id


def error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"code", "message", "details"}
    message: str = body["message"]
    return message


MALFORMED_VALUES = [
    ({"int_value": "seven"}, "int_value"),
    ({"int_value": 2**63}, "int_value"),
    ({"int_value": 1, "string_value": "two keys"}, "custom_properties.v"),
    ({"double_value": "NaN"}, "double_value"),
    ({"bool_value": "yes"}, "bool_value"),
    ({"proto_value": {"type_url": "t", "value": "not base64!"}}, "value"),
    ({"string_value": "nul\x00inside"}, "string_value"),
    ({"unknown_value": 1}, "custom_properties.v"),
]


def test_malformed_property_values_are_400s(api: TestClient, dataset: int) -> None:
    for value, where in MALFORMED_VALUES:
        response = api.post(
            f"{V1}/artifacts",
            json={"artifacts": [{"type_id": dataset, "custom_properties": {"v": value}}]},
        )
        assert where in error(response, 400, "invalid_argument"), value


def test_an_int_beyond_the_int_value_column_is_a_400_where_it_does_not_fit(
    api: TestClient, dataset: int, backend: str
) -> None:
    # ml-metadata's int_value column is INT on PostgreSQL and MySQL, 64-bit on SQLite.
    response = api.post(
        f"{V1}/artifacts",
        json={"artifacts": [{"type_id": dataset, "properties": {"day": {"int_value": 2**40}}}]},
    )
    if backend == "sqlite":
        [artifact_id] = response.json()["artifact_ids"]
        stored = api.get(f"{V1}/artifacts/{artifact_id}").json()
        assert stored["properties"]["day"] == {"int_value": 2**40}
    else:
        error(response, 400, "invalid_argument")


def test_store_level_refusals_keep_their_codes(api: TestClient, dataset: int) -> None:
    undeclared = api.post(
        f"{V1}/artifacts",
        json={"artifacts": [{"type_id": dataset, "properties": {"nope": {"int_value": 1}}}]},
    )
    assert "nope" in error(undeclared, 400, "invalid_argument")
    wrong_type = api.post(
        f"{V1}/artifacts",
        json={"artifacts": [{"type_id": dataset, "properties": {"day": {"string_value": "x"}}}]},
    )
    assert "INT" in error(wrong_type, 400, "invalid_argument")
    update_missing = api.post(
        f"{V1}/artifacts", json={"artifacts": [{"id": 12345, "type_id": dataset}]}
    )
    error(update_missing, 400, "invalid_argument")


BAD_QUERIES = [
    ("artifacts", {"order_by": "name"}),
    ("artifacts", {"limit": 0}),
    ("artifacts", {"limit": 1001}),
    ("artifacts", {"is_asc": "sideways"}),
    ("artifacts", {"filter_query": "uri = = 'x'"}),
    ("artifacts", {"filter_query": "no_such_field = 1"}),
    ("artifacts", {"page_token": "%%%"}),
    ("artifacts:by_id", {}),
    ("artifacts:by_id", {"id": "abc"}),
    ("artifacts:by_type", {}),
    ("artifact_types:by_name", {"name": "x" * 256}),
    ("events", {"execution_id": 1, "artifact_id": 1}),
]


def test_bad_query_parameters_are_400s(api: TestClient) -> None:
    for path, params in BAD_QUERIES:
        error(api.get(f"{V1}/{path}", params=params), 400, "invalid_argument")


def test_ids_out_of_range_are_400s_not_database_errors(api: TestClient) -> None:
    for bad_id in ["0", "-1", str(2**31), "1.5", "x"]:
        for path in (f"artifacts/{bad_id}", f"artifact_types/{bad_id}",
                     f"contexts/{bad_id}/parents"):  # fmt: skip
            error(api.get(f"{V1}/{path}"), 400, "invalid_argument")


def test_the_largest_id_is_simply_not_found(api: TestClient) -> None:
    error(api.get(f"{V1}/executions/{2**31 - 1}"), 404, "not_found")
    assert api.get(f"{V1}/executions:by_id", params={"id": 2**31 - 1}).json() == {"items": []}


MALFORMED_BODIES = [
    b"{not json",
    b"[]",
    b'{"artifacts": {"type_id": 1}}',
    b'{"artifacts": [{"type_id": 1, "state": "ALIVE"}]}',
    b'{"artifacts": [{"type_id": 1, "colour": "red"}]}',
]


def test_malformed_bodies_are_400s(api: TestClient) -> None:
    for body in MALFORMED_BODIES:
        response = api.post(
            f"{V1}/artifacts", content=body, headers={"content-type": "application/json"}
        )
        error(response, 400, "invalid_argument")


def test_unknown_enum_names_are_400s(api: TestClient) -> None:
    event = {"artifact_id": 1, "execution_id": 1, "type": "SIDEWAYS"}
    error(api.post(f"{V1}/events", json={"events": [event]}), 400, "invalid_argument")
    query = {"starting_artifacts": "id > 0", "direction": "SIDEWAYS"}
    error(api.post(f"{V1}/lineage:query", json=query), 400, "invalid_argument")


def test_every_store_route_documents_its_errors(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    store_paths = [p for p in document["paths"] if p.startswith(V1) and "/runs" not in p]
    assert len(store_paths) >= 40
    for path in store_paths:
        for method, operation in document["paths"][path].items():
            if path.startswith(f"{V1}/migrations"):
                continue
            documented = set(operation["responses"])
            assert {"200", "400", "404", "409", "412", "503"} <= documented, (method, path)
            assert operation["operationId"], (method, path)
