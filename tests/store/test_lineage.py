"""get_lineage_subgraph: hops, direction, ending nodes and field masks, as ml-metadata walks.

The graph: a1 -input-> e1 -output-> a2 -input-> e2 -output-> a3, and a2 -input-> e3
-declared_output-> a4; context c holds a1 and e1. The expectations are what ml-metadata 1.17
returns for the same graph (tests/interop/test_lineage.py checks that on every database).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import metadb
from metadb.errors import InvalidArgumentError
from metadb.store import (
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionType,
    LineageDirection,
    LineageSubgraphQueryOptions,
    MetadataStore,
)

UP, DOWN, BOTH = (
    LineageDirection.UPSTREAM,
    LineageDirection.DOWNSTREAM,
    LineageDirection.BIDIRECTIONAL,
)


def build_graph(store: MetadataStore) -> None:
    a_type = store.put_artifact_type(ArtifactType(name="A"))
    e_type = store.put_execution_type(ExecutionType(name="E"))
    c_type = store.put_context_type(ContextType(name="C"))
    a1, a2, a3, a4 = store.put_artifacts(
        [Artifact(type_id=a_type, name=f"a{i}") for i in range(1, 5)]
    )
    e1, e2, e3 = store.put_executions(
        [Execution(type_id=e_type, name=f"e{i}") for i in range(1, 4)]
    )
    store.put_events(
        [
            Event(a1, e1, EventType.INPUT),
            Event(a2, e1, EventType.OUTPUT, path=["out", 0]),
            Event(a2, e2, EventType.INPUT),
            Event(a3, e2, EventType.OUTPUT),
            Event(a2, e3, EventType.INPUT),
            Event(a4, e3, EventType.DECLARED_OUTPUT),
        ]
    )
    [c] = store.put_contexts([Context(type_id=c_type, name="c")])
    store.put_attributions_and_associations([Attribution(c, a1)], [Association(c, e1)])


#: (label, options, artifacts, executions, contexts, number of events), from ml-metadata.
CASES = [
    ("down a1 2 hops", dict(starting_artifacts="name = 'a1'", max_num_hops=2, direction=DOWN),
     ["a1", "a2"], ["e1"], ["c"], 2),
    ("down a1 3 hops", dict(starting_artifacts="name = 'a1'", max_num_hops=3, direction=DOWN),
     ["a1", "a2"], ["e1", "e2", "e3"], ["c"], 4),
    ("up a3 4 hops", dict(starting_artifacts="name = 'a3'", max_num_hops=4, direction=UP),
     ["a1", "a2", "a3"], ["e1", "e2"], ["c"], 4),
    ("both a3 2 hops", dict(starting_artifacts="name = 'a3'", max_num_hops=2, direction=BOTH),
     ["a2", "a3"], ["e2"], [], 2),
    ("unspecified a3 3 hops", dict(starting_artifacts="name = 'a3'", max_num_hops=3,
     direction=LineageDirection.DIRECTION_UNSPECIFIED), ["a2", "a3"], ["e1", "e2", "e3"], ["c"], 4),
    ("0 hops", dict(starting_artifacts="name = 'a3'", max_num_hops=0), ["a3"], [], [], 0),
    ("no limit", dict(starting_artifacts="name = 'a3'"),
     ["a1", "a2", "a3", "a4"], ["e1", "e2", "e3"], ["c"], 6),
    ("from an execution", dict(starting_executions="name = 'e2'", max_num_hops=1),
     ["a2", "a3"], ["e2"], [], 2),
    ("ending excluded", dict(starting_artifacts="name = 'a1'", direction=DOWN,
     ending_artifacts="name = 'a2'"), ["a1"], ["e1"], ["c"], 1),
    ("ending included", dict(starting_artifacts="name = 'a1'", direction=DOWN,
     ending_artifacts="name = 'a2'", include_ending_nodes=True), ["a1", "a2"], ["e1"], ["c"], 2),
    ("ending execution", dict(starting_artifacts="name = 'a1'", direction=DOWN,
     ending_executions="name = 'e2'", include_ending_nodes=True),
     ["a1", "a2", "a4"], ["e1", "e2", "e3"], ["c"], 5),
    ("both, ending a2", dict(starting_artifacts="name = 'a3'", direction=BOTH,
     ending_artifacts="name = 'a2'"), ["a3"], ["e2"], [], 1),
]  # fmt: skip


@pytest.fixture
def store(database_url: str) -> Iterator[MetadataStore]:
    with metadb.connect(database_url) as opened:
        build_graph(opened)
        yield opened


def test_every_walk_matches_ml_metadata(store: MetadataStore):
    for label, options, artifacts, executions, contexts, events in CASES:
        graph = store.get_lineage_subgraph(LineageSubgraphQueryOptions(**options))  # type: ignore[arg-type]

        got = (
            sorted(a.name for a in graph.artifacts),
            sorted(e.name for e in graph.executions),
            sorted(c.name for c in graph.contexts),
            len(graph.events),
        )
        assert got == (artifacts, executions, contexts, events), label
        assert {t.name for t in graph.artifact_types} == ({"A"} if artifacts else set()), label


def test_events_keep_paths_and_a_field_mask_limits_the_result(store: MetadataStore):
    options = LineageSubgraphQueryOptions(starting_artifacts="name = 'a1'", max_num_hops=2)

    graph = store.get_lineage_subgraph(options, ["artifacts", "events"])

    assert sorted(a.name for a in graph.artifacts) == ["a1", "a2"]
    assert sorted(tuple(e.path) for e in graph.events) == [(), ("out", 0)]
    assert graph.executions == [] and graph.contexts == [] and graph.artifact_types == []
    with pytest.raises(InvalidArgumentError, match="field_mask_paths"):
        store.get_lineage_subgraph(options, ["artefacts"])


def test_a_walk_needs_exactly_one_kind_of_starting_nodes(store: MetadataStore):
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        store.get_lineage_subgraph(LineageSubgraphQueryOptions(max_num_hops=2))
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        store.get_lineage_subgraph(
            LineageSubgraphQueryOptions(starting_artifacts="id > 0", starting_executions="id > 0")
        )


def test_a_walk_starts_from_at_most_101_nodes_like_ml_metadata(store: MetadataStore):
    a_type = store.get_artifact_type("A").id
    store.put_artifacts([Artifact(type_id=a_type, name=f"extra{i}") for i in range(150)])

    graph = store.get_lineage_subgraph(
        LineageSubgraphQueryOptions(starting_artifacts="id > 0", max_num_hops=0)
    )

    assert sorted(a.id for a in graph.artifacts) == list(range(1, 102))
