"""The runs resources through the real app, on every database: the run store's semantics over
HTTP, and bad input answered with a 400 (never a 500)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient


def _create(api: TestClient, **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/runs", json={"name": "run", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert set(body) == {"code", "message", "details"}
    return body


def test_a_run_is_created_read_and_its_spec_shown_only_in_the_full_view(api: TestClient) -> None:
    created = _create(
        api,
        name="nightly-42",
        created_by="ana",
        state="RUNNING",
        pipeline_spec={"name": "trainer", "steps": [1, 2]},
        extra_data={"pipeline_name": "trainer", "n": None},
        mlmd_context_id=7,
        annotations={"team": "vision", "owner": "日本"},
    )
    assert created["name"] == "nightly-42"
    assert created["state"] == "RUNNING"
    assert created["pipeline_name"] == "trainer"
    assert created["finished_at_ms"] is None
    assert created["annotations"] == {
        "team": "vision",
        "owner": "日本",
        "system/pipeline_run.created_by": "ana",
        "system/pipeline_run.name": "trainer",
    }
    assert created["extra_data"] == {"pipeline_name": "trainer", "n": None}

    run_id = created["id"]
    plain = api.get(f"/api/v1/runs/{run_id}").json()
    assert plain["pipeline_spec"] is None
    assert plain["mlmd_context_id"] == 7
    full = api.get(f"/api/v1/runs/{run_id}", params={"full": "true"}).json()
    assert json.loads(full["pipeline_spec"]) == {"name": "trainer", "steps": [1, 2]}


def test_state_changes_set_and_clear_the_finished_time(api: TestClient) -> None:
    run_id = _create(api)["id"]
    done = api.put(f"/api/v1/runs/{run_id}/state", json={"state": "SUCCEEDED"})
    assert done.status_code == 200
    assert done.json()["state"] == "SUCCEEDED"
    assert done.json()["finished_at_ms"] is not None

    retried = api.put(f"/api/v1/runs/{run_id}/state", json={"state": "RUNNING"}).json()
    assert retried["finished_at_ms"] is None
    given = api.put(
        f"/api/v1/runs/{run_id}/state", json={"state": "FAILED", "finished_at_ms": 1234}
    ).json()
    assert given["finished_at_ms"] == 1234

    assert _error(api.put(f"/api/v1/runs/{run_id}/state", json={"state": "DONE"}), 400)
    missing = _error(api.put("/api/v1/runs/999999/state", json={"state": "FAILED"}), 404)
    assert missing["code"] == "not_found"


def test_a_deleted_run_is_gone_with_its_children(api: TestClient) -> None:
    run_id = _create(api, annotations={"a": "1"})["id"]
    api.patch(f"/api/v1/runs/{run_id}/metrics", json={"metrics": {"loss": 1.0}})
    api.post(f"/api/v1/runs/{run_id}/tasks", json={"name": "train"})

    deleted = api.delete(f"/api/v1/runs/{run_id}")
    assert deleted.status_code == 200
    assert deleted.json() == {}
    assert _error(api.get(f"/api/v1/runs/{run_id}"), 404)["code"] == "not_found"
    assert _error(api.delete(f"/api/v1/runs/{run_id}"), 404)
    assert _error(api.get(f"/api/v1/runs/{run_id}/tasks"), 404)


def test_annotations_are_set_replaced_and_deleted_but_system_keys_are_reserved(
    api: TestClient,
) -> None:
    run_id = _create(api, annotations={"team": "vision"})["id"]
    answer = api.patch(
        f"/api/v1/runs/{run_id}/annotations",
        json={"annotations": {"team": "nlp", "dataset/version": "v2"}},
    )
    assert answer.status_code == 200
    annotations = answer.json()["annotations"]
    assert annotations["team"] == "nlp"
    assert annotations["dataset/version"] == "v2"
    assert "system/pipeline_run.name" in annotations

    # A key with a slash, percent-encoded or not, names one annotation.
    assert api.delete(f"/api/v1/runs/{run_id}/annotations/dataset%2Fversion").status_code == 200
    assert "dataset/version" not in api.get(f"/api/v1/runs/{run_id}").json()["annotations"]
    missing = _error(api.delete(f"/api/v1/runs/{run_id}/annotations/dataset/version"), 404)
    assert "dataset/version" in missing["message"]

    reserved = _error(
        api.patch(
            f"/api/v1/runs/{run_id}/annotations",
            json={"annotations": {"system/pipeline_run.name": "x"}},
        ),
        400,
    )
    assert reserved["code"] == "invalid_argument"
    assert "reserved" in reserved["message"]
    assert _error(api.delete(f"/api/v1/runs/{run_id}/annotations/system/pipeline_run.name"), 400)
    too_long = {"annotations": {"k": "v" * 256}}
    assert _error(api.patch(f"/api/v1/runs/{run_id}/annotations", json=too_long), 400)
    assert _error(api.patch("/api/v1/runs/999999/annotations", json={"annotations": {}}), 404)


def test_metrics_are_logged_and_replaced_and_must_be_finite_numbers(api: TestClient) -> None:
    run_id = _create(api)["id"]
    first = api.patch(f"/api/v1/runs/{run_id}/metrics", json={"metrics": {"acc": 0.5, "n": 3}})
    assert first.json() == {"metrics": {"acc": 0.5, "n": 3.0}}
    second = api.patch(f"/api/v1/runs/{run_id}/metrics", json={"metrics": {"acc": 0.9}})
    assert second.json() == {"metrics": {"acc": 0.9, "n": 3.0}}

    nan = api.patch(
        f"/api/v1/runs/{run_id}/metrics",
        content=b'{"metrics": {"acc": NaN}}',
        headers={"content-type": "application/json"},
    )
    assert "finite" in _error(nan, 400)["message"]
    assert _error(api.patch(f"/api/v1/runs/{run_id}/metrics", json={"metrics": {"a": "x"}}), 400)
    assert _error(api.patch(f"/api/v1/runs/{run_id}/metrics", json={"metrics": {"": 1}}), 400)


def test_tasks_are_added_listed_in_order_and_updated(api: TestClient) -> None:
    run_id = _create(api)["id"]
    first = api.post(f"/api/v1/runs/{run_id}/tasks", json={"name": "fetch", "state": "RUNNING"})
    assert first.status_code == 201
    second = api.post(
        f"/api/v1/runs/{run_id}/tasks", json={"name": "train", "mlmd_execution_id": 12}
    )
    assert second.json()["mlmd_execution_id"] == 12

    listed = api.get(f"/api/v1/runs/{run_id}/tasks").json()["tasks"]
    assert [t["name"] for t in listed] == ["fetch", "train"]

    task_id = first.json()["id"]
    updated = api.patch(f"/api/v1/tasks/{task_id}", json={"state": "SUCCEEDED"}).json()
    assert updated["state"] == "SUCCEEDED"
    assert updated["finished_at_ms"] is not None
    unchanged = api.patch(f"/api/v1/tasks/{task_id}", json={}).json()
    assert unchanged == updated

    assert _error(api.patch("/api/v1/tasks/999999", json={"state": "FAILED"}), 404)
    assert _error(api.post("/api/v1/runs/999999/tasks", json={"name": "x"}), 404)
    assert _error(api.post(f"/api/v1/runs/{run_id}/tasks", json={"name": ""}), 400)
    assert _error(api.get("/api/v1/runs/0/tasks"), 404)


def test_search_filters_sorts_and_pages_with_tokens(api: TestClient) -> None:
    for i in range(7):
        run_id = _create(api, name=f"r{i}", annotations={"team": "a" if i % 2 else "b"})["id"]
        api.patch(f"/api/v1/runs/{run_id}/metrics", json={"metrics": {"acc": i / 10}})
    body = {
        "filter": {"value_equals": {"key": "team", "value": "b"}},
        "sort": "metric:acc desc",
        "limit": 2,
        "with_total": True,
    }
    names: list[str] = []
    page = api.post("/api/v1/runs/search", json=body).json()
    assert page["total_size"] == 4
    names += [r["name"] for r in page["items"]]
    while page["next_page_token"]:
        page = api.post(
            "/api/v1/runs/search", json={**body, "page_token": page["next_page_token"]}
        ).json()
        names += [r["name"] for r in page["items"]]
    assert names == ["r6", "r4", "r2", "r0"]

    listed = api.get(
        "/api/v1/runs",
        params={
            "filter": json.dumps({"metric": {"name": "acc", "op": ">=", "value": 0.5}}),
            "sort": "name asc",
        },
    ).json()
    assert [r["name"] for r in listed["items"]] == ["r5", "r6"]
    assert listed["total_size"] is None
    everything = api.get("/api/v1/runs", params={"limit": 200}).json()
    assert [r["name"] for r in everything["items"]] == [f"r{i}" for i in range(6, -1, -1)]


def test_a_malformed_search_is_a_400_naming_what_is_wrong(api: TestClient) -> None:
    bad_node = api.post(
        "/api/v1/runs/search",
        json={"filter": {"and": [{"key_exists": {"key": "a"}}, {"value_in": {"key": "a"}}]}},
    )
    assert "filter.and[1]" in _error(bad_node, 400)["message"]
    assert _error(api.post("/api/v1/runs/search", json={"sort": "colour asc"}), 400)
    assert _error(api.post("/api/v1/runs/search", json={"limit": 1001}), 400)
    assert _error(api.post("/api/v1/runs/search", json={"page_token": "garbage"}), 400)
    assert _error(api.get("/api/v1/runs", params={"filter": "{not json"}), 400)
    assert _error(api.get("/api/v1/runs", params={"filter": "[1]"}), 400)
    assert _error(api.get("/api/v1/runs", params={"limit": 0}), 400)
    huge = {"time_range": {"field": "created_at", "start_time": 2**70}}
    assert _error(api.post("/api/v1/runs/search", json={"filter": huge}), 400)
    nul = {"value_equals": {"key": "team", "value": "a\u0000b"}}
    assert "NUL" in _error(api.post("/api/v1/runs/search", json={"filter": nul}), 400)["message"]


BAD_RUN_BODIES: list[Any] = [
    {"name": ""},
    {"name": "x" * 256},
    {"name": "a\u0000b"},
    {"name": "r", "state": "FINISHED"},
    {"name": "r", "colour": "blue"},
    {"name": "r", "annotations": {"system/x": "y"}},
    {"name": "r", "mlmd_context_id": 2**31},
    {"name": "r", "created_at_ms": 2**63},
    {"name": "r", "extra_data": {"k": "\u0000"}},
    {"name": "r", "pipeline_spec": 5},
    {"name": 5},
    [],
]


def test_bad_run_bodies_are_400s(api: TestClient) -> None:
    for body in BAD_RUN_BODIES:
        response = api.post("/api/v1/runs", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "invalid_argument"
    assert api.get("/api/v1/runs").json()["items"] == []


def test_bad_ids_and_bodies_are_never_500s(api: TestClient) -> None:
    assert _error(api.get("/api/v1/runs/abc"), 400)
    assert _error(api.get(f"/api/v1/runs/{2**64}"), 400)
    assert _error(api.get("/api/v1/runs/-5"), 404)
    not_json = api.post("/api/v1/runs", content=b"{", headers={"content-type": "application/json"})
    assert _error(not_json, 400)


def test_openapi_documents_the_runs_resources_with_the_filter_tree(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    search_filter = schemas["RunSearch"]["properties"]["filter"]["anyOf"][0]
    refs = {choice["$ref"].rsplit("/", 1)[1] for choice in search_filter["oneOf"]}
    assert "RunFilterAndNode" in refs and "RunFilterMetricNode" in refs
    assert refs <= set(schemas)  # every node the filter refers to is in the document
    assert schemas["RunCreate"]["examples"][0]["name"] == "nightly-42"
    paths = document["paths"]
    for path, method in [
        ("/api/v1/runs", "post"),
        ("/api/v1/runs", "get"),
        ("/api/v1/runs/search", "post"),
        ("/api/v1/runs/{run_id}", "get"),
        ("/api/v1/runs/{run_id}", "delete"),
        ("/api/v1/runs/{run_id}/state", "put"),
        ("/api/v1/runs/{run_id}/annotations", "patch"),
        ("/api/v1/runs/{run_id}/annotations/{key}", "delete"),
        ("/api/v1/runs/{run_id}/metrics", "patch"),
        ("/api/v1/runs/{run_id}/tasks", "post"),
        ("/api/v1/runs/{run_id}/tasks", "get"),
        ("/api/v1/tasks/{task_id}", "patch"),
    ]:
        responses = paths[path][method]["responses"]
        assert {"400", "404"} <= set(responses), (path, method)
