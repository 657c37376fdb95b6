"""The runs half of ``metadb.client.Client`` against a real server: the run store's names,
dataclasses and errors, so that a program switches between embedded and remote in one line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from metadb import runs as runs_lib
from metadb.api import ServeSettings
from metadb.client import Client
from metadb.errors import InvalidArgumentError, NotFoundError, TokenRejectedError
from metadb.runs import Run, RunPage, RunStore, Task
from tests.api.conftest import TOKEN, running_server


@pytest.fixture
def client(live_server: str) -> Iterator[Client]:
    with Client(live_server) as remote:
        yield remote


def _story(runs: Any) -> dict[str, Any]:
    """One program, written once, for an embedded RunStore or a Client."""
    run = runs.create_run(
        "nightly-1",
        created_by="ana",
        state="RUNNING",
        extra_data={"pipeline_name": "trainer", "n": None},
        pipeline_spec={"name": "trainer"},
        annotations={"team": "vision", "path/key": "x"},
        created_at_ms=1_700_000_000_000,
    )
    other = runs.create_run(
        "nightly-2", annotations={"team": "nlp"}, created_at_ms=1_700_000_000_001
    )
    metrics = runs.log_metrics(run.id, {"accuracy": 0.93, "loss": 1})
    annotations = runs.set_annotations(run.id, {"owner": "日本"})
    runs.delete_annotation(run.id, "path/key")
    task = runs.add_task(run.id, "train", state="RUNNING", mlmd_execution_id=5)
    finished = runs.update_task(task.id, state="SUCCEEDED", finished_at_ms=1_700_000_100_000)
    done = runs.update_run_state(run.id, "SUCCEEDED", finished_at_ms=1_700_000_200_000)
    first = runs.search_runs(sort="created_at asc", limit=1, with_total=True)
    second = runs.search_runs(sort="created_at asc", limit=1, page_token=first.next_page_token)
    vision = runs.search_runs('{"value_equals": {"key": "team", "value": "vision"}}', full=True)
    full = runs.get_run(run.id, full=True)
    tasks = runs.list_tasks(run.id)
    runs.delete_run(other.id)
    return {
        "created": _stable(run),
        "metrics": metrics,
        "annotations": annotations,
        "finished_task": _stable(finished),
        "done": _stable(done),
        "pages": [[r.name for r in p.items] for p in (first, second)],
        "total": first.total_size,
        "last_token": second.next_page_token,
        "vision": [_stable(r) for r in vision.items],
        "full": _stable(full),
        "tasks": [_stable(t) for t in tasks],
        "after_delete": [r.name for r in runs.search_runs().items],
    }


def _stable(item: Run | Task) -> Run | Task:
    """The entity without what differs between two databases (ids, clock times)."""
    if isinstance(item, Task):
        return replace(item, id=0, run_id=0)
    return replace(
        item,
        id=0,
        updated_at_ms=0,
        tasks=[replace(t, id=0, run_id=0) for t in item.tasks],
    )


def test_the_client_answers_as_the_embedded_store_does(client: Client, tmp_path: Any) -> None:
    with runs_lib.connect(f"sqlite:///{tmp_path / 'embedded.sqlite'}") as embedded:
        expected = _story(embedded)
    assert _story(client) == expected


def test_the_client_returns_the_run_stores_dataclasses(client: Client) -> None:
    run = client.create_run("r", annotations={"a": "b"})
    assert isinstance(run, Run)
    assert run.annotations["a"] == "b"
    page = client.search_runs({"key_exists": {"key": "a"}})
    assert isinstance(page, RunPage)
    assert [r.id for r in page.items] == [run.id]
    task = client.add_task(run.id, "t")
    assert isinstance(task, Task)
    assert client.get_run(run.id).tasks == [task]


def test_the_client_raises_the_run_stores_errors(client: Client) -> None:
    run = client.create_run("r")
    with pytest.raises(NotFoundError):
        client.get_run(987654)
    with pytest.raises(NotFoundError):
        client.delete_annotation(run.id, "absent")
    with pytest.raises(NotFoundError):
        client.update_task(987654, state="FAILED")
    with pytest.raises(InvalidArgumentError, match="reserved"):
        client.set_annotations(run.id, {"system/pipeline_run.name": "x"})
    with pytest.raises(InvalidArgumentError, match="reserved"):
        client.delete_annotation(run.id, "system/pipeline_run.name")
    with pytest.raises(InvalidArgumentError, match="finite"):
        client.log_metrics(run.id, {"acc": float("nan")})
    with pytest.raises(InvalidArgumentError, match="extra_data"):
        client.create_run("r2", extra_data={"x": float("inf")})
    with pytest.raises(InvalidArgumentError):
        client.update_run_state(run.id, "DONE")
    with pytest.raises(InvalidArgumentError):
        client.search_runs({"nope": {}})
    with pytest.raises(InvalidArgumentError):
        client.search_runs("{not json")
    with pytest.raises(InvalidArgumentError):
        client.search_runs(limit=5000)
    with pytest.raises(InvalidArgumentError):
        client.search_runs(page_token="garbage")
    assert [r.name for r in client.search_runs().items] == ["r"]


def test_embedded_and_remote_raise_the_same_class_for_the_same_mistake(
    client: Client, tmp_path: Any
) -> None:
    mistakes = [
        lambda s: s.get_run(424242),
        lambda s: s.create_run(""),
        lambda s: s.create_run("r", state="DONE"),
        lambda s: s.create_run("r", annotations={"system/a": "b"}),
        lambda s: s.log_metrics(424242, {"a": 1.0}),
        lambda s: s.list_tasks(424242),
        lambda s: s.search_runs(sort="colour"),
    ]
    with runs_lib.connect(f"sqlite:///{tmp_path / 'embedded.sqlite'}") as embedded:
        for mistake in mistakes:
            kinds = []
            store: RunStore | Client
            for store in (embedded, client):
                with pytest.raises((NotFoundError, InvalidArgumentError)) as caught:
                    mistake(store)
                kinds.append(type(caught.value))
            assert kinds[0] is kinds[1]


def test_a_missing_or_wrong_token_is_a_token_rejected_error(database_url: str) -> None:
    settings = ServeSettings(database_url=database_url, auth_token=TOKEN)
    with running_server(settings) as base_url:
        with Client(base_url) as anonymous, pytest.raises(TokenRejectedError):
            anonymous.search_runs()
        with Client(base_url, token="wrong") as wrong, pytest.raises(TokenRejectedError):
            wrong.create_run("r")
        with Client(base_url, token=TOKEN) as right:
            assert right.create_run("r").name == "r"
            assert TOKEN not in repr(right)
