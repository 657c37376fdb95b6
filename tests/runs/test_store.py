"""Creating, reading, changing and deleting runs, on SQLite, PostgreSQL and MySQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from metadb.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from metadb.runs import Run, RunStore, connect
from metadb.runs import tables as t
from metadb.runs.system import CREATED_BY, NAME


def test_a_new_run_round_trips_with_its_system_annotations(runs: RunStore):
    spec = json.dumps({"name": "from-spec", "root": {"dag": {}}})

    run = runs.create_run(
        "train-1",
        created_by="ana",
        state="RUNNING",
        pipeline_spec=spec,
        extra_data={"pipeline_name": "trainer", "params": [1, 2]},
        mlmd_context_id=7,
        annotations={"team": "vision"},
    )

    assert isinstance(run, Run) and run.id > 0
    assert run.annotations == {"team": "vision", CREATED_BY: "ana", NAME: "trainer"}
    assert run.pipeline_name == "trainer" and run.created_by == "ana"
    assert run.finished_at_ms is None and run.updated_at_ms >= run.created_at_ms
    assert runs.get_run(run.id, full=True) == run
    listed = runs.get_run(run.id)
    assert listed.pipeline_spec is None and listed.extra_data == run.extra_data
    assert listed.mlmd_context_id == 7


def test_system_annotations_fall_back_to_the_spec_name_then_to_empty_strings(runs: RunStore):
    from_spec = runs.create_run("a", pipeline_spec={"name": "spec-name"})
    bare = runs.create_run("b")
    long_name = runs.create_run("c", extra_data={"pipeline_name": "日" * 300})

    assert from_spec.annotations == {CREATED_BY: "", NAME: "spec-name"}
    assert from_spec.pipeline_name == "spec-name"
    assert bare.annotations == {CREATED_BY: "", NAME: ""} and bare.pipeline_name is None
    assert bare.extra_data is None
    assert long_name.annotations[NAME] == "日" * 255 and long_name.pipeline_name == "日" * 255


def test_system_keys_are_reserved_for_metadb(runs: RunStore):
    with pytest.raises(InvalidArgumentError, match="reserved"):
        runs.create_run("a", annotations={"system/pipeline_run.name": "mine"})
    run = runs.create_run("b")
    with pytest.raises(InvalidArgumentError, match="reserved"):
        runs.set_annotations(run.id, {"system/anything": "x"})
    with pytest.raises(InvalidArgumentError, match="reserved"):
        runs.delete_annotation(run.id, CREATED_BY)
    assert set(runs.get_run(run.id).annotations) == {CREATED_BY, NAME}


@pytest.mark.parametrize("char", ["a", "日", "😀"])
def test_annotation_values_hold_255_characters_of_any_width(runs: RunStore, char: str):
    run = runs.create_run("r")

    stored = runs.set_annotations(run.id, {"k": char * 255, char * 255: "key of 255"})

    assert stored["k"] == char * 255 and stored[char * 255] == "key of 255"
    assert runs.get_run(run.id).annotations["k"] == char * 255
    with pytest.raises(InvalidArgumentError, match="256 characters long; the limit is 255"):
        runs.set_annotations(run.id, {"k": char * 256})
    with pytest.raises(InvalidArgumentError, match="limit is 255"):
        runs.create_run("r2", annotations={char * 256: "v"})
    assert runs.get_run(run.id).annotations["k"] == char * 255


def test_annotations_are_upserted_and_deleted_one_key_at_a_time(runs: RunStore):
    run = runs.create_run("r", annotations={"a": "1", "b": "2"})

    assert runs.set_annotations(run.id, {"b": "two", "c": "3"}) == {
        "a": "1", "b": "two", "c": "3", CREATED_BY: "", NAME: "",
    }  # fmt: skip
    runs.delete_annotation(run.id, "a")

    assert runs.get_run(run.id).annotations == {"b": "two", "c": "3", CREATED_BY: "", NAME: ""}
    with pytest.raises(NotFoundError, match="has no annotation 'a'"):
        runs.delete_annotation(run.id, "a")
    with pytest.raises(InvalidArgumentError, match="must be a string"):
        runs.set_annotations(run.id, {"n": 5})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError, match="must not be empty"):
        runs.set_annotations(run.id, {"": "v"})


def test_empty_updates_read_without_touching_the_run(runs: RunStore):
    run = runs.create_run("r", annotations={"a": "1"}, created_at_ms=5)
    runs.log_metrics(run.id, {"m": 1.0})
    before = runs.get_run(run.id).updated_at_ms

    assert runs.set_annotations(run.id, {})["a"] == "1"
    assert runs.log_metrics(run.id, {}) == {"m": 1.0}
    assert runs.get_run(run.id).updated_at_ms == before


def test_metrics_are_upserted_and_must_be_finite_numbers(runs: RunStore):
    run = runs.create_run("r")

    runs.log_metrics(run.id, {"acc": 0.5, "loss": 2})
    assert runs.log_metrics(run.id, {"acc": 0.75}) == {"acc": 0.75, "loss": 2.0}

    assert runs.get_run(run.id).metrics == {"acc": 0.75, "loss": 2.0}
    for bad in (float("nan"), float("inf"), "0.5", True):
        with pytest.raises(InvalidArgumentError, match="metric 'acc' must be"):
            runs.log_metrics(run.id, {"acc": bad})  # type: ignore[dict-item]


def test_state_changes_set_and_clear_the_finished_time(runs: RunStore):
    run = runs.create_run("r")

    finished = runs.update_run_state(run.id, "FAILED")
    retried = runs.update_run_state(run.id, "RUNNING")
    imported = runs.update_run_state(run.id, "SUCCEEDED", finished_at_ms=1234)

    assert finished.state == "FAILED" and finished.finished_at_ms is not None
    assert retried.state == "RUNNING" and retried.finished_at_ms is None
    assert imported.finished_at_ms == 1234 and runs.get_run(run.id).state == "SUCCEEDED"
    with pytest.raises(InvalidArgumentError, match="state must be one of"):
        runs.update_run_state(run.id, "DONE")
    with pytest.raises(InvalidArgumentError, match="state must be one of"):
        runs.create_run("x", state="bogus")


def test_tasks_are_added_updated_and_listed_in_order(runs: RunStore):
    run = runs.create_run("r")

    first = runs.add_task(run.id, "preprocess", state="RUNNING", started_at_ms=10)
    second = runs.add_task(run.id, "train", mlmd_execution_id=42)
    done = runs.update_task(first.id, state="SUCCEEDED")
    moved = runs.update_task(second.id, started_at_ms=20, finished_at_ms=30, state="FAILED")

    assert done.state == "SUCCEEDED" and done.finished_at_ms is not None
    assert done.started_at_ms == 10
    assert (moved.started_at_ms, moved.finished_at_ms, moved.mlmd_execution_id) == (20, 30, 42)
    assert runs.list_tasks(run.id) == [done, moved]
    assert runs.get_run(run.id).tasks == [done, moved]
    with pytest.raises(NotFoundError, match="no task with id"):
        runs.update_task(second.id + 100, state="FAILED")
    with pytest.raises(NotFoundError, match="no run with id"):
        runs.add_task(run.id + 100, "x")


def test_deleting_a_run_deletes_its_annotations_metrics_and_tasks(runs: RunStore):
    kept = runs.create_run("kept", annotations={"a": "1"})
    gone = runs.create_run("gone", annotations={"a": "1"})
    for run in (kept, gone):
        runs.log_metrics(run.id, {"m": 1.0})
        runs.add_task(run.id, "t")

    runs.delete_run(gone.id)

    with pytest.raises(NotFoundError, match=f"no run with id {gone.id}"):
        runs.get_run(gone.id)
    with runs.database.connect() as conn:
        for table in (t.annotation, t.metric, t.task):
            left = conn.execute(select(table.c.run_id, func.count()).group_by(table.c.run_id))
            assert {run_id for run_id, _ in left} == {kept.id}
    assert runs.get_run(kept.id).metrics == {"m": 1.0}
    with pytest.raises(NotFoundError):
        runs.delete_run(gone.id)


def test_calls_on_a_missing_run_raise_not_found(runs: RunStore):
    for call in (
        lambda: runs.get_run(999),
        lambda: runs.update_run_state(999, "RUNNING"),
        lambda: runs.set_annotations(999, {"a": "b"}),
        lambda: runs.delete_annotation(999, "a"),
        lambda: runs.log_metrics(999, {"m": 1}),
        lambda: runs.list_tasks(999),
        lambda: runs.delete_run(999),
    ):
        with pytest.raises(NotFoundError, match="no run with id 999"):
            call()


def test_bad_arguments_are_rejected_before_anything_is_written(runs: RunStore):
    with pytest.raises(InvalidArgumentError, match="name must not be empty"):
        runs.create_run("")
    with pytest.raises(InvalidArgumentError, match="name is 256 characters long"):
        runs.create_run("n" * 256)
    with pytest.raises(InvalidArgumentError, match="extra_data must be JSON"):
        runs.create_run("r", extra_data={"when": object()})
    with pytest.raises(InvalidArgumentError, match="mlmd_context_id must be an integer"):
        runs.create_run("r", mlmd_context_id="7")  # type: ignore[arg-type]
    assert runs.search_runs(with_total=True).total_size == 0


def test_connect_without_migrating_needs_a_current_schema(database_url: str):
    with pytest.raises(FailedPreconditionError, match="not current"):
        connect(database_url, migrate=False)
    connect(database_url).close()
    with connect(database_url, migrate=False) as store:
        assert store.search_runs().items == []
