"""metadb.client.Client against a live server: the embedded store's calls, results and errors.

The story tests run once with ``metadb.connect(url)`` and once with ``Client(server)``: the
same program, one line apart, must see the same results.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.protobuf import wrappers_pb2

import metadb
from metadb.api import ServeSettings, create_app
from metadb.client import Client
from metadb.errors import (
    AlreadyExistsError,
    DatabaseUnreachableError,
    InvalidArgumentError,
    NotFoundError,
    ServerUnreachableError,
    TokenRejectedError,
)
from metadb.store import (
    Artifact,
    ArtifactType,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionState,
    ExecutionType,
    LineageDirection,
    LineageSubgraphQueryOptions,
    ListOptions,
    ParentContext,
    PropertyType,
    ProtoValue,
)
from tests.api.conftest import _free_port


@pytest.fixture(params=["embedded", "remote"])
def store(request: pytest.FixtureRequest, database_url: str) -> Iterator[Any]:
    if request.param == "embedded":
        with metadb.connect(database_url) as embedded:
            yield embedded
    else:
        base_url = request.getfixturevalue("live_server")
        with Client(base_url) as remote:
            yield remote


def test_the_same_story_gives_the_same_results(store: Any) -> None:
    dataset = store.put_artifact_type(
        ArtifactType(name="Dataset", version="1", properties={"day": PropertyType.INT})
    )
    trainer = store.put_execution_type(ExecutionType(name="Trainer"))
    run_type = store.put_context_type(ContextType(name="Run"))
    assert store.get_artifact_type("Dataset", "1").properties == {"day": PropertyType.INT}
    with pytest.raises(NotFoundError):
        store.get_artifact_type("Dataset")
    assert [t.id for t in store.get_execution_types()] == [trainer]

    values = {
        "d": 1.0, "b": True, "s": "naïve", "st": {"k": [1.0, "v"]},
        "p": wrappers_pb2.StringValue(value="hi"),
    }  # fmt: skip
    artifact_ids = store.put_artifacts(
        [
            Artifact(type_id=dataset, uri=f"s3://b/{day}", name=f"day-{day}",
                     properties={"day": day}, custom_properties=values)
            for day in range(5)
        ]
    )  # fmt: skip
    first = store.get_artifacts_by_id([artifact_ids[0]])[0]
    assert first.custom_properties["d"] == 1.0 and isinstance(first.custom_properties["d"], float)
    assert first.custom_properties["st"] == {"k": [1.0, "v"]}
    assert first.custom_properties["p"] == ProtoValue(
        "type.googleapis.com/google.protobuf.StringValue",
        wrappers_pb2.StringValue(value="hi").SerializeToString(),
    )
    recent = store.get_artifacts(
        ListOptions(limit=2, order_by="create_time", is_asc=False,
                    filter_query="properties.day.int_value < 4")
    )  # fmt: skip
    assert [a.properties["day"] for a in recent] == [3, 2]
    page = store.list_artifacts(ListOptions(limit=3))
    rest = store.list_artifacts(ListOptions(limit=3, next_page_token=page.next_page_token))
    assert [a.id for a in page.items + rest.items] == artifact_ids
    assert rest.next_page_token is None
    assert store.get_artifact_by_type_and_name("Dataset", "day-2", "1").id == artifact_ids[2]
    assert store.get_artifact_by_type_and_name("Dataset", "day-9", "1") is None
    assert [a.id for a in store.get_artifacts_by_uri("s3://b/4")] == artifact_ids[4:]
    assert len(store.get_artifacts_by_type("Dataset", "1")) == 5

    execution_id, [model_id], [run_id] = store.put_execution(
        Execution(type_id=trainer, last_known_state=ExecutionState.COMPLETE),
        [(Artifact(type_id=dataset, uri="s3://model"), Event(None, None, EventType.OUTPUT,
                                                              ["model", 0]))],
        [Context(type_id=run_type, name="run-1")],
    )  # fmt: skip
    store.put_events([Event(artifact_ids[0], execution_id, EventType.INPUT)])
    events = store.get_events_by_execution_ids([execution_id])
    assert sorted((e.artifact_id, e.type, e.path) for e in events) == [
        (artifact_ids[0], EventType.INPUT, []), (model_id, EventType.OUTPUT, ["model", 0])
    ]  # fmt: skip
    store.put_attributions_and_associations([Attribution(run_id, artifact_ids[0])], [])
    assert [a.id for a in store.get_artifacts_by_context(run_id)] == [artifact_ids[0], model_id]
    assert [c.id for c in store.get_contexts_by_execution(execution_id)] == [run_id]

    [parent_id] = store.put_contexts([Context(type_id=run_type, name="pipeline")])
    store.put_parent_contexts([ParentContext(run_id, parent_id)])
    assert [c.name for c in store.get_parent_contexts_by_context(run_id)] == ["pipeline"]
    with pytest.raises(InvalidArgumentError, match="cycle"):
        store.put_parent_contexts([ParentContext(parent_id, run_id)])
    with pytest.raises(AlreadyExistsError):
        store.put_contexts([Context(type_id=run_type, name="pipeline")])

    graph = store.get_lineage_subgraph(
        LineageSubgraphQueryOptions(starting_artifacts="uri = 's3://model'",
                                    direction=LineageDirection.UPSTREAM, max_num_hops=2)
    )  # fmt: skip
    assert sorted(a.id for a in graph.artifacts) == [artifact_ids[0], model_id]
    assert [e.id for e in graph.executions] == [execution_id]
    assert {c.name for c in graph.contexts} == {"run-1"}
    with pytest.raises(InvalidArgumentError):
        store.get_artifacts(ListOptions(filter_query="uri = = 1"))


def test_what_the_client_writes_the_embedded_store_reads_identically(
    live_server: str, database_url: str
) -> None:
    with Client(live_server) as remote, metadb.connect(database_url) as embedded:
        type_id = remote.put_artifact_type(
            ArtifactType(name="M", properties={"n": PropertyType.INT})
        )
        ctx_type = remote.put_context_type(ContextType(name="C"))
        [a] = remote.put_artifacts(
            [Artifact(type_id=type_id, uri="u", properties={"n": 2**30},
                      custom_properties={"x": False, "y": {"z": None}})]
        )  # fmt: skip
        [e], [a2], [c] = remote.put_lineage_subgraph(
            [Execution(type_id=remote.put_execution_type(ExecutionType(name="E")))],
            [Artifact(type_id=type_id, uri="v")],
            [Context(type_id=ctx_type, name="c")],
            [(0, None, Event(a, None, EventType.INPUT)),
             (0, 0, Event(None, None, EventType.OUTPUT))],
        )  # fmt: skip

        assert remote.get_artifacts() == embedded.get_artifacts()
        assert remote.get_artifacts_by_id([a, a2]) == embedded.get_artifacts_by_id([a, a2])
        assert remote.get_executions_by_id([e]) == embedded.get_executions_by_id([e])
        assert remote.get_contexts_by_type("C") == embedded.get_contexts_by_type("C")
        assert remote.get_events_by_artifact_ids([a, a2]) == embedded.get_events_by_artifact_ids(
            [a, a2]
        )
        assert remote.get_artifact_types_by_id([type_id]) == embedded.get_artifact_types_by_id(
            [type_id]
        )
        options = LineageSubgraphQueryOptions(starting_executions=f"id = {e}")
        assert remote.get_lineage_subgraph(options) == embedded.get_lineage_subgraph(options)
        assert remote.get_contexts_by_artifact(a2) == embedded.get_contexts_by_artifact(a2)
        assert [x.id for x in embedded.get_contexts_by_artifact(a2)] == [c]


def test_values_the_wire_cannot_carry_fail_before_sending(live_server: str) -> None:
    with Client(live_server) as remote:
        type_id = remote.put_artifact_type(ArtifactType(name="T"))
        with pytest.raises(InvalidArgumentError, match="int_value"):
            remote.put_artifacts([Artifact(type_id=type_id, custom_properties={"x": 2**64})])
        with pytest.raises(InvalidArgumentError, match="cannot send a set"):
            remote.put_artifacts([Artifact(type_id=type_id, custom_properties={"x": {1}})])
        assert remote.get_artifacts() == []


def test_a_server_that_does_not_answer_is_a_database_unreachable_error() -> None:
    with (
        Client(f"http://127.0.0.1:{_free_port()}", timeout=2) as remote,
        pytest.raises(ServerUnreachableError) as raised,
    ):
        remote.get_artifact_types()
    assert isinstance(raised.value, DatabaseUnreachableError)
    assert "metadb serve" in str(raised.value)


def test_the_token_is_sent_and_never_shown(database_url: str) -> None:
    app = create_app(ServeSettings(database_url=database_url, auth_token="s3cret-token"))
    with TestClient(app) as http:
        with (
            Client("http://testserver", http=http) as anonymous,
            pytest.raises(TokenRejectedError) as raised,
        ):
            anonymous.get_artifact_types()
        assert "s3cret-token" not in str(raised.value)
        with (
            Client("http://testserver", "wrong", http=http) as wrong,
            pytest.raises(TokenRejectedError),
        ):
            wrong.get_context_types()
        authorised = Client("http://testserver/", "s3cret-token", http=http)
        assert authorised.get_context_types() == []
        assert "s3cret" not in repr(authorised) and "s3cret" not in repr(vars(authorised))
        authorised.close()
        # A given httpx client stays open for its owner.
        assert http.get("/healthz").status_code == 200


def test_the_client_has_every_store_method_with_the_same_signature() -> None:
    store_methods = {name for name in vars(metadb.MetadataStore) if not name.startswith("_")} - {
        "database"
    }
    for name in sorted(store_methods):
        assert hasattr(Client, name), name
        ours = inspect.signature(getattr(Client, name))
        theirs = inspect.signature(getattr(metadb.MetadataStore, name))
        shape = [(p.name, p.kind, p.default) for p in theirs.parameters.values()]
        assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == shape, name
