"""Non-ASCII text in every text column, written and read through every store path, in both text
modes: "utf8mb4" (the default, proper UTF-8 in the database) and "mlmd-latin1" (on MySQL, the
bytes ml-metadata's latin1 connection leaves; elsewhere the same as utf8mb4).

What the database holds is checked with plain SQL, byte for byte (the hex of each value).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection

import metadb
from metadb.db import Database
from metadb.db.mysql import to_mlmd_latin1
from metadb.errors import ConfigError, UnsupportedDatabaseError
from metadb.store import (
    Artifact,
    ArtifactType,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionType,
    ListOptions,
    MetadataStore,
    PropertyType,
)

#: Latin, a check mark, CJK, an emoji (four bytes in UTF-8) and letters whose UTF-8 holds the
#: bytes cp1252 leaves undefined (C3 81, C3 8D, C3 8F, C3 90, C3 9D).
TEXT = "héllo ✓ 日本語 😀 ÁÍÏÐÝ"
MODES = ("utf8mb4", "mlmd-latin1")

#: (table, column) -> the value every text column of the store gets; table names as on MySQL.
COLUMNS = {
    ("Type", "name"): "A " + TEXT,
    ("Type", "version"): "v " + TEXT,
    ("Type", "description"): "d " + TEXT,
    ("Type", "external_id"): "t " + TEXT,
    ("Type", "input_type"): '{"in": "' + TEXT + '"}',
    ("Type", "output_type"): '{"out": "' + TEXT + '"}',
    ("TypeProperty", "name"): "p " + TEXT,
    ("Artifact", "name"): "n " + TEXT,
    ("Artifact", "uri"): "file:///" + TEXT,
    ("Artifact", "external_id"): "x " + TEXT,
    ("ArtifactProperty", "name"): "cp " + TEXT,  # a custom property's
    ("ArtifactProperty", "string_value"): "s " + TEXT,
    ("Execution", "name"): "e " + TEXT,
    ("Context", "name"): "c " + TEXT,
    ("Context", "external_id"): "cx " + TEXT,
    ("EventPath", "step_key"): "k " + TEXT,
}
V = {f"{table}.{column}": value for (table, column), value in COLUMNS.items()}


@dataclass
class Written:
    artifact_type: int
    artifact: int
    execution: int
    context: int


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(database_url: str, mode: str) -> Iterator[MetadataStore]:
    with metadb.connect(database_url, mysql_text=mode) as opened:
        yield opened


def write_everything(store: MetadataStore) -> Written:
    """Every write path that carries text: type insert and extension, node insert and update,
    property rows, events with paths, a composite put reusing a context by name."""
    prop = V["TypeProperty.name"]
    type_id = store.put_artifact_type(
        ArtifactType(
            name=V["Type.name"],
            version=V["Type.version"],
            description=V["Type.description"],
            external_id=V["Type.external_id"],
        )
    )
    store.put_artifact_type(
        ArtifactType(
            name=V["Type.name"], version=V["Type.version"], properties={prop: PropertyType.STRING}
        ),
        can_add_fields=True,
    )
    run_type = store.put_execution_type(
        ExecutionType(
            name="Run", input_type=V["Type.input_type"], output_type=V["Type.output_type"]
        )
    )
    context_type = store.put_context_type(ContextType(name="Pipeline"))
    [artifact_id] = store.put_artifacts(
        [
            Artifact(
                type_id=type_id,
                name="draft",
                uri=V["Artifact.uri"],
                external_id=V["Artifact.external_id"],
                properties={prop: V["ArtifactProperty.string_value"]},
                custom_properties={V["ArtifactProperty.name"]: 1, "struct": {"k": TEXT}},
            )
        ]
    )
    [artifact] = store.get_artifacts_by_id([artifact_id])
    artifact.name = V["Artifact.name"]  # an update
    store.put_artifacts([artifact])
    [context_id] = store.put_contexts(
        [
            Context(
                type_id=context_type, name=V["Context.name"], external_id=V["Context.external_id"]
            )
        ]
    )
    execution_id, _, [reused] = store.put_execution(
        Execution(type_id=run_type, name=V["Execution.name"]),
        [(Artifact(id=artifact_id, type_id=type_id, name=V["Artifact.name"], uri=V["Artifact.uri"],
                   external_id=V["Artifact.external_id"], properties=artifact.properties,
                   custom_properties=artifact.custom_properties),
          Event(None, None, EventType.OUTPUT, path=[V["EventPath.step_key"], 0]))],
        [Context(type_id=context_type, name=V["Context.name"])],
        reuse_context_if_already_exist=True,
    )  # fmt: skip
    assert reused == context_id  # found by its non-ASCII name
    return Written(type_id, artifact_id, execution_id, context_id)


def test_every_text_column_reads_back_equal_through_every_read_path(store: MetadataStore):
    w = write_everything(store)

    a_type = store.get_artifact_type(V["Type.name"], V["Type.version"])
    assert (a_type.id, a_type.description, a_type.external_id) == (
        w.artifact_type, V["Type.description"], V["Type.external_id"],
    )  # fmt: skip
    assert a_type.properties == {V["TypeProperty.name"]: PropertyType.STRING}
    assert store.get_artifact_types_by_external_ids([V["Type.external_id"]]) == [a_type]
    run = store.get_execution_type("Run")
    assert (run.input_type, run.output_type) == (V["Type.input_type"], V["Type.output_type"])

    [artifact] = store.get_artifacts_by_uri(V["Artifact.uri"])
    assert artifact.id == w.artifact and artifact.type == V["Type.name"]
    assert (artifact.name, artifact.uri, artifact.external_id) == (
        V["Artifact.name"], V["Artifact.uri"], V["Artifact.external_id"],
    )  # fmt: skip
    assert artifact.properties == {V["TypeProperty.name"]: V["ArtifactProperty.string_value"]}
    assert artifact.custom_properties == {V["ArtifactProperty.name"]: 1, "struct": {"k": TEXT}}
    assert store.get_artifacts_by_external_ids([V["Artifact.external_id"]]) == [artifact]
    assert (
        store.get_artifact_by_type_and_name(V["Type.name"], V["Artifact.name"], V["Type.version"])
        == artifact
    )
    assert store.get_artifacts_by_type(V["Type.name"], V["Type.version"]) == [artifact]
    assert [e.name for e in store.get_executions_by_id([w.execution])] == [V["Execution.name"]]
    [context] = store.get_contexts_by_external_ids([V["Context.external_id"]])
    assert context.name == V["Context.name"]
    assert store.get_context_by_type_and_name("Pipeline", V["Context.name"]) == context
    [event] = store.get_events_by_execution_ids([w.execution])
    assert event.path == [V["EventPath.step_key"], 0]


#: filter queries that select the artifact; every literal is non-ASCII.
FILTERS = [
    f"name = '{V['Artifact.name']}'",
    "name LIKE '%✓ 日本%'",
    "name LIKE '%ÁÍÏÐÝ'",
    f"external_id IN ('other', '{V['Artifact.external_id']}')",
    f"type = '{V['Type.name']}'",
    f"properties.`{V['TypeProperty.name']}`.string_value = '{V['ArtifactProperty.string_value']}'",
    f"custom_properties.`{V['ArtifactProperty.name']}`.int_value = 1",
    f"contexts_c.name = '{V['Context.name']}'",
    "contexts_c.name LIKE '%😀%'",
    "events_e.type = OUTPUT AND uri LIKE 'file:///hé%'",
]


def test_filter_queries_with_non_ascii_literals(store: MetadataStore, mode: str):
    w = write_everything(store)
    store.put_attributions_and_associations([Attribution(w.context, w.artifact)], [])

    def ids(query: str) -> list[int]:
        return [a.id for a in store.get_artifacts(ListOptions(filter_query=query))]

    assert {q: ids(q) for q in FILTERS} == {q: [w.artifact] for q in FILTERS}
    assert ids(f"name != '{V['Artifact.name']}'") == []
    # LIKE's _ is one character of what the database holds: in mlmd-latin1 "é" is two, as it is
    # for ml-metadata
    as_mlmd = store.database.url.dialect == "mysql" and mode == "mlmd-latin1"
    assert ids("uri LIKE 'file:///h_llo%'") == ([] if as_mlmd else [w.artifact])
    assert ids("uri LIKE 'file:///h__llo%'") == ([w.artifact] if as_mlmd else [])


#: How each database shows the bytes of a text value as hex.
HEX = {
    "sqlite": "hex({})",
    "postgresql": "encode(convert_to({}, 'UTF8'), 'hex')",
    "mysql": "HEX({})",
}


def stored(conn: Connection, dialect: str, table: str, column: str) -> list[tuple[str, bytes]]:
    """The column's values that contain a non-ASCII character, with their bytes, sorted, by
    plain SQL (no metadb types)."""
    name = table.lower() if dialect == "postgresql" else table
    quoted = conn.dialect.identifier_preparer.quote
    sql = f"SELECT {quoted(column)}, {HEX[dialect].format(quoted(column))} FROM {quoted(name)}"
    rows = conn.exec_driver_sql(sql).all()
    return sorted((v, bytes.fromhex(hex_)) for v, hex_ in rows if v and not v.isascii())


def test_what_the_database_holds(store: MetadataStore, mode: str):
    write_everything(store)
    dialect = store.database.url.dialect
    as_mlmd = dialect == "mysql" and mode == "mlmd-latin1"

    with store.database.connect() as conn:
        held = {key: stored(conn, dialect, *key) for key in COLUMNS}

    written = {key: [value] for key, value in COLUMNS.items()}
    written["ArtifactProperty", "name"].append(V["TypeProperty.name"])  # the declared one's
    # proper UTF-8, as every utf8mb4 client reads it; or ml-metadata's UTF-8 bytes as latin1
    expected = {
        key: sorted((text, text.encode("utf-8")) for text in map(to_mlmd_latin1, values))
        if as_mlmd
        else sorted((text, text.encode("utf-8")) for text in values)
        for key, values in written.items()
    }
    assert held == expected
    if as_mlmd:  # "é" is C3 A9; its two latin1 characters Ã and © are C3 83 and C2 A9
        assert held["EventPath", "step_key"][0][1].startswith(b"k h\xc3\x83\xc2\xa9llo")


def with_parameter(url: str, parameter: str) -> str:
    return url + ("&" if "?" in url else "?") + parameter


def test_a_bad_mode_is_refused_before_the_database_is_touched(database_url: str):
    with pytest.raises(ConfigError, match="mysql_text must be one of 'utf8mb4', 'mlmd-latin1'"):
        metadb.connect(database_url, mysql_text="latin1")
    with pytest.raises(ConfigError, match="contradicts"):
        metadb.connect(with_parameter(database_url, "mlmd_text=latin1"), mysql_text="utf8mb4")
    with pytest.raises(UnsupportedDatabaseError, match="mlmd_text parameter must be"):
        metadb.connect(with_parameter(database_url, "mlmd_text=cp1252"))
    db = Database.from_url(database_url)
    try:
        with db.connect() as conn:
            tables = conn.dialect.get_table_names(conn)
    finally:
        db.dispose()
    assert tables == []


def test_the_url_parameter_turns_the_mode_on(database_url: str, backend: str):
    with metadb.connect(with_parameter(database_url, "mlmd_text=latin1")) as store:
        type_id = store.put_context_type(ContextType(name="T"))
        store.put_contexts([Context(type_id=type_id, name=TEXT)])
        with store.database.connect() as conn:
            [(_, raw)] = stored(conn, backend, "Context", "name")
        assert [c.name for c in store.get_contexts()] == [TEXT]

    assert raw == (to_mlmd_latin1(TEXT) if backend == "mysql" else TEXT).encode("utf-8")
