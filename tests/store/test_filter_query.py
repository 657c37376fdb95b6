"""filter_query: the parser on its own, then the proof that metadb selects exactly the nodes the
real ml-metadata selects, for the same queries over the same database, on every backend."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from metadb.db import Database
from metadb.errors import InvalidArgumentError
from metadb.store import filter_parser as ast
from metadb.store.filter_query import compile_filter
from metadb.store.tables import mlmd_tables
from tests.interop.conftest import OPEN_STORE, mlmd_connection_config, run_mlmd
from tests.interop.conftest import mlmd_python as mlmd_python  # the fixture

TABLES = mlmd_tables("sqlite")

# ------------------------------------------------------------------------------ the grammar


def _error(query: str, kind: str = "artifact") -> str:
    with pytest.raises(InvalidArgumentError) as caught:
        compile_filter(query, kind=kind, tables=TABLES)
    return str(caught.value)


@pytest.mark.parametrize(
    ("query", "kind", "position", "text"),
    [
        ("", "artifact", 1, "expected a condition, found end of query"),
        ("   ", "artifact", 4, "expected a condition, found end of query"),
        ("foo = 1", "artifact", 1, "unknown attribute 'foo' for artifacts"),
        ("uri = 'x'", "context", 1, "unknown attribute 'uri' for contexts"),
        ("last_known_state = NEW", "artifact", 1, "unknown attribute 'last_known_state'"),
        ("id = 1 AND bar IS NULL", "execution", 12, "unknown attribute 'bar' for executions"),
        ("properties.p.float_value = 1", "artifact", 14, "expected int_value, double_value"),
        ("properties.p = 1", "artifact", 14, "expected '.' and int_value"),
        ("properties = 1", "artifact", 12, "expected '.' and a property name"),
        ("custom_properties.`p q`.int_values = 1", "artifact", 25, "found 'int_values'"),
        ("(id = 1", "artifact", 8, "expected ')' to close the '(' at position 1"),
        ("((id = 1) OR (id = 2)", "artifact", 22, "unbalanced parentheses"),
        ("id = 1)", "artifact", 7, "')' without a matching '('"),
        ("name = 'abc", "artifact", 8, "unterminated string"),
        ('name = "abc', "artifact", 8, "unterminated string"),
        ("name = '''abc''", "artifact", 8, "unterminated string"),
        ("name = 'a\\'", "artifact", 8, "unterminated string"),
        ("uri LIKE ", "artifact", 10, "expected a string pattern after LIKE, found end of query"),
        ("name =", "artifact", 7, "expected a value after '=', found end of query"),
        ("id = 1 AND type_id >=", "artifact", 22, "expected a value after '>=', found end"),
        ("id IN ()", "artifact", 8, "expected a value in the IN list, found ')'"),
        ("id IN (1, 2", "artifact", 12, "expected ',' or ')' in the IN list"),
        ("id IN 1", "artifact", 7, "expected '(' after IN"),
        ("id NOT = 1", "artifact", 8, "expected IN, LIKE or BETWEEN after NOT"),
        ("id IS 1", "artifact", 7, "expected NULL or NOT NULL after IS"),
        ("id BETWEEN 1 OR 2", "artifact", 14, "expected AND after the lower bound"),
        ("id = NULL", "artifact", 6, "found NULL; test for NULL with IS [NOT] NULL"),
        ("id = 1 name = 'a'", "artifact", 8, "expected AND, OR or end of query, found 'name'"),
        ("id = 1 AND", "artifact", 11, "expected a condition, found end of query"),
        ("id == 1", "artifact", 5, "expected a value after '=', found '='"),
        ("id = 1 ; DROP TABLE Artifact", "artifact", 8, "unexpected character ';'"),
        ("name", "artifact", 5, "expected a comparison operator after 'name', found end"),
        ("1", "artifact", 2, "expected a comparison operator after 1"),
        ("id = 1AND", "artifact", 6, "invalid number '1AND'"),
        ("id = 99999999999999999999", "artifact", 6, "does not fit in 64 bits"),
        ("name = 'a\\q'", "artifact", 10, "invalid escape sequence"),
        ("name = b'a'", "artifact", 8, "byte strings"),
        ("name = `x", "artifact", 8, "unterminated backquoted name"),
        ("id = 1 /* x", "artifact", 8, "unterminated comment"),
        ("(" * 100 + "NOT id = 1" + ")" * 100, "artifact", 101, "deeper than 100"),
        ("contexts_a.name = 'p'", "context", 1, "contexts_a cannot be used when filtering"),
        ("artifacts_a.name = 'a'", "artifact", 1, "artifacts_a cannot be used when filtering"),
        ("executions_a.name = 'a'", "execution", 1, "executions_a cannot be used"),
        ("events_a.type = INPUT", "context", 1, "events_a cannot be used when filtering contexts"),
        ("parent_contexts_a.id = 1", "artifact", 1, "parent_contexts_a cannot be used"),
        ("contexts_a = 1", "artifact", 12, "expected '.' and an attribute after 'contexts_a'"),
        ("contexts_a.uri = 'x'", "artifact", 1, "unknown attribute 'uri' for contexts_a"),
        ("events_a.name = 'x'", "execution", 1, "unknown attribute 'name' for events_a (events)"),
        ("events_a.properties.p.int_value = 1", "artifact", 1, "events have no properties"),
        ("state = 'LIVE'", "artifact", 9, "expected a state such as UNKNOWN for state"),
        ("state = ALIVE", "artifact", 9, "expected one of UNKNOWN, PENDING, LIVE"),
        ("state = live", "artifact", 9, "found 'live'"),
        ("last_known_state IN (RUNNING, LIVE)", "execution", 31, "found 'LIVE'"),
        ("events_e.type = COMPLETE", "artifact", 17, "expected one of UNKNOWN, DECLARED_OUTPUT"),
        ("id = '1'", "artifact", 6, "expected an integer value for id, found '1'"),
        ("id = TRUE", "artifact", 6, "expected an integer value for id, found TRUE"),
        ("name = 1", "artifact", 8, "expected a string value for name, found 1"),
        ("name = foo", "artifact", 8, "expected a string value for name, found 'foo'"),
        ("properties.b.bool_value = 1", "artifact", 27, "expected a boolean value"),
        ("properties.s.string_value", "artifact", 26, "expected a comparison operator after"),
        ("id LIKE '1%'", "artifact", 9, "LIKE needs a string field; id is an integer"),
        ("id = name", "artifact", 4, "cannot compare id (an integer) with name (a string)"),
        ("1 = 2", "artifact", 3, "expected a field on one side of '='"),
        ("foo = bar", "artifact", 1, "unknown attribute 'foo'"),
    ],
)
def test_errors_name_position_and_expectation(
    query: str, kind: str, position: int, text: str
) -> None:
    message = _error(query, kind)
    assert message.startswith(f"filter_query: position {position}: "), message
    assert text in message, message


def test_error_for_an_unknown_attribute_lists_the_choices() -> None:
    message = _error("colour = 'red'", "execution")
    assert "last_known_state" in message and "contexts_<alias>.<attribute>" in message
    assert "uri" not in message


def test_ast_of_precedence_and_fields() -> None:
    query = "NOT a = 1 AND b.c IS NULL OR properties.`my p`.int_value IN (1, -2.5)"
    at = query.index
    tree = ast.parse(query)
    assert isinstance(tree, ast.Or) and len(tree.items) == 2
    first, second = tree.items
    assert isinstance(first, ast.And)
    negation, is_null = first.items
    assert isinstance(negation, ast.Not) and negation.pos == 1
    assert negation.operand == ast.Comparison(
        ast.Field(ast.Attribute("a"), None, at("a =") + 1, "a", bare=True),
        "=",
        ast.Literal(1, at("1") + 1, "1"),
        at("=") + 1,
    )
    assert is_null == ast.IsNull(ast.Field(ast.Attribute("b.c"), None, at("b.c") + 1, "b.c"), False)
    assert second == ast.InList(
        ast.Field(
            ast.Property(False, "my p", "int_value"),
            None,
            at("properties") + 1,
            "properties.`my p`.int_value",
        ),
        (ast.Literal(1, at("1,") + 1, "1"), ast.Literal(-2.5, at("-2.5") + 1, "-2.5")),
        False,
    )


def test_ast_of_neighbors_enums_and_literals() -> None:
    query = (
        "child_contexts_X1.properties.n.BOOL_VALUE AND events_0.type NOT IN (INPUT) "
        'and x NOT between .5 AND 0x1F and y like r\'\\d%\' and z = """it\'s""" -- done'
    )
    at = query.index
    tree = ast.parse(query)
    assert isinstance(tree, ast.And)
    flag, events, between, like, triple = tree.items
    assert flag == ast.BoolTest(
        ast.Field(
            ast.Property(False, "n", "bool_value"),
            ast.Neighbor("child_contexts", "X1"),
            1,
            "child_contexts_X1.properties.n.BOOL_VALUE",
        ),
        at("AND") + 1,
        "'AND'",
    )
    assert isinstance(events, ast.InList) and events.negated
    assert events.field.neighbor == ast.Neighbor("events", "0")
    assert events.values == (ast.EnumName("INPUT", at("INPUT") + 1, "INPUT"),)
    assert isinstance(between, ast.Between) and between.negated
    assert (between.low, between.high) == (
        ast.Literal(0.5, at(".5") + 1, ".5"),
        ast.Literal(31, at("0x1F") + 1, "0x1F"),
    )
    assert isinstance(like, ast.Like) and like.pattern.value == "\\d%"
    assert isinstance(triple, ast.Comparison)
    assert triple.right == ast.Literal("it's", at('"""') + 1, '"""it\'s"""')


def test_a_property_name_may_start_with_a_digit() -> None:
    tree = ast.parse("properties.1st.int_value = 1.5e3")
    assert isinstance(tree, ast.Comparison) and isinstance(tree.left, ast.Field)
    assert tree.left.target == ast.Property(False, "1st", "int_value")
    assert tree.right == ast.Literal(1500.0, 28, "1.5e3")


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'a\'b'", "a'b"),
        (r'"a\"b"', 'a"b'),
        (r"'tab\there'", "tab\there"),
        (r"'\x41\u00e9\U0001F600\101\\'", "A\u00e9\U0001f600A\\"),
        (r"R'\x41'", r"\x41"),
        ("'''a'b\"c'''", "a'b\"c"),
        ("'%_'", "%_"),
    ],
)
def test_string_literals_and_escapes(literal: str, value: str) -> None:
    tree = ast.parse(f"name = {literal}")
    assert isinstance(tree, ast.Comparison) and isinstance(tree.right, ast.Literal)
    assert tree.right.value == value


@pytest.mark.parametrize(("dialect", "module"), [("sqlite", sqlite), ("postgresql", postgresql)])
def test_values_are_bound_parameters(dialect: str, module: Any) -> None:
    tables = mlmd_tables(dialect)
    node = tables.artifact.node
    query = (
        "name = 'x\\' OR 1=1 --' OR uri LIKE 'zz%' OR properties.`evil\"name`.int_value = 424242 "
        "OR contexts_a.name IN ('q1', 'q2') OR state = LIVE"
    )
    tree = ast.parse(query)  # the SQL-ish text is one string literal
    assert isinstance(tree, ast.Or) and len(tree.items) == 5
    sql = select(node.c.id).where(compile_filter(query, kind="artifact", tables=tables))
    text = str(sql.compile(dialect=module.dialect()))
    for value in ("1=1", "zz%", "evil", "424242", "q1"):
        assert value not in text


def test_mysql_sql_compiles_with_backquoted_table_names() -> None:
    tables = mlmd_tables("mysql")
    expr = compile_filter(
        "contexts_a.type = 'T' AND events_e.type = INPUT", kind="execution", tables=tables
    )
    text = str(select(tables.execution.node.c.id).where(expr).compile(dialect=mysql.dialect()))
    assert "FROM `Association`" in text and "`Event`" in text


def test_kind_must_be_a_node_kind() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        compile_filter("id = 1", kind="event", tables=TABLES)


# ------------------------------------------------------------- the proof against ml-metadata

#: Builds a varied store with ml-metadata and runs ARGS["queries"] through it. Values written
#: ``{id:d1}``, ``{type:Dataset}``, ``{ct:d3}`` (create time) are filled in from the store.
_DATASET_AND_QUERIES = """
import re, time
from ml_metadata.metadata_store import metadata_store as ms

def node_type(cls, name, **props):
    t = cls(name=name)
    for key, value in props.items():
        t.properties[key.replace("_", " ") if key == "my_prop" else key] = value
    return t

refs = {}
at = {
    "Dataset": store.put_artifact_type(node_type(
        pb.ArtifactType, "Dataset", span=pb.INT, score=pb.DOUBLE, split=pb.STRING,
        validated=pb.BOOLEAN)),
    "Model": store.put_artifact_type(node_type(
        pb.ArtifactType, "Model", version=pb.INT, my_prop=pb.STRING)),
}
et = {
    "Trainer": store.put_execution_type(node_type(
        pb.ExecutionType, "Trainer", epochs=pb.INT, lr=pb.DOUBLE, flag=pb.BOOLEAN)),
    "Evaluator": store.put_execution_type(node_type(
        pb.ExecutionType, "Evaluator", threshold=pb.DOUBLE)),
}
ct = {
    "Pipeline": store.put_context_type(node_type(pb.ContextType, "Pipeline", owner=pb.STRING)),
    "Run": store.put_context_type(node_type(
        pb.ContextType, "Run", attempt=pb.INT, ok=pb.BOOLEAN)),
}
for name, type_id in {**at, **et, **ct}.items():
    refs["type:" + name] = type_id

def fill(node, props, custom):
    for target, values in ((node.properties, props), (node.custom_properties, custom)):
        for key, value in values.items():
            if isinstance(value, bool):
                target[key].bool_value = value
            elif isinstance(value, int):
                target[key].int_value = value
            elif isinstance(value, float):
                target[key].double_value = value
            else:
                target[key].string_value = value
    return node

A = pb.Artifact
artifacts = [
    ("d1", "Dataset", "/data/train/1", A.LIVE, "ext-d1",
     dict(span=1, score=0.5, split="train", validated=True), {"tag": "gold", "weird:key.x": 7}),
    ("d2", "Dataset", "/data/train/2", A.LIVE, None,
     dict(span=2, score=0.75, split="eval", validated=False), {"tag": "silver"}),
    ("d3", "Dataset", "/data/eval/3", A.PENDING, "ext-d3",
     dict(span=3, split="train"), {"n": 3, "x": 2.5}),
    ("d4", "Dataset", "/Data/Other", A.DELETED, None, dict(span=4, score=1.0), {"b": True}),
    ("d5", "Dataset", None, None, None, {}, {}),
    ("m1", "Model", "/models/m1", A.LIVE, None,
     {"version": 1, "my prop": "hello world"}, {"tag": "gold"}),
    ("m2", "Model", "/models/m2", A.MARKED_FOR_DELETION, None,
     {"version": 2, "my prop": "it is"}, {"b": False}),
    ("m3", "Model", "/models/m3_%", A.ABANDONED, "ext-m3", {}, {}),
]
for name, type_name, uri, state, ext, props, custom in artifacts:
    a = fill(A(type_id=at[type_name], name=name), props, custom)
    if uri is not None:
        a.uri = uri
    if state is not None:
        a.state = state
    if ext is not None:
        a.external_id = ext
    [refs["id:" + name]] = store.put_artifacts([a])
    time.sleep(0.003)

E = pb.Execution
executions = [
    ("t1", "Trainer", E.COMPLETE, None, dict(epochs=10, lr=0.01, flag=True), {"owner": "alice"}),
    ("t2", "Trainer", E.RUNNING, "ext-t2", dict(epochs=20, lr=0.1, flag=False), {}),
    ("t3", "Trainer", E.FAILED, None, dict(epochs=5), {"owner": "bob"}),
    ("e1", "Evaluator", E.COMPLETE, None, dict(threshold=0.9), {}),
    ("e2", "Evaluator", None, None, {}, {}),
    ("e3", "Evaluator", E.CANCELED, None, {}, {"retries": 2}),
]
for name, type_name, state, ext, props, custom in executions:
    e = fill(E(type_id=et[type_name], name=name), props, custom)
    if state is not None:
        e.last_known_state = state
    if ext is not None:
        e.external_id = ext
    [refs["id:" + name]] = store.put_executions([e])
    time.sleep(0.003)

contexts = [
    ("p1", "Pipeline", None, {"owner": "alice"}),
    ("p2", "Pipeline", "ext-p2", {"owner": "bob"}),
    ("r1", "Run", None, dict(attempt=1, ok=True)),
    ("r2", "Run", None, dict(attempt=2)),
    ("r3", "Run", None, dict(attempt=3, ok=False)),
    ("lonely", "Run", None, {}),
]
for name, type_name, ext, props in contexts:
    c = fill(pb.Context(type_id=ct[type_name], name=name), props, {})
    if ext is not None:
        c.external_id = ext
    [refs["id:" + name]] = store.put_contexts([c])
    time.sleep(0.003)

i = lambda name: refs["id:" + name]
store.put_parent_contexts([
    pb.ParentContext(child_id=i(child), parent_id=i(parent))
    for child, parent in [("r1", "p1"), ("r2", "p1"), ("r2", "p2"), ("r3", "p2")]
])
store.put_attributions_and_associations(
    [pb.Attribution(artifact_id=i(a), context_id=i(c)) for a, c in [
        ("d1", "p1"), ("d1", "r1"), ("d2", "p1"), ("d2", "r2"), ("d3", "p2"), ("d3", "r3"),
        ("m1", "p1"), ("m1", "r1"), ("m2", "r2"), ("m3", "p2")]],
    [pb.Association(execution_id=i(e), context_id=i(c)) for e, c in [
        ("t1", "p1"), ("t1", "r1"), ("t2", "p1"), ("t2", "r2"), ("t3", "p2"), ("t3", "r3"),
        ("e1", "p1"), ("e1", "r1"), ("e3", "r3")]],
)
Ev = pb.Event
store.put_events([
    Ev(artifact_id=i(a), execution_id=i(e), type=t, milliseconds_since_epoch=ms)
    for a, e, t, ms in [
        ("d1", "t1", Ev.INPUT, 1000), ("d2", "t1", Ev.INPUT, 1100),
        ("m1", "t1", Ev.OUTPUT, 2000), ("d1", "e1", Ev.INPUT, 3000),
        ("m1", "e1", Ev.INPUT, 3000), ("d3", "t3", Ev.INPUT, 4000),
        ("m2", "t2", Ev.OUTPUT, 5000), ("d2", "t2", Ev.DECLARED_INPUT, 5500),
        ("m2", "e3", Ev.INTERNAL_INPUT, 6000), ("d4", "t3", Ev.DECLARED_OUTPUT, 7000),
    ]
])
# An update, so that one artifact's last_update_time_since_epoch is after its create time.
time.sleep(0.01)
[d2] = store.get_artifacts_by_id([i("d2")])
d2.custom_properties["tag"].string_value = "bronze"
store.put_artifacts([d2])

for node in store.get_artifacts() + store.get_executions() + store.get_contexts():
    refs["ct:" + node.name] = node.create_time_since_epoch

def fill_in(query):
    return re.sub(r"\\{((?:id|ct|type):[^}]+)\\}", lambda m: str(refs[m.group(1)]), query)

results = []
for kind, query in ARGS["queries"]:
    query = fill_in(query)
    try:
        nodes = getattr(store, "get_" + kind + "s")(list_options=ms.ListOptions(filter_query=query))
        results.append({"query": query, "ids": sorted(n.id for n in nodes)})
    except Exception as exc:
        results.append({"query": query, "error": f"{type(exc).__name__}: {exc}"[:500]})
names = {
    "artifact": {n.id: n.name for n in store.get_artifacts()},
    "execution": {n.id: n.name for n in store.get_executions()},
    "context": {n.id: n.name for n in store.get_contexts()},
}
RESULT = {"refs": refs, "names": names, "results": results}
"""

_ARTIFACT_QUERIES = [
    "uri = '/data/train/1'",
    "uri LIKE '/data/%'",  # /Data/Other matches where LIKE ignores case (SQLite, MySQL)
    "uri NOT LIKE '%train%'",
    "uri IS NULL",
    "uri IS NOT NULL AND state = LIVE",
    "state IN (PENDING, DELETED)",
    "state != LIVE",  # ml-metadata includes NULL states
    "NOT state = LIVE",  # ... but not here
    "state NOT IN (LIVE, PENDING)",
    "NOT state IN (LIVE, PENDING)",
    "state IS NULL",
    "state < 3",
    "type = 'Model'",
    "type != 'Model' AND type_id = {type:Dataset}",
    "name IN ('d1', 'm1', 'nope')",
    "name LIKE 'd_' AND NOT name = 'd2'",
    "name = 'd1' and Not name = 'd2' or NAME = 'm2'",
    "external_id IS NULL",
    "external_id = 'ext-d1' OR external_id = \"ext-d3\"",
    "name = 'd\\x31'",
    "ID = {id:d1}",
    "{id:d2} = id",
    "-1 < id AND id <= {id:d3}",
    "id != {id:d1} AND id IN ({id:d1}, {id:d2}, {id:d3})",
    "id BETWEEN {id:d2} AND {id:d4}",
    "id NOT BETWEEN {id:d2} AND {id:d4}",
    "id > 0 /* all */ AND state = LIVE -- live ones",
    "create_time_since_epoch >= {ct:d3} AND create_time_since_epoch <= {ct:m1}",
    "last_update_time_since_epoch > create_time_since_epoch",
    "NOT(create_time_since_epoch < 1 OR last_update_time_since_epoch < 1)",
    "properties.span.int_value >= 2 AND properties.span.int_value < 4",
    "properties.span.int_value IN (1, 3, 4)",
    "properties.span.int_value BETWEEN 2 AND 3",
    "properties.score.double_value > 0.6",
    "properties.score.double_value = 1",
    "properties.split.string_value = 'train'",
    "properties.validated.bool_value = true",
    "properties.validated.bool_value",
    "NOT properties.validated.bool_value = TRUE",
    "properties.`my prop`.string_value = 'hello world'",
    "properties.`my prop`.string_value LIKE '%t is'",
    "custom_properties.tag.string_value = 'gold'",
    "custom_properties.`weird:key.x`.int_value = 7",
    "custom_properties.x.int_value IS NULL",
    "custom_properties.b.bool_value = false OR custom_properties.b.bool_value = true",
    "properties.span.int_value = properties.version.int_value",
    # A property mentioned anywhere must exist: d5 has no span, so it is not selected.
    "name = 'd5' OR properties.span.int_value = 1",
    "contexts_a.name = 'p1'",
    "contexts_a.type = 'Run' AND contexts_a.name = 'r1'",
    "contexts_a.type = 'Pipeline' AND contexts_a.name = 'r1'",  # one row: nothing
    "contexts_a.name = 'p1' AND contexts_b.name = 'r2'",
    "contexts_a.name = 'p2' OR contexts_b.name = 'r2'",
    "contexts_a.name = 'p1' OR contexts_a.name = 'p2'",
    "NOT contexts_a.name = 'p1'",
    "NOT (contexts_a.name = 'p1' OR contexts_a.name = 'r1')",
    "contexts_a.name = 'p1' AND (contexts_a.type = 'Pipeline' OR name = 'zzz')",
    "contexts_a.id = {id:r3}",
    "contexts_a.create_time_since_epoch > 0 AND uri LIKE '/models/%'",
    "contexts_a.last_update_time_since_epoch >= {ct:p2}",
    "name = 'd5' OR contexts_a.name = 'p2'",
    "events_e.type = INPUT",
    "events_e.type = OUTPUT AND events_e.execution_id = {id:t1}",
    "events_e.type IN (INPUT, DECLARED_INPUT) AND events_f.type = OUTPUT",
    "events_e.milliseconds_since_epoch >= 5000",
    "events_e.type != INPUT",
    "(type = 'Dataset' AND contexts_a.type = 'Run' AND "
    "(properties.span.int_value = 1 OR properties.span.int_value = 2)) OR name = 'm1'",
    "type = 'Dataset' AND (contexts_a.type = 'RunContext' AND contexts_a.name = 'r1') AND "
    "(properties.span.int_value = 1 OR custom_properties.span.int_value = 1)",
]
_EXECUTION_QUERIES = [
    "TRUE",
    "FALSE OR name = 't1'",
    "NOT TRUE OR contexts_c.name = 'r3'",
    "last_known_state = COMPLETE",
    "last_known_state != COMPLETE",
    "last_known_state NOT IN (COMPLETE, FAILED)",
    "last_known_state IN (RUNNING, CANCELED)",
    "type = 'Trainer' AND properties.epochs.int_value > 5",
    "properties.lr.double_value < 0.05 OR properties.flag.bool_value = FALSE",
    "custom_properties.owner.string_value = 'bob'",
    "external_id IS NOT NULL",
    "name LIKE 't%' AND last_known_state IS NOT NULL",
    "contexts_c.name = 'r3'",
    "contexts_c.type = 'Pipeline' AND contexts_c.name = 'p1' AND contexts_r.type = 'Run'",
    "NOT (contexts_c.name = 'p1')",
    "events_x.artifact_id = {id:d1}",
    "events_x.type = OUTPUT",
    "events_x.type IN (INPUT, INTERNAL_INPUT) AND NOT events_x.milliseconds_since_epoch > 3500",
]
_CONTEXT_QUERIES = [
    "type = 'Run'",
    "properties.attempt.int_value >= 2",
    "properties.ok.bool_value = true OR properties.owner.string_value = 'bob'",
    "external_id IS NULL AND name != 'lonely'",
    "parent_contexts_p.name = 'p1'",
    "parent_contexts_p.id = {id:p1}",
    "parent_contexts_p.name = 'p1' AND parent_contexts_q.name = 'p2'",
    "parent_contexts_p.name = 'p2' OR properties.owner.string_value = 'alice'",
    "child_contexts_c.name = 'r3'",
    "child_contexts_c.type = 'Run' AND child_contexts_c.name = 'r1'",
    "child_contexts_c.id IS NOT NULL",
    "artifacts_a.uri LIKE '/models/%'",
    "artifacts_a.state = LIVE AND artifacts_a.type = 'Model'",
    "artifacts_a.state IN (LIVE, PENDING)",
    "NOT artifacts_a.name LIKE 'd%'",
    "executions_e.last_known_state = FAILED",
    "executions_e.last_known_state = COMPLETE AND executions_e.type = 'Evaluator'",
    "executions_e.name = 't1' AND artifacts_a.name = 'd2'",
]
_QUERIES = (
    [("artifact", q) for q in _ARTIFACT_QUERIES]
    + [("execution", q) for q in _EXECUTION_QUERIES]
    + [("context", q) for q in _CONTEXT_QUERIES]
)

#: Queries ml-metadata fails to run on some backends, with the node names metadb must select.
_MLMD_BREAKS = [
    # It compares an int_value with a double as CAST(... AS FLOAT64): no such SQL type there.
    ("artifact", "properties.span.int_value > 1.5", {"postgresql", "mysql"}, {"d2", "d3", "d4"}),
    ("artifact", "id = {id:d1}.0", {"postgresql", "mysql"}, {"d1"}),
]

#: What metadb accepts beyond ml-metadata, with the node names it must select.
_EXTENSIONS = [
    ("artifact", "state = ABANDONED", {"m3"}),
    ("artifact", "state IN (ABANDONED, PENDING)", {"m3", "d3"}),
    ("execution", "last_known_state = 4", {"t3"}),
    ("artifact", "contexts_a.properties.attempt.int_value = 2", {"d2", "m2"}),
    (
        "artifact",
        "contexts_a.properties.owner.string_value = 'alice' AND contexts_a.type = 'Run'",
        set(),
    ),
    ("artifact", "contexts_a.external_id = 'ext-p2'", {"d3", "m3"}),
    ("artifact", "events_e.artifact_id = {id:d2}", {"d2"}),
    ("context", "parent_contexts_p.create_time_since_epoch > 0", {"r1", "r2", "r3"}),
    ("context", "artifacts_a.external_id = 'ext-d1'", {"p1", "r1"}),
    ("context", "executions_e.external_id = 'ext-t2'", {"p1", "r2"}),
    ("context", "artifacts_a.state != LIVE", {"p2", "r2", "r3"}),
    ("execution", 'name = "name"', set()),  # SQLite reads "name" as the column in ml-metadata
]


def _fill_in(query: str, refs: dict[str, int]) -> str:
    return re.sub(r"\{((?:id|ct|type):[^}]+)\}", lambda m: str(refs[m.group(1)]), query)


def test_selects_what_ml_metadata_selects(mlmd_python: Path, database_url: str) -> None:
    breaks = [(kind, query) for kind, query, _, _ in _MLMD_BREAKS]
    extensions = [(kind, query) for kind, query, _ in _EXTENSIONS]
    out = run_mlmd(
        mlmd_python,
        OPEN_STORE + _DATASET_AND_QUERIES,
        config=mlmd_connection_config(database_url),
        queries=_QUERIES + breaks + extensions,
    )
    refs: dict[str, int] = out["refs"]
    names = {kind: {int(i): name for i, name in ids.items()} for kind, ids in out["names"].items()}
    results = iter(out["results"])

    db = Database.from_url(database_url)
    backend = db.url.dialect
    tables = mlmd_tables(backend)
    problems, distinct = [], set()

    def check(kind: str, query: str, theirs: list[int], source: str) -> None:
        node = tables.nodes(kind).node
        statement = select(node.c.id).where(compile_filter(query, kind=kind, tables=tables))
        ours = sorted(conn.execute(statement).scalars())
        distinct.add(tuple(ours))
        # Within a query that joins the same tables unaliased (as listing nodes does), too.
        t = tables.type
        joined = statement.join(t, t.c.id == node.c.type_id)
        if kind != "context":
            link = tables.attribution if kind == "artifact" else tables.association
            joined = joined.outerjoin(link, link.c[f"{kind}_id"] == node.c.id).distinct()
        assert sorted(conn.execute(joined).scalars()) == ours, query
        if ours != theirs:
            expected = [names[kind][i] for i in theirs]
            problems.append(
                f"{kind}s where {query}: {source} {expected}, "
                f"metadb {[names[kind][i] for i in ours]}"
            )

    try:
        with db.connect() as conn:
            for kind, _ in _QUERIES:
                result = next(results)
                if "error" in result:
                    problems.append(f"ml-metadata rejected {result['query']}: {result['error']}")
                else:
                    check(kind, result["query"], result["ids"], "ml-metadata")
            for kind, _, failing, expected in _MLMD_BREAKS:
                result = next(results)
                by_name = sorted(i for i, name in names[kind].items() if name in expected)
                if ("error" in result) != (backend in failing):
                    problems.append(f"ml-metadata on {backend}: {result}")
                if "error" not in result:
                    check(kind, result["query"], result["ids"], "ml-metadata")
                check(kind, result["query"], by_name, "expected")
            for kind, query, expected in _EXTENSIONS:
                next(results)  # what ml-metadata made of it is in the report, not asserted
                by_name = sorted(i for i, name in names[kind].items() if name in expected)
                check(kind, _fill_in(query, refs), by_name, "expected")
    finally:
        db.dispose()
    assert not problems, "\n".join(problems)
    assert len(distinct) > 40  # the dataset tells the queries apart


#: Predicates the random queries are built of: aliases shared and not, properties some nodes
#: lack, enums with NULLs. All run the same on ml-metadata's three backends.
_RANDOM_ATOMS = {
    "artifact": [
        "contexts_a.name = 'p1'",
        "contexts_a.type = 'Run'",
        "contexts_a.name != 'r1'",
        "contexts_b.name = 'r2'",
        "contexts_b.type = 'Pipeline'",
        "properties.span.int_value >= 2",
        "properties.score.double_value < 0.8",
        "custom_properties.tag.string_value = 'gold'",
        "state = LIVE",
        "state != LIVE",
        "uri LIKE '%train%'",
        "name IN ('d1', 'm1', 'd5')",
        "events_e.type = INPUT",
        "events_e.milliseconds_since_epoch > 2500",
        "type = 'Model'",
        "external_id IS NULL",
    ],
    "context": [
        "parent_contexts_p.name = 'p1'",
        "parent_contexts_p.name = 'p2'",
        "child_contexts_c.name != 'r1'",
        "artifacts_a.type = 'Dataset'",
        "artifacts_a.state = LIVE",
        "executions_e.last_known_state = COMPLETE",
        "properties.attempt.int_value > 1",
        "type = 'Run'",
        "name IN ('p1', 'r3')",
    ],
}


def _random_query(rng: random.Random, atoms: list[str], depth: int) -> str:
    roll = rng.random()
    if depth == 0 or roll < 0.3:
        return rng.choice(atoms)
    if roll < 0.45:
        return f"NOT ({_random_query(rng, atoms, depth - 1)})"
    op = rng.choice(["AND", "OR"])
    left, right = (_random_query(rng, atoms, depth - 1) for _ in range(2))
    return f"({left}) {op} ({right})"


def test_random_combinations_select_what_ml_metadata_selects(
    mlmd_python: Path, database_url: str
) -> None:
    rng = random.Random(20240611)
    queries = [
        (kind, _random_query(rng, atoms, 3))
        for kind, atoms, count in (
            ("artifact", _RANDOM_ATOMS["artifact"], 150),
            ("context", _RANDOM_ATOMS["context"], 60),
        )
        for _ in range(count)
    ]
    out = run_mlmd(
        mlmd_python,
        OPEN_STORE + _DATASET_AND_QUERIES,
        config=mlmd_connection_config(database_url),
        queries=queries,
    )
    db = Database.from_url(database_url)
    tables = mlmd_tables(db.url.dialect)
    problems, compared = [], 0
    try:
        with db.connect() as conn:
            for (kind, query), result in zip(queries, out["results"], strict=True):
                if "error" in result:
                    # ml-metadata rewrites enum predicates with regular expressions before
                    # parsing and fails on some repeats of them (its bug, not the query's).
                    assert "Query cannot be rewritten successfully" in result["error"], result
                    continue
                compared += 1
                node = tables.nodes(kind).node
                expr = compile_filter(query, kind=kind, tables=tables)
                ours = sorted(conn.execute(select(node.c.id).where(expr)).scalars())
                if ours != result["ids"]:
                    problems.append(f"{kind}s where {query}: ml-metadata {result['ids']}, {ours}")
    finally:
        db.dispose()
    assert not problems, "\n".join(problems)
    assert compared > 150
