"""Annotation keys and metric names compare exactly on every database (bundled migration 4),
and no spelling of ``system/`` lets a user forge or delete a system annotation."""

from __future__ import annotations

import pytest

from metadb.errors import InvalidArgumentError
from metadb.runs import RunStore
from metadb.runs.system import CREATED_BY, NAME


def test_keys_that_differ_only_in_case_are_two_annotations(runs: RunStore):
    run = runs.create_run("r", annotations={"team": "vision"})

    stored = runs.set_annotations(run.id, {"Team": "nlp"})

    assert stored["team"] == "vision" and stored["Team"] == "nlp"
    runs.delete_annotation(run.id, "Team")
    assert runs.get_run(run.id).annotations["team"] == "vision"
    assert "Team" not in runs.get_run(run.id).annotations


def test_accented_keys_are_their_own_annotations(runs: RunStore):
    run = runs.create_run("r", annotations={"resume": "plain"})

    stored = runs.set_annotations(run.id, {"résumé": "accented"})

    assert stored["resume"] == "plain" and stored["résumé"] == "accented"


def test_metric_names_that_differ_only_in_case_are_two_metrics(runs: RunStore):
    run = runs.create_run("r")

    stored = runs.log_metrics(run.id, {"acc": 0.5, "ACC": 0.9})

    assert stored["acc"] == 0.5 and stored["ACC"] == 0.9


@pytest.mark.parametrize("key", ["SYSTEM/pipeline_run.name", "System/x", "sYsTeM/anything"])
def test_system_keys_in_any_case_cannot_be_set(runs: RunStore, key: str):
    run = runs.create_run("r", created_by="ana")

    with pytest.raises(InvalidArgumentError, match="reserved"):
        runs.set_annotations(run.id, {key: "forged"})
    with pytest.raises(InvalidArgumentError, match="reserved"):
        runs.create_run("r2", annotations={key: "forged"})

    assert runs.get_run(run.id).annotations == {CREATED_BY: "ana", NAME: ""}


@pytest.mark.parametrize("key", ["SYSTEM/pipeline_run.created_by", CREATED_BY.upper()])
def test_system_keys_in_any_case_cannot_be_deleted(runs: RunStore, key: str):
    run = runs.create_run("r", created_by="ana")

    with pytest.raises(InvalidArgumentError, match="reserved"):
        runs.delete_annotation(run.id, key)

    assert runs.get_run(run.id).annotations[CREATED_BY] == "ana"


def test_a_key_search_matches_the_exact_key_only(runs: RunStore):
    lower = runs.create_run("lower", annotations={"team": "x"})
    upper = runs.create_run("upper", annotations={"TEAM": "x"})

    found = runs.search_runs({"key_exists": {"key": "team"}})

    assert [r.id for r in found.runs] == [lower.id]
    assert upper.id not in [r.id for r in found.runs]
