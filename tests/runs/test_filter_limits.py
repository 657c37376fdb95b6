"""The runs filter's limits and names: a filter at the limits runs on every database, one past
them is refused; every name that can be logged can be sorted and filtered by; and the parser
raises nothing but InvalidArgumentError, whatever JSON it is given (fuzzed)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metadb.runs
from metadb.errors import InvalidArgumentError
from metadb.runs.filters import parse_filter
from metadb.store.limits import DEFAULT_QUERY_LIMITS, QueryLimits


def _not_chain(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"key_exists": {"key": "team"}}
    for _ in range(depth):
        node = {"not": node}
    return node


def test_a_filter_at_the_limits_runs_and_one_past_is_refused(database_url: str) -> None:
    limits = DEFAULT_QUERY_LIMITS
    runs = metadb.runs.connect(database_url)
    try:
        run = runs.create_run("r", annotations={"team": "vision"})
        values = [f"v{i}" for i in range(limits.max_in_values - 1)] + ["vision"]
        at_limit = [
            {"value_in": {"key": "team", "values": values}},
            {"or": [{"key_exists": {"key": "team"}}] * limits.max_conditions},
            _not_chain(limits.max_depth if limits.max_depth % 2 == 0 else limits.max_depth - 1),
        ]
        for node in at_limit:
            assert [r.id for r in runs.search_runs(node).runs] == [run.id]
        past = [
            ({"value_in": {"key": "team", "values": [*values, "x"]}}, "over the limit of 1000"),
            ({"or": [{"key_exists": {"key": "team"}}] * 201}, "over the limit of 200"),
            (_not_chain(limits.max_depth + 1), "deeper than the limit"),
        ]
        for node, named in past:
            with pytest.raises(InvalidArgumentError, match=named):
                runs.search_runs(node)
    finally:
        runs.close()


def test_names_with_spaces_are_refused_when_written_so_every_name_sorts(database_url: str) -> None:
    runs = metadb.runs.connect(database_url)
    try:
        run = runs.create_run("r")
        for bad in ("my metric", "tab\there", "nl\n", "nbsp\u00a0x", "ctl\x07"):
            with pytest.raises(InvalidArgumentError, match="whitespace or control"):
                runs.log_metrics(run.id, {bad: 1.0})
            with pytest.raises(InvalidArgumentError, match="whitespace or control"):
                runs.set_annotations(run.id, {bad: "v"})
        assert runs.get_run(run.id).metrics == {}
        runs.log_metrics(run.id, {"val/acc@5": 0.5})
        page = runs.search_runs(
            {"metric": {"name": "val/acc@5", "op": "=", "value": 0.5}}, sort="metric:val/acc@5 asc"
        )
        assert [r.id for r in page.runs] == [run.id]
    finally:
        runs.close()


def test_limits_are_one_object_a_caller_may_tighten() -> None:
    tight = QueryLimits(max_in_values=2, max_conditions=2, max_depth=1)
    parse_filter({"value_in": {"key": "k", "values": ["a", "b"]}}, limits=tight)
    for node in (
        {"value_in": {"key": "k", "values": ["a", "b", "c"]}},
        {"or": [{"key_exists": {"key": "k"}}] * 3},
        _not_chain(2),
    ):
        with pytest.raises(InvalidArgumentError, match="limit"):
            parse_filter(node, limits=tight)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "and",
                    "or",
                    "not",
                    "key",
                    "field",
                    "value",
                    "values",
                    "value_in",
                    "metric",
                    "key_exists",
                    "value_equals",
                    "time_range",
                    "name",
                    "op",
                    "start_time",
                    "\ud800",
                ]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json)
def test_the_runs_filter_raises_nothing_but_invalid_argument(raw: Any) -> None:
    for given_as in (raw, json.dumps(raw) if not isinstance(raw, str) else raw):
        with contextlib.suppress(InvalidArgumentError):
            parse_filter(given_as)
