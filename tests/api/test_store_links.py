"""Events, context membership, parent contexts, composite writes and lineage over REST."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

V1 = "/api/v1"


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def ids(response: Any) -> list[int]:
    return [n["id"] for n in ok(response)["items"]]


@pytest.fixture
def types(api: TestClient) -> dict[str, int]:
    return {
        kind: ok(api.post(f"{V1}/{kind}_types", json={f"{kind}_type": {"name": name}}))["type_id"]
        for kind, name in (("artifact", "Data"), ("execution", "Step"), ("context", "Run"))
    }


def put(api: TestClient, kind: str, nodes: list[dict[str, Any]]) -> list[int]:
    result: list[int] = ok(api.post(f"{V1}/{kind}s", json={f"{kind}s": nodes}))[f"{kind}_ids"]
    return result


def counts(api: TestClient) -> tuple[int, int, int]:
    return (
        len(ok(api.get(f"{V1}/artifacts"))["items"]),
        len(ok(api.get(f"{V1}/executions"))["items"]),
        len(ok(api.get(f"{V1}/contexts"))["items"]),
    )


def test_events_keep_their_paths_and_are_found_from_both_ends(
    api: TestClient, types: dict[str, int]
) -> None:
    [a1, a2] = put(api, "artifact", [{"type_id": types["artifact"]}] * 2)
    [e] = put(api, "execution", [{"type_id": types["execution"]}])
    events = [
        {"artifact_id": a1, "execution_id": e, "type": "INPUT", "path": ["examples", 0]},
        {"artifact_id": a2, "execution_id": e, "type": "OUTPUT", "path": [3, "model"],
         "milliseconds_since_epoch": 1700000000000},
    ]  # fmt: skip
    assert ok(api.post(f"{V1}/events", json={"events": events})) == {}

    by_execution = ok(api.get(f"{V1}/events", params={"execution_id": e}))["items"]
    assert [(x["artifact_id"], x["type"], x["path"]) for x in by_execution] == [
        (a1, "INPUT", ["examples", 0]),
        (a2, "OUTPUT", [3, "model"]),
    ]
    by_artifact = ok(api.get(f"{V1}/events", params={"artifact_id": a2}))["items"]
    assert by_artifact[0]["milliseconds_since_epoch"] == 1700000000000

    again = api.post(f"{V1}/events", json={"events": events[:1]})
    assert again.status_code == 409
    dangling = api.post(f"{V1}/events", json={"events": [{**events[0], "artifact_id": 999}]})
    assert dangling.status_code == 400
    neither = api.get(f"{V1}/events")
    assert neither.status_code == 400


def test_attributions_and_associations_are_idempotent(
    api: TestClient, types: dict[str, int]
) -> None:
    [a] = put(api, "artifact", [{"type_id": types["artifact"]}])
    [e] = put(api, "execution", [{"type_id": types["execution"]}])
    [c1, c2] = put(api, "context", [{"type_id": types["context"], "name": n} for n in "xy"])
    links = {
        "attributions": [
            {"context_id": c1, "artifact_id": a},
            {"context_id": c2, "artifact_id": a},
        ],
        "associations": [{"context_id": c1, "execution_id": e}],
    }
    for _ in range(2):
        ok(api.post(f"{V1}/attributions_and_associations", json=links))

    assert ids(api.get(f"{V1}/contexts/{c1}/artifacts")) == [a]
    assert ids(api.get(f"{V1}/contexts/{c1}/executions")) == [e]
    assert ids(api.get(f"{V1}/contexts/{c2}/executions")) == []
    assert ids(api.get(f"{V1}/artifacts/{a}/contexts")) == [c1, c2]
    assert ids(api.get(f"{V1}/executions/{e}/contexts")) == [c1]
    assert ids(api.get(f"{V1}/contexts/999/artifacts")) == []
    unknown = api.post(
        f"{V1}/attributions_and_associations",
        json={"attributions": [{"context_id": 999, "artifact_id": a}]},
    )
    assert unknown.status_code == 400


def test_parent_contexts_refuse_cycles_and_repeats(api: TestClient, types: dict[str, int]) -> None:
    [top, mid, leaf] = put(
        api, "context", [{"type_id": types["context"], "name": n} for n in ("top", "mid", "leaf")]
    )
    links = [{"child_id": mid, "parent_id": top}, {"child_id": leaf, "parent_id": mid}]
    ok(api.post(f"{V1}/parent_contexts", json={"parent_contexts": links}))
    assert ids(api.get(f"{V1}/contexts/{mid}/parents")) == [top]
    assert ids(api.get(f"{V1}/contexts/{mid}/children")) == [leaf]

    cycle = api.post(
        f"{V1}/parent_contexts", json={"parent_contexts": [{"child_id": top, "parent_id": leaf}]}
    )
    assert cycle.status_code == 400
    assert "cycle" in cycle.json()["message"]
    repeat = api.post(f"{V1}/parent_contexts", json={"parent_contexts": links[:1]})
    assert repeat.status_code == 409


def test_put_execution_writes_everything_or_nothing(api: TestClient, types: dict[str, int]) -> None:
    body = {
        "execution": {"type_id": types["execution"], "last_known_state": "COMPLETE"},
        "artifact_and_events": [
            {"artifact": {"type_id": types["artifact"], "uri": "s3://in"},
             "event": {"type": "INPUT"}},
            {"artifact": {"type_id": types["artifact"], "uri": "s3://out"},
             "event": {"type": "OUTPUT", "path": ["model"]}},
        ],
        "contexts": [{"type_id": types["context"], "name": "run-1"}],
    }  # fmt: skip
    result = ok(api.post(f"{V1}/lineage:put_execution", json=body))
    e, (a_in, a_out), (c,) = result["execution_id"], result["artifact_ids"], result["context_ids"]
    events = ok(api.get(f"{V1}/events", params={"execution_id": e}))["items"]
    assert [(x["artifact_id"], x["type"]) for x in events] == [(a_in, "INPUT"), (a_out, "OUTPUT")]
    assert ids(api.get(f"{V1}/contexts/{c}/artifacts")) == [a_in, a_out]
    assert counts(api) == (2, 1, 1)

    # The context exists now: without reuse the whole call fails and writes nothing.
    refused = api.post(f"{V1}/lineage:put_execution", json=body)
    assert refused.status_code == 409
    assert counts(api) == (2, 1, 1)
    reused = ok(api.post(f"{V1}/lineage:put_execution",
                         json={**body, "reuse_context_if_already_exist": True}))  # fmt: skip
    assert reused["context_ids"] == [c]
    assert counts(api) == (4, 2, 1)


def test_put_lineage_subgraph_is_one_transaction(api: TestClient, types: dict[str, int]) -> None:
    body: dict[str, Any] = {
        "executions": [{"type_id": types["execution"]}],
        "artifacts": [{"type_id": types["artifact"]}, {"type_id": types["artifact"]}],
        "contexts": [{"type_id": types["context"], "name": "pipeline"}],
        "event_edges": [
            {"execution_index": 0, "artifact_index": 0, "event": {"type": "INPUT"}},
            {"execution_index": 0, "artifact_index": 1, "event": {"type": "OUTPUT"}},
        ],
    }
    out_of_range = {**body, "event_edges": [{**body["event_edges"][0], "artifact_index": 2}]}
    refused = api.post(f"{V1}/lineage:put_subgraph", json=out_of_range)
    assert refused.status_code == 400
    assert "artifact_index" in refused.json()["message"]

    # A bad property on the last node fails the call after the others were written: rollback.
    bad = {**body, "executions": [{"type_id": types["execution"],
                                   "properties": {"undeclared": {"int_value": 1}}}]}  # fmt: skip
    assert api.post(f"{V1}/lineage:put_subgraph", json=bad).status_code == 400
    assert counts(api) == (0, 0, 0)

    result = ok(api.post(f"{V1}/lineage:put_subgraph", json=body))
    assert len(result["artifact_ids"]) == 2
    assert counts(api) == (2, 1, 1)
    [c] = result["context_ids"]
    assert ids(api.get(f"{V1}/contexts/{c}/executions")) == result["execution_ids"]


def chain(api: TestClient, types: dict[str, int]) -> tuple[list[int], list[int]]:
    """a0 -> e0 -> a1 -> e1 -> a2, all in one context."""
    body = {
        "executions": [{"type_id": types["execution"], "name": f"e{i}"} for i in range(2)],
        "artifacts": [{"type_id": types["artifact"], "uri": f"s3://a{i}"} for i in range(3)],
        "contexts": [{"type_id": types["context"], "name": "chain"}],
        "event_edges": [
            {"execution_index": 0, "artifact_index": 0, "event": {"type": "INPUT"}},
            {"execution_index": 0, "artifact_index": 1, "event": {"type": "OUTPUT"}},
            {"execution_index": 1, "artifact_index": 1, "event": {"type": "INPUT"}},
            {"execution_index": 1, "artifact_index": 2, "event": {"type": "OUTPUT"}},
        ],
    }
    result = ok(api.post(f"{V1}/lineage:put_subgraph", json=body))
    return result["artifact_ids"], result["execution_ids"]


def test_lineage_walks_by_hops_and_direction(api: TestClient, types: dict[str, int]) -> None:
    artifacts, executions = chain(api, types)
    query = {"starting_artifacts": "uri = 's3://a2'", "direction": "UPSTREAM"}

    def walk(**options: Any) -> tuple[list[int], list[int]]:
        graph = ok(api.post(f"{V1}/lineage:query", json={**query, **options}))
        return [a["id"] for a in graph["artifacts"]], [e["id"] for e in graph["executions"]]

    assert walk(max_num_hops=2) == (artifacts[1:], executions[1:])
    assert walk() == (artifacts, executions)
    assert walk(direction="DOWNSTREAM") == (artifacts[2:], [])
    assert walk(ending_artifacts="uri = 's3://a1'") == (artifacts[2:], executions[1:])

    graph = ok(api.post(f"{V1}/lineage:query", json=query))
    assert len(graph["events"]) == 4
    assert [t["name"] for t in graph["artifact_types"]] == ["Data"]
    assert [c["name"] for c in graph["contexts"]] == ["chain"]
    masked = ok(api.post(f"{V1}/lineage:query", json={**query, "field_mask_paths": ["events"]}))
    assert masked["artifacts"] == [] and len(masked["events"]) == 4


def test_lineage_queries_that_cannot_start(api: TestClient, types: dict[str, int]) -> None:
    chain(api, types)
    no_start = api.post(f"{V1}/lineage:query", json={"max_num_hops": 2})
    assert no_start.status_code == 400
    nothing = api.post(f"{V1}/lineage:query", json={"starting_executions": "name = 'nope'"})
    assert nothing.status_code == 404
    bad_filter = api.post(f"{V1}/lineage:query", json={"starting_artifacts": "uri = "})
    assert bad_filter.status_code == 400
    bad_mask = api.post(
        f"{V1}/lineage:query", json={"starting_artifacts": "id > 0", "field_mask_paths": ["x"]}
    )
    assert bad_mask.status_code == 400
