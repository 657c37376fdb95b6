"""Artifacts, executions and contexts over REST: writes, reads, pages, filters."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

V1 = "/api/v1"


def put_type(api: TestClient, kind: str, body: dict[str, Any]) -> int:
    response = api.post(f"{V1}/{kind}_types", json={f"{kind}_type": body})
    assert response.status_code == 200, response.text
    type_id: int = response.json()["type_id"]
    return type_id


def put_nodes(api: TestClient, kind: str, nodes: list[dict[str, Any]]) -> list[int]:
    response = api.post(f"{V1}/{kind}s", json={f"{kind}s": nodes})
    assert response.status_code == 200, response.text
    ids: list[int] = response.json()[f"{kind}_ids"]
    return ids


@pytest.fixture
def dataset(api: TestClient) -> int:
    return put_type(
        api, "artifact", {"name": "Dataset", "properties": {"day": "INT", "split": "STRING"}}
    )


VALUES = {
    "i": {"int_value": -(2**31)},  # ml-metadata's int_value is a 32-bit INT on PG and MySQL
    "d": {"double_value": 1.0},
    "s": {"string_value": "naïve 😀"},
    "b": {"bool_value": False},
    "st": {"struct_value": {"a": [1.5, "x", None, True], "n": {"k": "v"}}},
    "p": {"proto_value": {"type_url": "type.googleapis.com/x.Y", "value": "CgJoaQ=="}},
}


def test_an_artifact_keeps_every_kind_of_value_exactly(api: TestClient, dataset: int) -> None:
    [artifact_id] = put_nodes(
        api,
        "artifact",
        [
            {
                "type_id": dataset,
                "name": "day-1",
                "external_id": "ext-1",
                "uri": "s3://b/day1",
                "state": "LIVE",
                "properties": {"day": {"int_value": 1}, "split": {"string_value": "train"}},
                "custom_properties": VALUES,
            }
        ],
    )
    stored = api.get(f"{V1}/artifacts/{artifact_id}").json()
    assert stored["custom_properties"] == VALUES
    assert stored["properties"] == {"day": {"int_value": 1}, "split": {"string_value": "train"}}
    assert (stored["name"], stored["external_id"], stored["uri"], stored["state"]) == (
        "day-1", "ext-1", "s3://b/day1", "LIVE",
    )  # fmt: skip
    assert stored["type"] == "Dataset"
    assert stored["create_time_since_epoch"] > 0


def test_updates_replace_properties_by_batch_and_by_put(api: TestClient, dataset: int) -> None:
    [a, b] = put_nodes(
        api,
        "artifact",
        [
            {"type_id": dataset, "uri": "s3://a", "properties": {"day": {"int_value": 1}}},
            {"type_id": dataset, "uri": "s3://b", "properties": {"day": {"int_value": 2}}},
        ],
    )
    ids = put_nodes(api, "artifact", [{"id": a, "type_id": dataset, "uri": "s3://a2"}])
    assert ids == [a]
    assert api.get(f"{V1}/artifacts/{a}").json()["properties"] == {}

    response = api.put(
        f"{V1}/artifacts/{b}",
        json={"type_id": dataset, "uri": "s3://b2", "state": "DELETED",
              "properties": {"split": {"string_value": "eval"}}},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["id"], updated["uri"], updated["state"]) == (b, "s3://b2", "DELETED")
    assert updated["properties"] == {"split": {"string_value": "eval"}}


def test_put_of_an_unknown_id_is_a_404_and_a_mismatched_id_a_400(
    api: TestClient, dataset: int
) -> None:
    missing = api.put(f"{V1}/artifacts/77", json={"type_id": dataset})
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    [a] = put_nodes(api, "artifact", [{"type_id": dataset}])
    mismatch = api.put(f"{V1}/artifacts/{a}", json={"id": a + 1, "type_id": dataset})
    assert mismatch.status_code == 400
    assert "differs" in mismatch.json()["message"]


def test_pages_walk_the_whole_listing_in_order(api: TestClient, dataset: int) -> None:
    ids = put_nodes(api, "artifact", [{"type_id": dataset, "uri": f"s3://b/{i}"} for i in range(7)])
    for order, expected in (("true", ids), ("false", ids[::-1])):
        seen: list[int] = []
        sizes = []
        token = None
        while True:
            params = {"limit": 3, "is_asc": order, "order_by": "create_time"}
            if token:
                params["page_token"] = token
            page = api.get(f"{V1}/artifacts", params=params).json()
            seen += [a["id"] for a in page["items"]]
            sizes.append(len(page["items"]))
            token = page["next_page_token"]
            if token is None:
                break
        assert sizes == [3, 3, 1]
        assert seen == expected


def test_a_page_token_only_works_with_its_own_listing(api: TestClient, dataset: int) -> None:
    put_nodes(api, "artifact", [{"type_id": dataset} for _ in range(3)])
    token = api.get(f"{V1}/artifacts", params={"limit": 1}).json()["next_page_token"]
    other = api.get(f"{V1}/artifacts", params={"limit": 1, "page_token": token, "is_asc": False})
    assert other.status_code == 400
    assert "next_page_token" in other.json()["message"]
    damaged = api.get(f"{V1}/artifacts", params={"page_token": "not-a-token"})
    assert damaged.status_code == 400


def test_filter_query_selects_nodes(api: TestClient, dataset: int) -> None:
    ids = put_nodes(
        api,
        "artifact",
        [
            {"type_id": dataset, "uri": f"s3://b/{i}", "properties": {"day": {"int_value": i}}}
            for i in range(5)
        ],
    )
    page = api.get(
        f"{V1}/artifacts",
        params={"filter_query": "properties.day.int_value >= 3 AND type = 'Dataset'"},
    ).json()
    assert [a["id"] for a in page["items"]] == ids[3:]
    bad = api.get(f"{V1}/artifacts", params={"filter_query": "properties.day.int_value >>> 3"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_argument"


def test_lookups_by_id_external_id_uri_type_and_name(api: TestClient, dataset: int) -> None:
    other = put_type(api, "artifact", {"name": "Model", "version": "2"})
    [a, b, c] = put_nodes(
        api,
        "artifact",
        [
            {"type_id": dataset, "name": "a", "external_id": "x-a", "uri": "s3://same"},
            {"type_id": dataset, "name": "b", "external_id": "x-b", "uri": "s3://same"},
            {"type_id": other, "name": "a", "uri": "s3://m"},
        ],
    )

    def ids(path: str, **params: Any) -> list[int]:
        response = api.get(f"{V1}/{path}", params=params)
        assert response.status_code == 200, response.text
        return [n["id"] for n in response.json()["items"]]

    assert ids("artifacts:by_id", id=[c, a, 999]) == [a, c]
    assert ids("artifacts:by_external_id", external_id=["x-b"]) == [b]
    assert ids("artifacts:by_uri", uri="s3://same") == [a, b]
    assert ids("artifacts:by_type", type_name="Dataset") == [a, b]
    assert ids("artifacts:by_type", type_name="Dataset", is_asc=False, limit=1) == [b]
    assert ids("artifacts:by_type", type_name="Model") == []
    assert ids("artifacts:by_type", type_name="Model", type_version="2") == [c]
    found = api.get(f"{V1}/artifacts:by_type_and_name",
                    params={"type_name": "Model", "type_version": "2", "name": "a"})  # fmt: skip
    assert found.json()["id"] == c
    missing = api.get(f"{V1}/artifacts:by_type_and_name",
                      params={"type_name": "Model", "name": "a"})  # fmt: skip
    assert missing.status_code == 404


def test_executions_and_contexts_have_their_own_fields_and_rules(api: TestClient) -> None:
    trainer = put_type(api, "execution", {"name": "Trainer"})
    run = put_type(api, "context", {"name": "Run"})
    [e] = put_nodes(api, "execution", [{"type_id": trainer, "last_known_state": "RUNNING"}])
    assert api.get(f"{V1}/executions/{e}").json()["last_known_state"] == "RUNNING"
    [c] = put_nodes(api, "context", [{"type_id": run, "name": "run-1"}])
    assert api.get(f"{V1}/contexts/{c}").json()["name"] == "run-1"
    page = api.get(f"{V1}/contexts").json()
    assert [x["id"] for x in page["items"]] == [c]

    taken = api.post(f"{V1}/contexts", json={"contexts": [{"type_id": run, "name": "run-1"}]})
    assert taken.status_code == 409
    assert taken.json()["code"] == "already_exists"
    nameless = api.post(f"{V1}/contexts", json={"contexts": [{"type_id": run}]})
    assert nameless.status_code == 400


def test_a_node_of_an_unknown_type_is_refused(api: TestClient) -> None:
    response = api.post(f"{V1}/executions", json={"executions": [{"type_id": 4242}]})
    assert response.status_code == 404
    assert "4242" in response.json()["message"]
    assert api.get(f"{V1}/executions").json() == {"items": [], "next_page_token": None}
