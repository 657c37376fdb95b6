"""One page policy and one page token at every front door: the embedded stores, REST, the client.

A user who asks for too large or a non-integer page, or who carries a token to another listing,
gets the same InvalidArgumentError (HTTP 400 ``invalid_argument``) wherever they ask; paging
forward visits every row once, and a token made by the embedded store works through the client
(the CLI's exit 2 is in tests/runs/test_cli.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import metadb
from metadb import runs as runs_lib
from metadb.client import Client
from metadb.errors import InvalidArgumentError
from metadb.store import Artifact, ArtifactType, Execution, ExecutionType, ListOptions

V1 = "/api/v1"


@pytest.fixture
def seeded(database_url: str) -> dict[str, list[int]]:
    """Seven artifacts, three executions and five runs in the test database."""
    with metadb.connect(database_url) as store:
        dataset = store.put_artifact_type(ArtifactType(name="Dataset"))
        trainer = store.put_execution_type(ExecutionType(name="Trainer"))
        artifacts = store.put_artifacts(
            [Artifact(type_id=dataset, uri=f"s3://b/{i}") for i in range(7)]
        )
        executions = store.put_executions([Execution(type_id=trainer) for _ in range(3)])
    with runs_lib.connect(database_url) as runs:
        run_ids = [
            runs.create_run(f"r{i}", annotations={"team": "a" if i % 2 else "b"}).id
            for i in range(5)
        ]
    return {"artifacts": artifacts, "executions": executions, "runs": run_ids}


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "invalid_argument"
    return body


def test_an_artifacts_token_is_refused_on_executions_and_by_another_filter(
    api: TestClient, seeded: dict[str, list[int]]
) -> None:
    token = api.get(f"{V1}/artifacts", params={"limit": 2}).json()["next_page_token"]

    on_executions = _error(api.get(f"{V1}/executions", params={"page_token": token}))
    other_filter = _error(
        api.get(f"{V1}/artifacts", params={"page_token": token, "filter_query": "uri = 'x'"})
    )
    on_runs = _error(api.get(f"{V1}/runs", params={"page_token": token}))

    assert "belongs to another listing" in on_executions["message"]
    assert "of artifacts, not of executions" in on_executions["message"]
    assert "Start again without page_token" in on_executions["message"]
    assert "another search of artifacts" in other_filter["message"]
    assert "of artifacts, not of runs" in on_runs["message"]


def test_a_runs_token_is_refused_by_a_search_with_another_filter(
    api: TestClient, seeded: dict[str, list[int]]
) -> None:
    team_b = {"filter": {"value_equals": {"key": "team", "value": "b"}}, "limit": 1}
    token = api.post(f"{V1}/runs/search", json=team_b).json()["next_page_token"]

    other = {"filter": {"value_equals": {"key": "team", "value": "a"}}, "page_token": token}
    assert "another search of runs" in _error(api.post(f"{V1}/runs/search", json=other))["message"]
    same = api.post(f"{V1}/runs/search", json={**team_b, "page_token": token, "limit": 10})
    assert [r["name"] for r in same.json()["items"]] == ["r2", "r0"]


@pytest.mark.parametrize("limit", [1001, 0, -5, 1.5, "many"])
def test_a_bad_limit_is_a_400_on_every_listing_route(
    api: TestClient, seeded: dict[str, list[int]], limit: Any
) -> None:
    for kinds in ("artifacts", "executions", "contexts", "runs"):
        _error(api.get(f"{V1}/{kinds}", params={"limit": limit}))
    _error(api.post(f"{V1}/runs/search", json={"limit": limit}))


def test_every_listing_answers_in_one_envelope(
    api: TestClient, seeded: dict[str, list[int]]
) -> None:
    artifacts = api.get(f"{V1}/artifacts", params={"limit": 5}).json()
    runs = api.get(f"{V1}/runs", params={"limit": 5, "with_total": True}).json()
    searched = api.post(f"{V1}/runs/search", json={"limit": 5}).json()

    assert set(artifacts) == {"items", "next_page_token"} and len(artifacts["items"]) == 5
    assert set(runs) == set(searched) == {"items", "next_page_token", "total_size"}
    assert len(runs["items"]) == 5 and runs["next_page_token"] is None
    assert runs["total_size"] == 5


def test_page_size_is_still_read_as_the_deprecated_name_of_limit_for_runs(
    api: TestClient, seeded: dict[str, list[int]]
) -> None:
    listed = api.get(f"{V1}/runs", params={"page_size": 2}).json()
    searched = api.post(f"{V1}/runs/search", json={"page_size": 2}).json()

    assert len(listed["items"]) == len(searched["items"]) == 2
    _error(api.get(f"{V1}/runs", params={"page_size": 1001}))
    deprecated = api.get("/openapi.json").json()["paths"][f"{V1}/runs"]["get"]["parameters"]
    assert [p["deprecated"] for p in deprecated if p["name"] == "page_size"] == [True]


def test_the_embedded_store_and_the_client_refuse_the_same_limits(
    database_url: str, live_server: str, seeded: dict[str, list[int]]
) -> None:
    bad: list[Any] = [1001, 0, 1.5, "7", True]
    with (
        metadb.connect(database_url) as embedded,
        runs_lib.connect(database_url) as runs,
        Client(live_server) as client,
    ):
        calls: list[Callable[[Any], Any]] = [
            lambda n: embedded.list_artifacts(ListOptions(limit=n)),
            lambda n: client.list_artifacts(ListOptions(limit=n)),
            lambda n: embedded.list_executions(ListOptions(limit=n)),
            lambda n: client.list_executions(ListOptions(limit=n)),
            lambda n: runs.search_runs(limit=n),
            lambda n: client.search_runs(limit=n),
        ]
        messages = []
        for call in calls:
            for limit in bad:
                with pytest.raises(InvalidArgumentError) as caught:
                    call(limit)
                messages.append(str(caught.value))
        for get in (embedded.get_artifacts, client.get_artifacts):
            with pytest.raises(InvalidArgumentError, match="limit must be at least 1"):
                get(ListOptions(limit=0))

    # Each mistake reads the same at each door.
    by_door = [messages[i : i + len(bad)] for i in range(0, len(messages), len(bad))]
    assert [door for door in by_door if door != by_door[0]] == []
    assert "between 1 and 1000" in by_door[0][0] and "must be an integer" in by_door[0][2]


@pytest.fixture
def both(database_url: str, live_server: str) -> Iterator[tuple[Any, Any, Client]]:
    with (
        metadb.connect(database_url) as embedded,
        runs_lib.connect(database_url) as runs,
        Client(live_server) as client,
    ):
        yield embedded, runs, client


def _walk(page: Callable[[int, str | None], Any], limit: int) -> list[int]:
    seen: list[int] = []
    token = None
    while True:
        got = page(limit, token)
        assert len(got.items) <= limit
        seen += [item.id for item in got.items]
        token = got.next_page_token
        if token is None:
            assert len(seen) == len(set(seen)), seen
            return seen


def test_paging_forward_visits_every_row_once_embedded_and_remote_alike(
    both: tuple[Any, Any, Client], seeded: dict[str, list[int]]
) -> None:
    embedded, runs, client = both

    def artifacts(store: Any) -> Callable[[int, str | None], Any]:
        return lambda n, t: store.list_artifacts(
            ListOptions(limit=n, order_by="create_time", is_asc=False, next_page_token=t)
        )

    def run_pages(store: Any) -> Callable[[int, str | None], Any]:
        return lambda n, t: store.search_runs(sort="name desc", limit=n, page_token=t)

    for limit in (1, 2, 3, 7, 1000):
        assert _walk(artifacts(embedded), limit) == _walk(artifacts(client), limit)
        assert sorted(_walk(artifacts(client), limit)) == seeded["artifacts"]
        assert _walk(run_pages(runs), limit) == _walk(run_pages(client), limit)
        assert _walk(run_pages(runs), limit) == sorted(seeded["runs"], reverse=True)

    # A token made embedded goes on through the client: it is one codec.
    first = embedded.list_artifacts(ListOptions(limit=3))
    rest = client.list_artifacts(ListOptions(limit=10, next_page_token=first.next_page_token))
    assert [a.id for a in first.items + rest.items] == seeded["artifacts"]
    everything = client.get_artifacts(ListOptions(limit=5, is_asc=False))
    assert [a.id for a in everything] == sorted(seeded["artifacts"], reverse=True)[:5]
