"""The limits of metadb.store.limits: what is at a limit is stored and read back on every
database, one past it is refused; the filter_query parser raises nothing but
InvalidArgumentError, whatever the text (fuzzed)."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metadb
from metadb.errors import InvalidArgumentError
from metadb.store.filter_query import compile_filter
from metadb.store.limits import (
    DEFAULT_QUERY_LIMITS,
    STRUCT_MAX_DEPTH,
    QueryLimits,
    TextRules,
    check_struct,
)
from metadb.store.model import Artifact, ArtifactType, ListOptions, PropertyType
from metadb.store.tables import mlmd_tables


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": [1.5, "x"]}
    for _ in range(depth - 2):  # the innermost list is a level too
        value = {"k": value}
    return value


def test_a_struct_at_the_depth_limit_reads_back_exactly(database_url: str) -> None:
    with metadb.connect(database_url) as store:
        type_id = store.put_artifact_type(
            ArtifactType(name="T", properties={"st": PropertyType.STRUCT})
        )
        deepest = _nested(STRUCT_MAX_DEPTH)
        [artifact_id] = store.put_artifacts([Artifact(type_id=type_id, properties={"st": deepest})])
        assert store.get_artifacts_by_id([artifact_id])[0].properties["st"] == deepest
        with pytest.raises(InvalidArgumentError, match="deeper than 32 levels"):
            store.put_artifacts(
                [Artifact(type_id=type_id, properties={"st": _nested(STRUCT_MAX_DEPTH + 1)})]
            )
        assert len(store.get_artifacts()) == 1


def test_a_filter_at_the_limits_runs_and_one_past_is_refused(database_url: str) -> None:
    limits = DEFAULT_QUERY_LIMITS
    with metadb.connect(database_url) as store:
        type_id = store.put_artifact_type(ArtifactType(name="T"))
        store.put_artifacts([Artifact(type_id=type_id, name="a")])
        joins = " AND ".join(f"contexts_c{i}.name = 'x'" for i in range(limits.max_joins))
        in_list = "id IN (" + ",".join(["1"] * limits.max_in_values) + ")"
        ors = " OR ".join(["id = 1"] * limits.max_conditions)
        for query, matches in ((joins, 0), (in_list, 1), (ors, 1)):
            assert len(store.get_artifacts(ListOptions(filter_query=query))) == matches
        for query, named in (
            (f"{joins} AND contexts_z.name = 'x'", "at most 16"),
            (in_list[:-1] + ",1)", "more than 1000 values"),
            (f"{ors} OR id = 1", "more than 200 conditions"),
            ("name = '" + "x" * limits.max_filter_chars + "'", "the limit is 10000"),
        ):
            with pytest.raises(InvalidArgumentError, match=named):
                store.get_artifacts(ListOptions(filter_query=query))


def test_query_limits_are_one_object_a_caller_may_tighten() -> None:
    tables = mlmd_tables("sqlite")
    tight = QueryLimits(max_joins=2)
    query = "contexts_a.name = 'x' AND properties.p.int_value = 1"
    compile_filter(query, kind="artifact", tables=tables, limits=tight)
    with pytest.raises(InvalidArgumentError, match="join 3; a query may join at most 2"):
        compile_filter(f"{query} AND type = 'T'", kind="artifact", tables=tables, limits=tight)
    with pytest.raises(InvalidArgumentError, match="join 3"):  # a neighbour's property too
        compile_filter(
            "contexts_a.properties.p.int_value = 1 AND contexts_a.properties.q.int_value = 1",
            kind="artifact", tables=tables, limits=tight,
        )  # fmt: skip


def test_struct_checks_name_where_the_bad_value_is() -> None:
    rules = TextRules(accepts_nul=False, database="postgresql")
    with pytest.raises(InvalidArgumentError, match=r"at st\.a\[1\]"):
        check_struct("st", {"a": [1, math.nan]}, rules=rules)
    with pytest.raises(InvalidArgumentError, match="NUL"):
        check_struct("st", {"a\x00": 1}, rules=rules)
    check_struct("st", {"a\x00": 1}, rules=TextRules())  # where text holds NUL


# ------------------------------------------------------------------------------ fuzzing

_WORDS = [
    "id", "name", "uri", "type", "state", "LIVE", "AND", "OR", "NOT", "IN", "LIKE", "IS",
    "NULL", "BETWEEN", "TRUE", "contexts_a", "contexts_b", "events_e", "properties",
    "custom_properties", "p", "int_value", "string_value", "double_value", "bool_value",
    "=", "!=", "<", ">=", "(", ")", ",", ".", "-", "'x'", '"y"', "1", "2.5", "1e400",
    "0x7fffffffffffffffff", "²", "٣", "\ud800", "\x00", "`q`", "'unterminated", "/*", "--",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=60),
        st.lists(st.sampled_from(_WORDS), max_size=25).map(" ".join),
        st.lists(st.sampled_from(_WORDS), max_size=25).map("".join),
    ),
    st.sampled_from(["artifact", "execution", "context"]),
)
def test_the_filter_parser_raises_nothing_but_invalid_argument(query: str, kind: str) -> None:
    with contextlib.suppress(InvalidArgumentError):
        compile_filter(query, kind=kind, tables=mlmd_tables("sqlite"))
