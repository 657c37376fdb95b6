"""``metadb runs`` as a user meets it: the installed command, run as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import error_line, run, run_json


def test_a_run_is_created_annotated_measured_searched_and_deleted(
    database_url: str, tmp_path: Path
):
    db = ("--database", database_url)
    run_json("migrate", "up", *db)
    spec = tmp_path / "spec.json"
    spec.write_text('{"name": "trainer"}', encoding="utf-8")

    created = run_json(
        "runs", "create", "train-1", "--created-by", "ana", "--spec-file", str(spec),
        "-a", "team=vision", "-a", "env=prod", *db,
    )  # fmt: skip
    run_id = str(created["id"])
    annotations = run_json("runs", "annotate", run_id, "team=nlp", "owner=日本", *db)
    logged = run_json("runs", "metrics", run_id, "acc=0.9", "loss=0.25", *db)
    run_json("runs", "create", "other", *db)
    state = run_json("runs", "state", run_id, "SUCCEEDED", *db)
    filter_file = tmp_path / "filter.json"
    filter_file.write_text(
        json.dumps({"and": [{"value_equals": {"key": "team", "value": "nlp"}},
                            {"metric": {"name": "acc", "op": ">", "value": 0.5}}]}),
        encoding="utf-8",
    )  # fmt: skip
    found = run_json("runs", "search", "--filter-file", str(filter_file), "--total", *db)
    by_argument = run_json(
        "runs", "search", '{"key_exists": {"key": "owner"}}', "--sort", "metric:acc desc", *db
    )
    listed = run_json("runs", "list", "--limit", "1", *db)
    full = run_json("runs", "get", run_id, "--full", *db)
    tasks = run_json("runs", "tasks", run_id, *db)

    assert created["annotations"] == {
        "team": "vision", "env": "prod",
        "system/pipeline_run.created_by": "ana", "system/pipeline_run.name": "trainer",
    }  # fmt: skip
    assert annotations["team"] == "nlp" and annotations["owner"] == "日本"
    assert logged == {"acc": 0.9, "loss": 0.25}
    assert state["state"] == "SUCCEEDED" and state["finished_at_ms"] is not None
    assert [r["name"] for r in found["items"]] == ["train-1"] and found["total_size"] == 1
    assert found["items"][0]["pipeline_spec"] is None
    assert [r["id"] for r in by_argument["items"]] == [created["id"]]
    assert [r["name"] for r in listed["items"]] == ["other"] and listed["next_page_token"]
    assert full["pipeline_spec"] == '{"name": "trainer"}' and tasks == []

    run_json("runs", "unannotate", run_id, "owner", *db)
    assert run_json("runs", "delete", run_id, *db) == {"deleted": int(run_id)}
    gone = run_json("runs", "get", run_id, *db, expect=1)
    assert gone["error"]["code"] == "not_found"


def test_bad_arguments_exit_2_with_a_message_naming_the_problem(database_url: str):
    db = ("--database", database_url)
    run_json("migrate", "up", *db)

    bad_filter = run("runs", "search", '{"and": [{"value_in": {"key": "k", "values": []}}]}', *db)
    bad_sort = run_json("runs", "search", "--sort", "metric: desc", *db, expect=2)
    reserved = run_json("runs", "create", "r", "-a", "system/x=1", *db, expect=2)
    missing = run_json("runs", "get", "999", *db, expect=1)  # not a usage error

    assert bad_filter.returncode == 2  # a usage error, like any other bad argument
    assert "filter.and[0].value_in.values" in error_line(bad_filter.stderr)
    assert bad_sort["error"]["code"] == "invalid_argument"
    assert reserved["error"]["code"] == "invalid_argument"
    assert "reserved" in reserved["error"]["message"]
    assert missing["error"]["code"] == "not_found"


def test_commands_refuse_a_database_that_is_not_migrated(database_url: str):
    result = run("runs", "list", "--database", database_url)

    assert result.returncode == 3  # needs attention: a schema that is not current
    assert "metadb migrate up" in error_line(result.stderr)


def test_pages_follow_the_one_page_policy_and_tokens_stay_with_their_search(database_url: str):
    db = ("--database", database_url)
    run_json("migrate", "up", *db)
    for name in ("a", "b", "c"):
        run_json("runs", "create", name, "-a", f"team={'x' if name != 'b' else 'y'}", *db)
    team_x = '{"value_equals": {"key": "team", "value": "x"}}'

    first = run_json("runs", "search", team_x, "-n", "1", *db)
    rest = run_json("runs", "search", team_x, "--limit", "5", "--page-token",
                    first["next_page_token"], *db)  # fmt: skip
    former_name = run_json("runs", "list", "--page-size", "2", *db)
    other_search = run_json("runs", "list", "--page-token", first["next_page_token"], *db,
                            expect=2)  # fmt: skip
    too_many = run_json("runs", "list", "-n", "1001", *db, expect=2)
    not_an_int = run("runs", "list", "-n", "1.5", *db)
    history = run_json("migrate", "history", *db)
    too_much_history = run_json("migrate", "history", "-n", "1001", *db, expect=2)

    assert [r["name"] for r in first["items"] + rest["items"]] == ["c", "a"]
    assert len(former_name["items"]) == 2 and former_name["next_page_token"]
    assert "belongs to another search of runs" in other_search["error"]["message"]
    assert "between 1 and 1000" in too_many["error"]["message"]
    assert not_an_int.returncode == 2
    assert 1 <= len(history) <= 20
    assert "between 1 and 1000" in too_much_history["error"]["message"]
