"""The MetadataStore API, on SQLite, PostgreSQL and MySQL, with ml-metadata's semantics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.protobuf import struct_pb2

import metadb
from metadb.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from metadb.store import (
    Artifact,
    ArtifactState,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionState,
    ExecutionType,
    ListOptions,
    MetadataStore,
    ParentContext,
    PropertyType,
    ProtoValue,
    SystemType,
)


@pytest.fixture
def store(database_url: str) -> Iterator[MetadataStore]:
    with metadb.connect(database_url) as opened:
        yield opened


@pytest.fixture
def dataset_type(store: MetadataStore) -> int:
    return store.put_artifact_type(
        ArtifactType(
            name="Dataset",
            properties={
                "rows": PropertyType.INT,
                "score": PropertyType.DOUBLE,
                "split": PropertyType.STRING,
                "schema": PropertyType.STRUCT,
                "spec": PropertyType.PROTO,
                "clean": PropertyType.BOOLEAN,
            },
            base_type=SystemType.DATASET,
        )
    )


def test_types_round_trip_and_system_types_stay_hidden(store: MetadataStore, dataset_type: int):
    assert dataset_type == 10  # ml-metadata's system types hold ids 1-9
    stored = store.get_artifact_type("Dataset")
    assert stored.id == dataset_type and stored.base_type == SystemType.DATASET
    assert stored.properties["schema"] == PropertyType.STRUCT
    assert [t.name for t in store.get_artifact_types()] == ["Dataset"]
    assert store.get_execution_types() == []
    assert store.get_artifact_types_by_id([dataset_type, 999]) == [stored]
    with pytest.raises(NotFoundError, match="no artifact type named 'Nope'"):
        store.get_artifact_type("Nope")
    v2 = store.put_artifact_type(ArtifactType(name="Dataset", version="v2"))
    assert v2 != dataset_type and store.get_artifact_type("Dataset", "v2").id == v2


def test_putting_a_type_again_checks_its_properties(store: MetadataStore, dataset_type: int):
    same = store.get_artifact_type("Dataset")
    same.id = None
    assert store.put_artifact_type(same) == dataset_type

    with pytest.raises(AlreadyExistsError, match="'rows' of type INT, not STRING"):
        store.put_artifact_type(
            ArtifactType(name="Dataset", properties={"rows": PropertyType.STRING})
        )
    more = ArtifactType(
        name="Dataset", properties={**same.properties, "owner": PropertyType.STRING}
    )
    with pytest.raises(AlreadyExistsError, match="can_add_fields"):
        store.put_artifact_type(more)
    assert store.put_artifact_type(more, can_add_fields=True) == dataset_type
    assert "owner" in store.get_artifact_type("Dataset").properties
    with pytest.raises(AlreadyExistsError, match="can_omit_fields"):
        store.put_artifact_type(ArtifactType(name="Dataset"))
    assert (
        store.put_artifact_type(ArtifactType(name="Dataset"), can_omit_fields=True) == dataset_type
    )


def test_every_property_kind_round_trips(store: MetadataStore, dataset_type: int):
    spec = struct_pb2.Value(string_value="packed")
    artifact = Artifact(
        type_id=dataset_type,
        uri="s3://bucket/data",
        name="train",
        external_id="ext-1",
        state=ArtifactState.LIVE,
        properties={
            "rows": 42,
            "score": 0.5,
            "split": "train; 50%",
            "schema": {"columns": ["a", "b"], "nested": {"n": 1}},
            "spec": spec,
            "clean": False,
        },
        custom_properties={
            "note": "héllo",
            "count": -7,
            "ratio": 2.25,
            "flag": True,
            "meta": {"k": "v"},
            "raw": ProtoValue(
                "type.googleapis.com/google.protobuf.Value", spec.SerializeToString()
            ),
        },
    )

    [artifact_id] = store.put_artifacts([artifact])
    [read] = store.get_artifacts_by_id([artifact_id])

    assert (
        read.type == "Dataset"
        and read.uri == "s3://bucket/data"
        and read.state == ArtifactState.LIVE
    )
    assert read.properties == {
        "rows": 42,
        "score": 0.5,
        "split": "train; 50%",
        "schema": {"columns": ["a", "b"], "nested": {"n": 1.0}},
        "spec": ProtoValue("type.googleapis.com/google.protobuf.Value", spec.SerializeToString()),
        "clean": False,
    }
    assert read.custom_properties["note"] == "héllo"
    assert read.custom_properties["count"] == -7 and read.custom_properties["flag"] is True
    assert read.custom_properties["meta"] == {"k": "v"}
    assert read.custom_properties["raw"] == read.properties["spec"]
    assert read.create_time_since_epoch == read.last_update_time_since_epoch > 0


def test_update_replaces_properties_and_keeps_create_time(store: MetadataStore, dataset_type: int):
    [artifact_id] = store.put_artifacts(
        [
            Artifact(
                type_id=dataset_type, name="a", properties={"rows": 1}, custom_properties={"x": 1}
            )
        ]
    )
    [before] = store.get_artifacts_by_id([artifact_id])

    store.put_artifacts(
        [Artifact(id=artifact_id, type_id=dataset_type, name="a", properties={"split": "eval"})]
    )

    [after] = store.get_artifacts_by_id([artifact_id])
    assert after.properties == {"split": "eval"} and after.custom_properties == {}
    assert after.create_time_since_epoch == before.create_time_since_epoch
    assert after.last_update_time_since_epoch >= before.last_update_time_since_epoch


def test_bad_nodes_are_refused_and_nothing_is_written(store: MetadataStore, dataset_type: int):
    store.put_artifacts([Artifact(type_id=dataset_type, name="taken")])
    good = Artifact(type_id=dataset_type, name="fine")
    cases = [
        (
            Artifact(type_id=dataset_type, properties={"nope": 1}),
            InvalidArgumentError,
            "not declared",
        ),
        (
            Artifact(type_id=dataset_type, properties={"rows": "x"}),
            InvalidArgumentError,
            "declared INT",
        ),
        (
            Artifact(type_id=dataset_type, properties={"rows": True}),
            InvalidArgumentError,
            "declared INT",
        ),
        (Artifact(type_id=dataset_type, name="taken"), AlreadyExistsError, "already exists"),
        (Artifact(type_id=999), NotFoundError, "no artifact type with id 999"),
        (
            Artifact(id=12345, type_id=dataset_type),
            InvalidArgumentError,
            "no artifact with id 12345",
        ),
    ]
    for bad, error, message in cases:
        with pytest.raises(error, match=message):
            store.put_artifacts([good, bad])
    assert [a.name for a in store.get_artifacts()] == ["taken"]
    context_type = store.put_context_type(ContextType(name="Run"))
    with pytest.raises(InvalidArgumentError, match="needs a name"):
        store.put_contexts([Context(type_id=context_type)])
    with pytest.raises(NotFoundError):
        store.put_executions([Execution(type_id=dataset_type)])  # an artifact type


def test_lookups_by_type_name_uri_and_external_id(store: MetadataStore, dataset_type: int):
    ids = store.put_artifacts(
        [
            Artifact(type_id=dataset_type, name=f"a{i}", uri=f"/data/{i % 2}", external_id=f"e{i}")
            for i in range(4)
        ]
    )
    assert [a.id for a in store.get_artifacts_by_type("Dataset")] == ids
    assert store.get_artifacts_by_type("Missing") == []
    found = store.get_artifact_by_type_and_name("Dataset", "a2")
    assert found is not None and found.id == ids[2]
    assert store.get_artifact_by_type_and_name("Dataset", "zzz") is None
    assert [a.id for a in store.get_artifacts_by_uri("/data/1")] == [ids[1], ids[3]]
    assert [a.id for a in store.get_artifacts_by_external_ids(["e3", "e0", "zz"])] == [
        ids[0],
        ids[3],
    ]


def test_events_keep_their_paths_and_are_insert_only(store: MetadataStore, dataset_type: int):
    trainer = store.put_execution_type(ExecutionType(name="Trainer"))
    [artifact_id] = store.put_artifacts([Artifact(type_id=dataset_type)])
    [execution_id] = store.put_executions(
        [Execution(type_id=trainer, last_known_state=ExecutionState.RUNNING)]
    )
    store.put_events(
        [
            Event(artifact_id, execution_id, EventType.INPUT, path=["examples", 0, "train"]),
            Event(artifact_id, execution_id, EventType.OUTPUT, milliseconds_since_epoch=1234),
        ]
    )

    events = store.get_events_by_execution_ids([execution_id])
    assert [(e.type, e.path) for e in events] == [
        (EventType.INPUT, ["examples", 0, "train"]),
        (EventType.OUTPUT, []),
    ]
    assert events[1].milliseconds_since_epoch == 1234
    assert store.get_events_by_artifact_ids([artifact_id]) == events
    with pytest.raises(AlreadyExistsError):
        store.put_events([Event(artifact_id, execution_id, EventType.INPUT)])
    with pytest.raises(InvalidArgumentError, match="no artifact with id 999"):
        store.put_events([Event(999, execution_id, EventType.INPUT)])
    with pytest.raises(InvalidArgumentError, match="UNKNOWN"):
        store.put_events([Event(artifact_id, execution_id, EventType.UNKNOWN)])


def test_links_are_idempotent_and_parent_cycles_refused(store: MetadataStore, dataset_type: int):
    run = store.put_context_type(ContextType(name="Run"))
    trainer = store.put_execution_type(ExecutionType(name="Trainer"))
    a, b, c = store.put_contexts([Context(type_id=run, name=n) for n in "abc"])
    [artifact_id] = store.put_artifacts([Artifact(type_id=dataset_type)])
    [execution_id] = store.put_executions([Execution(type_id=trainer)])
    links = ([Attribution(a, artifact_id)], [Association(a, execution_id)])

    store.put_attributions_and_associations(*links)
    store.put_attributions_and_associations(*links)  # again: kept, not doubled

    assert [x.id for x in store.get_artifacts_by_context(a)] == [artifact_id]
    assert [x.id for x in store.get_executions_by_context(a)] == [execution_id]
    assert [x.name for x in store.get_contexts_by_artifact(artifact_id)] == ["a"]
    assert [x.name for x in store.get_contexts_by_execution(execution_id)] == ["a"]
    with pytest.raises(InvalidArgumentError, match="no context with id 999"):
        store.put_attributions_and_associations([Attribution(999, artifact_id)], [])

    store.put_parent_contexts([ParentContext(child_id=b, parent_id=a), ParentContext(c, b)])
    assert [x.name for x in store.get_parent_contexts_by_context(b)] == ["a"]
    assert [x.name for x in store.get_children_contexts_by_context(b)] == ["c"]
    with pytest.raises(InvalidArgumentError, match="cycle"):
        store.put_parent_contexts([ParentContext(child_id=a, parent_id=c)])
    with pytest.raises(InvalidArgumentError, match="own parent"):
        store.put_parent_contexts([ParentContext(child_id=a, parent_id=a)])
    with pytest.raises(AlreadyExistsError):
        store.put_parent_contexts([ParentContext(child_id=b, parent_id=a)])


def test_put_execution_is_one_transaction(store: MetadataStore, dataset_type: int):
    trainer = store.put_execution_type(ExecutionType(name="Trainer"))
    run = store.put_context_type(ContextType(name="Run"))
    output = Event(None, None, EventType.OUTPUT, path=["model"])

    execution_id, [artifact_id], [context_id] = store.put_execution(
        Execution(type_id=trainer, last_known_state=ExecutionState.COMPLETE),
        [(Artifact(type_id=dataset_type, uri="/model"), output)],
        [Context(type_id=run, name="run-1")],
    )

    [event] = store.get_events_by_execution_ids([execution_id])
    assert (event.artifact_id, event.path) == (artifact_id, ["model"])
    assert [x.id for x in store.get_artifacts_by_context(context_id)] == [artifact_id]
    with pytest.raises(AlreadyExistsError):  # run-1 exists and is not to be reused
        store.put_execution(
            Execution(type_id=trainer), [(Artifact(type_id=dataset_type, uri="/x"), output)],
            [Context(type_id=run, name="run-1")],
        )  # fmt: skip
    assert len(store.get_executions()) == 1 and len(store.get_artifacts()) == 1
    again, _, [reused] = store.put_execution(
        Execution(type_id=trainer), [], [Context(type_id=run, name="run-1")],
        reuse_context_if_already_exist=True,
    )  # fmt: skip
    assert reused == context_id and again != execution_id


@pytest.mark.parametrize("order_by", ["id", "create_time", "last_update_time"])
@pytest.mark.parametrize("is_asc", [True, False])
def test_pages_cover_every_node_once_in_order(
    store: MetadataStore, dataset_type: int, order_by: str, is_asc: bool
):
    ids = store.put_artifacts([Artifact(type_id=dataset_type, name=f"n{i}") for i in range(25)])
    seen: list[int] = []
    token = None
    while True:
        page = store.list_artifacts(ListOptions(7, order_by, is_asc, None, token))
        assert len(page.items) <= 7
        seen += [a.id for a in page.items]
        token = page.next_page_token
        if token is None:
            break
    expected = sorted(ids, key=lambda i: i) if is_asc else sorted(ids, reverse=True)
    if order_by == "id":
        assert seen == expected
    assert sorted(seen) == sorted(ids)  # every node once, whatever ties in the time order
    assert len(store.get_artifacts(ListOptions(limit=10, order_by=order_by, is_asc=is_asc))) == 10


def test_a_page_token_from_another_listing_is_refused(store: MetadataStore, dataset_type: int):
    store.put_artifacts([Artifact(type_id=dataset_type, name=f"n{i}") for i in range(3)])
    token = store.list_artifacts(ListOptions(limit=1)).next_page_token

    with pytest.raises(InvalidArgumentError, match="next_page_token"):
        store.list_artifacts(ListOptions(limit=1, is_asc=False, next_page_token=token))
    with pytest.raises(InvalidArgumentError, match="next_page_token"):
        store.list_artifacts(ListOptions(limit=1, next_page_token="garbage!"))


def test_an_artifacts_page_token_is_refused_by_the_executions_and_contexts_listings(
    store: MetadataStore, dataset_type: int
):
    store.put_artifacts([Artifact(type_id=dataset_type, name=f"n{i}") for i in range(3)])
    token = store.list_artifacts(ListOptions(limit=1)).next_page_token

    for listing in (store.list_executions, store.list_contexts):
        with pytest.raises(InvalidArgumentError, match="belongs to another listing"):
            listing(ListOptions(limit=1, next_page_token=token))
    with pytest.raises(InvalidArgumentError, match="another search of artifacts"):
        store.list_artifacts(
            ListOptions(limit=1, filter_query="name = 'n1'", next_page_token=token)
        )
    assert len(store.list_artifacts(ListOptions(limit=5, next_page_token=token)).items) == 2


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (1001, "between 1 and 1000"),
        (0, "between 1 and 1000"),
        (1.5, "must be an integer"),
        ("7", "must be an integer"),
        (True, "must be an integer"),
    ],
)
def test_a_page_limit_over_the_maximum_or_not_a_positive_integer_is_refused(
    store: MetadataStore, limit: object, message: str
):
    with pytest.raises(InvalidArgumentError, match=message):
        store.list_artifacts(ListOptions(limit=limit))  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, -3, 2.5, "7"])
def test_a_get_call_with_a_limit_that_is_not_a_positive_integer_is_refused(
    store: MetadataStore, limit: object
):
    with pytest.raises(InvalidArgumentError, match="limit must be"):
        store.get_executions(ListOptions(limit=limit))  # type: ignore[arg-type]


def test_get_calls_walk_every_page_past_the_page_maximum(store: MetadataStore, dataset_type: int):
    ids = store.put_artifacts(
        [Artifact(type_id=dataset_type, name=f"n{i}", properties={"rows": i}) for i in range(1203)]
    )

    everything = store.get_artifacts(ListOptions(order_by="create_time", is_asc=False))
    first = store.list_artifacts(ListOptions(limit=1000))
    rest = store.list_artifacts(ListOptions(limit=1000, next_page_token=first.next_page_token))

    assert sorted(a.id for a in everything) == sorted(ids)
    assert len(store.get_artifacts(ListOptions(limit=1100))) == 1100
    assert [a.id for a in first.items + rest.items] == ids
    assert [a.properties["rows"] for a in first.items + rest.items] == list(range(1203))
    assert rest.next_page_token is None


def test_connect_without_migrating_needs_a_current_schema(database_url: str):
    with pytest.raises(FailedPreconditionError, match="metadb migrate up"):
        metadb.connect(database_url, migrate=False)
    metadb.connect(database_url).close()
    with metadb.connect(database_url, migrate=False) as store:
        assert store.get_artifact_types() == []


def test_ids_past_the_int_columns_are_misses_not_errors(store: MetadataStore) -> None:
    huge = 2**40
    assert store.get_artifacts_by_id([huge]) == []
    assert store.get_artifact_types_by_id([huge]) == []
    assert store.get_events_by_execution_ids([huge]) == []
    assert store.get_artifacts(ListOptions(filter_query=f"id = {huge}")) == []
    assert store.get_artifacts_by_context(huge) == []


def test_an_int_property_must_fit_the_int_value_column(store: MetadataStore, backend: str) -> None:
    type_id = store.put_artifact_type(
        ArtifactType(name="Dataset", properties={"day": PropertyType.INT})
    )
    big = Artifact(type_id=type_id, properties={"day": 2**40})
    if backend == "sqlite":  # a 64-bit INTEGER column, as ml-metadata made it
        [artifact_id] = store.put_artifacts([big])
        assert store.get_artifacts_by_id([artifact_id])[0].properties["day"] == 2**40
    else:
        with pytest.raises(InvalidArgumentError, match="32-bit int_value"):
            store.put_artifacts([big])
        assert store.get_artifacts() == []
    [edge_id] = store.put_artifacts([Artifact(type_id=type_id, properties={"day": 2**31 - 1})])
    assert store.get_artifacts_by_id([edge_id])[0].properties["day"] == 2**31 - 1


def test_put_lineage_subgraph_refuses_edges_outside_its_nodes(store: MetadataStore) -> None:
    a_type = store.put_artifact_type(ArtifactType(name="Dataset"))
    e_type = store.put_execution_type(ExecutionType(name="Trainer"))
    for bad in (1, -1):
        with pytest.raises(InvalidArgumentError, match="artifact index"):
            store.put_lineage_subgraph(
                [Execution(type_id=e_type)],
                [Artifact(type_id=a_type)],
                [],
                [(0, bad, Event(None, None, EventType.OUTPUT))],
            )
    assert store.get_artifacts() == [] and store.get_executions() == []


def test_concurrent_writers_get_distinct_ids_for_every_node(database_url: str) -> None:
    import threading

    with metadb.connect(database_url) as first:
        type_id = first.put_artifact_type(ArtifactType(name="Dataset"))
    ids: list[list[int]] = [[], []]

    def writer(slot: int) -> None:
        with metadb.connect(database_url, migrate=False) as store:
            for batch in range(10):
                ids[slot] += store.put_artifacts(
                    [Artifact(type_id=type_id, uri=f"/w{slot}/{batch}/{i}") for i in range(20)]
                )

    threads = [threading.Thread(target=writer, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with metadb.connect(database_url, migrate=False) as store:
        stored = {a.id: a.uri for a in store.get_artifacts()}
    assert len(set(ids[0]) | set(ids[1])) == 400
    assert sorted(stored) == sorted(ids[0] + ids[1])
    assert all(stored[i].startswith("/w0/") for i in ids[0])


def test_a_string_property_that_looks_like_a_struct_stays_a_string(store: MetadataStore) -> None:
    type_id = store.put_artifact_type(
        ArtifactType(
            name="Dataset",
            properties={"note": PropertyType.STRING, "config": PropertyType.STRUCT},
        )
    )
    struct_text = "mlmd-struct::" + "CgkKAWESBBoCaGk="  # the encoding of {"a": "hi"}
    [artifact_id] = store.put_artifacts(
        [
            Artifact(
                type_id=type_id,
                properties={"note": struct_text, "config": {"a": "hi"}},
                custom_properties={"raw": {"a": "hi"}},
            )
        ]
    )
    [artifact] = store.get_artifacts_by_id([artifact_id])
    assert artifact.type == "Dataset"
    assert artifact.properties == {"note": struct_text, "config": {"a": "hi"}}
    assert artifact.custom_properties == {"raw": {"a": "hi"}}
