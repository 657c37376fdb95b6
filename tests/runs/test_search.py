"""Searching runs: every predicate, and/or/not, each sort, keyset pages and their tokens.

The dataset (tests/runs/conftest.py) is loaded once per backend; every expectation is an exact
set or sequence of run names.
"""

from __future__ import annotations

from typing import Any

import pytest

from metadb.errors import InvalidArgumentError
from metadb.paging import MAX_LIMIT
from metadb.runs import parse_filter
from metadb.runs.query import Cursor, Sort, make_token, page_tokens
from metadb.runs.system import CREATED_BY, NAME
from tests.runs.conftest import DATASET, Searchable, Spec

ALL = {spec.name for spec in DATASET}


def search_all(
    data: Searchable, filter_: Any = None, *, sort: str = "created_at desc", limit: int = 3
) -> list[str]:
    """Every matching run's name, page by page, checking that no run comes twice."""
    names: list[str] = []
    token = None
    while True:
        page = data.store.search_runs(filter_, sort=sort, limit=limit, page_token=token)
        assert len(page.items) <= limit
        names += [run.name for run in page.items]
        token = page.next_page_token
        if token is None:
            break
        assert len(page.items) == limit
    assert len(names) == len(set(names)), names
    return names


def ann(kind: str, key: str, **rest: Any) -> dict[str, Any]:
    return {kind: {"key": key, **rest}}


def fld(kind: str, field: str, **rest: Any) -> dict[str, Any]:
    return {kind: {"field": field, **rest}}


def metric(name: str, op: str, value: float) -> dict[str, Any]:
    return {"metric": {"name": name, "op": op, "value": value}}


PREDICATES: list[tuple[str, Any, set[str]]] = [
    ("annotation key_exists", ann("key_exists", "env"),
     {"alpha", "bravo", "echo", "golf", "hotel"}),
    ("annotation value_equals", ann("value_equals", "team", value="vision"),
     {"alpha", "charlie", "hotel"}),
    ("annotation value_contains", ann("value_contains", "team", value_substring="sion"),
     {"alpha", "charlie", "echo", "hotel"}),
    ("value_contains escapes % and _", ann("value_contains", "pct", value_substring="%_"),
     {"golf"}),
    ("annotation value_in", ann("value_in", "team", values=["nlp", "speech", "none"]),
     {"bravo", "foxtrot"}),
    ("multi-byte value_equals", ann("value_equals", "note", value="日本語テキスト"), {"foxtrot"}),
    ("multi-byte value_contains", ann("value_contains", "note", value_substring="本語"),
     {"foxtrot"}),
    ("system annotation created_by", ann("value_equals", CREATED_BY, value="ana"),
     {"alpha", "charlie", "golf"}),
    ("system annotation name, empty", ann("value_equals", NAME, value=""), {"delta"}),
    ("field key_exists (not null)", fld("key_exists", "pipeline_name"), ALL - {"delta"}),
    ("field value_equals", fld("value_equals", "state", value="SUCCEEDED"),
     {"alpha", "echo", "golf"}),
    ("field value_contains", fld("value_contains", "name", value_substring="o"),
     {"bravo", "echo", "foxtrot", "golf", "hotel"}),
    ("field value_in", fld("value_in", "created_by", values=["ana", "cara"]),
     {"alpha", "charlie", "echo", "golf"}),
    ("field pipeline_name", fld("value_equals", "pipeline_name", value="eval"),
     {"charlie", "echo"}),
    ("time_range created_at, both bounds",
     {"time_range": {"field": "created_at", "start_time": 1000, "end_time": 3000}},
     {"alpha", "bravo", "charlie"}),
    ("time_range created_at, start only",
     {"time_range": {"field": "created_at", "start_time": 3000}},
     {"delta", "echo", "foxtrot", "golf", "hotel"}),
    ("time_range finished_at skips unfinished runs",
     {"time_range": {"field": "finished_at", "end_time": 4001}}, {"alpha", "bravo", "echo"}),
    ("metric >", metric("acc", ">", 0.8), {"alpha", "charlie", "echo"}),
    ("metric >=", metric("acc", ">=", 0.9), {"alpha", "charlie", "echo"}),
    ("metric =", metric("acc", "=", 0.7), {"bravo", "hotel"}),
    ("metric != leaves out runs without it", metric("acc", "!=", 0.9),
     {"bravo", "echo", "golf", "hotel"}),
    ("metric <", metric("loss", "<", 0.25), {"alpha", "foxtrot"}),
    ("metric <=", metric("loss", "<=", 0.1), {"alpha"}),
    ("not over an annotation includes runs without the key",
     {"not": ann("value_equals", "team", value="vision")},
     {"bravo", "delta", "echo", "foxtrot", "golf"}),
    ("not over a nullable field includes null",
     {"not": fld("value_equals", "pipeline_name", value="train")},
     {"charlie", "delta", "echo", "golf"}),
    ("or", {"or": [metric("acc", ">=", 0.95), fld("value_equals", "state", value="FAILED")]},
     {"bravo", "echo"}),
    ("and with not", {"and": [ann("key_exists", "env"), {"not": metric("acc", "<", 0.8)}]},
     {"alpha", "echo"}),
    ("nested and/or/not",
     {"or": [
         {"and": [ann("value_equals", "team", value="vision"),
                  {"time_range": {"field": "created_at", "start_time": 2000}}]},
         {"and": [{"not": ann("key_exists", "team")}, fld("key_exists", "created_by")]},
     ]},
     {"charlie", "hotel", "golf"}),
    ("a filter matching nothing", ann("value_equals", "team", value="nobody"), set()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [pytest.param(f, e, id=label) for label, f, e in PREDICATES],
)
def test_each_predicate_selects_exactly_its_runs(
    searchable: Searchable, filter_: Any, expected: set[str]
):
    assert set(search_all(searchable, filter_)) == expected


def test_the_filter_may_be_json_text(searchable: Searchable):
    text = '{"value_equals": {"key": "team", "value": "nlp"}}'

    assert [run.name for run in searchable.store.search_runs(text).items] == ["bravo"]


def expected_order(specs: list[Spec], ids: dict[str, int], sort: str) -> list[str]:
    """The order the store must return ``specs`` in, computed from the dataset."""
    key, _, direction = sort.partition(" ")
    desc = direction == "desc"
    if key.startswith("metric:"):
        name = key[len("metric:") :]
        having = [s for s in specs if name in s.metrics]
        missing = [s for s in specs if name not in s.metrics]
        having.sort(key=lambda s: (s.metrics[name], ids[s.name]), reverse=desc)
        missing.sort(key=lambda s: ids[s.name], reverse=desc)
        return [s.name for s in having + missing]
    attribute = {"created_at": "created_at_ms", "name": "name"}[key]
    ordered = sorted(specs, key=lambda s: (getattr(s, attribute), ids[s.name]), reverse=desc)
    return [s.name for s in ordered]


SORTS = [
    "created_at desc", "created_at asc", "name asc", "name desc", "metric:acc desc",
    "metric:acc asc", "metric:loss desc", "metric:loss asc", "metric:absent desc",
]  # fmt: skip


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("limit", [1, 2, 3, 200])
def test_pages_cover_every_run_once_in_sort_order(searchable: Searchable, sort: str, limit: int):
    expected = expected_order(list(DATASET), searchable.ids, sort)

    assert search_all(searchable, sort=sort, limit=limit) == expected


@pytest.mark.parametrize("sort", ["created_at asc", "metric:acc desc", "metric:loss asc"])
def test_filtered_pages_keep_the_sort_order(searchable: Searchable, sort: str):
    filter_ = {"or": [ann("key_exists", "env"), fld("value_equals", "state", value="CANCELED")]}
    matching = [s for s in DATASET if "env" in s.annotations or s.state == "CANCELED"]

    got = search_all(searchable, filter_, sort=sort, limit=2)

    assert got == expected_order(matching, searchable.ids, sort)


def test_a_metric_filter_and_a_metric_sort_read_the_metric_table_apart(searchable: Searchable):
    filter_ = {"or": [metric("loss", "<", 0.25), metric("acc", "<", 0.6)]}
    matching = [
        s for s in DATASET if s.metrics.get("loss", 1) < 0.25 or s.metrics.get("acc", 1) < 0.6
    ]

    got = search_all(searchable, filter_, sort="metric:acc desc", limit=1)

    assert got == expected_order(matching, searchable.ids, "metric:acc desc")
    assert got == ["alpha", "golf", "foxtrot"]


def test_sort_defaults_to_ascending_and_is_case_insensitive(searchable: Searchable):
    ids = searchable.ids
    assert search_all(searchable, sort="created_at") == expected_order(
        list(DATASET), ids, "created_at asc"
    )
    assert search_all(searchable, sort="name DESC") == expected_order(
        list(DATASET), ids, "name desc"
    )


def test_a_token_is_valid_only_with_its_own_filter_and_sort(searchable: Searchable):
    store = searchable.store
    first = store.search_runs(ann("key_exists", "env"), limit=2)
    assert first.next_page_token is not None

    for other in (
        {"filter": ann("key_exists", "team")},
        {"filter": ann("key_exists", "env"), "sort": "created_at asc"},
        {"filter": None},
    ):
        with pytest.raises(InvalidArgumentError, match="belongs to another search"):
            store.search_runs(
                other["filter"],
                sort=str(other.get("sort", "created_at desc")),
                page_token=first.next_page_token,
            )
    with pytest.raises(InvalidArgumentError, match="damaged"):
        store.search_runs(ann("key_exists", "env"), page_token="not-a-token!")
    forged = make_token(
        page_tokens(parse_filter(None), Sort.parse("created_at desc")), Cursor("not a time", 1)
    )
    with pytest.raises(InvalidArgumentError, match="damaged"):
        store.search_runs(page_token=forged)
    # The same search goes on, even with another page size.
    token = first.next_page_token
    second = store.search_runs(ann("key_exists", "env"), limit=3, page_token=token)
    names = [r.name for r in first.items + second.items]
    assert names == ["hotel", "golf", "echo", "bravo", "alpha"]  # ties on created_at: by id


def test_total_size_is_counted_only_when_asked(searchable: Searchable):
    store = searchable.store
    filter_ = ann("value_equals", "team", value="vision")

    assert store.search_runs(filter_, limit=1).total_size is None
    assert store.search_runs(filter_, limit=1, with_total=True).total_size == 3
    assert store.search_runs(sort="metric:acc desc", with_total=True).total_size == len(DATASET)


def test_lists_leave_out_the_spec_unless_the_full_view_is_asked(searchable: Searchable):
    store = searchable.store

    listed = store.search_runs(limit=MAX_LIMIT).items
    full = store.search_runs(limit=MAX_LIMIT, full=True).items

    assert all(run.pipeline_spec is None for run in listed)
    assert all(run.pipeline_spec and f"spec-of-{run.name}" in run.pipeline_spec for run in full)
    for brief, whole in zip(listed, full, strict=True):
        assert brief.annotations == whole.annotations and brief.metrics == whole.metrics
    golf = next(run for run in listed if run.name == "golf")
    assert golf.metrics == {"acc": 0.5} and golf.annotations["pct"] == "100%_done"
    assert golf.annotations[NAME] == "deploy" and golf.extra_data == {"pipeline_name": "deploy"}


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ({"and": []}, r"filter\.and: List should have at least 1 item"),
        ({"or": [{"bogus": {}}]}, r"filter\.or\[0\]: expected an object with exactly one of"),
        ({"not": {"value_equals": {"key": "a"}}},
         r"filter\.not\.value_equals\.value: Field required"),
        ({"value_equals": {"key": "a", "field": "name", "value": "x"}},
         r'filter\.value_equals: give exactly one of "key"'),
        ({"value_equals": {"field": "extra_data", "value": "x"}},
         r"filter\.value_equals\.field: Input should be 'name', 'pipeline_name'"),
        ({"value_in": {"key": "a", "values": ["x", 5]}}, r"filter\.value_in\.values\[1\]"),
        ({"time_range": {"field": "created_at"}}, r'filter\.time_range: give "start_time"'),
        ({"metric": {"name": "acc", "op": "~", "value": 1}}, r"filter\.metric\.op"),
        ({"metric": {"name": "acc", "op": "<", "value": "1"}}, r"filter\.metric\.value"),
        ({"and": [{"key_exists": {"key": "a"}}], "or": []}, r"filter: expected an object"),
        ("[1, 2", "not valid JSON"),
    ],
)  # fmt: skip
def test_a_malformed_filter_names_the_path_of_the_bad_node(
    searchable: Searchable, filter_: Any, message: str
):
    with pytest.raises(InvalidArgumentError, match=message):
        searchable.store.search_runs(filter_)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sort": "updated_at desc"}, "sort must be 'created_at', 'name' or 'metric:<name>'"),
        ({"sort": "name sideways"}, "sort must be"),
        ({"sort": "metric:"}, "sort must be"),
        ({"limit": 0}, "limit must be between 1 and 1000"),
        ({"limit": 1001}, "limit must be between 1 and 1000"),
        ({"limit": 1.5}, "limit must be an integer"),
        ({"limit": "7"}, "limit must be an integer"),
        ({"limit": True}, "limit must be an integer"),
    ],
)
def test_bad_sorts_and_page_sizes_are_rejected(
    searchable: Searchable, options: dict[str, Any], message: str
):
    with pytest.raises(InvalidArgumentError, match=message):
        searchable.store.search_runs(**options)
