"""get_lineage_subgraph: hops, direction, ending nodes and field masks, as ml-metadata walks.

The graph: a1 -input-> e1 -output-> a2 -input-> e2 -output-> a3, and a2 -input-> e3
-declared_output-> a4; context c holds a1 and e1. The expectations are what ml-metadata 1.17
returns for the same graph (tests/interop/test_lineage.py checks that on every database).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import metadb
from metadb.errors import InvalidArgumentError, NotFoundError
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
    lineage,
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


def test_each_field_of_the_mask_alone_is_what_the_whole_graph_has(store: MetadataStore):
    options = LineageSubgraphQueryOptions(starting_artifacts="name = 'a1'", max_num_hops=3)
    fields = ["artifacts", "executions", "contexts", "events"]
    fields += ["artifact_types", "execution_types", "context_types"]
    whole = store.get_lineage_subgraph(options)
    assert all(getattr(whole, field) for field in fields)

    for field in fields:
        graph = store.get_lineage_subgraph(options, [field])

        for other in fields:
            expected = getattr(whole, other) if other == field else []
            assert getattr(graph, other) == expected, (field, other)


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


#: A chain x0 -> r0 -> x1 -> ... -> r39 -> x40 (artifacts x, executions r), and from x20 two
#: branches through d1 and d2 that meet again at d3, which writes y3 and x25: paths of
#: different lengths between the same nodes, for walks both ways.
CHAIN = [
    *[(f"x{i}", f"r{i}", EventType.INPUT) for i in range(40)],
    *[(f"x{i + 1}", f"r{i}", EventType.OUTPUT) for i in range(40)],
    ("x20", "d1", EventType.DECLARED_INPUT), ("y1", "d1", EventType.OUTPUT),
    ("x20", "d2", EventType.INTERNAL_INPUT), ("y2", "d2", EventType.PENDING_OUTPUT),
    ("y1", "d3", EventType.INPUT), ("y2", "d3", EventType.INPUT),
    ("y3", "d3", EventType.INTERNAL_OUTPUT), ("x25", "d3", EventType.DECLARED_OUTPUT),
]  # fmt: skip
_INPUTS = {EventType.INPUT, EventType.DECLARED_INPUT, EventType.INTERNAL_INPUT}


def within_hops(start: str, direction: LineageDirection, max_num_hops: int | None) -> set[str]:
    """The nodes of CHAIN at most ``max_num_hops`` events away from ``start``, by definition:
    downstream from an artifact to the executions that read it and from an execution to the
    artifacts it wrote, upstream the other way round."""
    down, up = direction in (DOWN, BOTH), direction in (UP, BOTH)
    neighbours: dict[str, set[str]] = {}
    for artifact, execution, kind in CHAIN:
        read = kind in _INPUTS
        if (down and read) or (up and not read):
            neighbours.setdefault(artifact, set()).add(execution)
        if (down and not read) or (up and read):
            neighbours.setdefault(execution, set()).add(artifact)
    reached, frontier, hops = {start}, {start}, 0
    while frontier and (max_num_hops is None or hops < max_num_hops):
        frontier = {n for node in frontier for n in neighbours.get(node, ())} - reached
        reached |= frontier
        hops += 1
    return reached


@pytest.mark.parametrize(
    ("budget", "max_hops_per_query"),
    [(0, 100), (9, 100), (50, 100), (10**6, 7), (10**6, 100)],
    ids=["hop by hop", "budget 9", "budget 50", "7 hops per query", "one query"],
)
def test_every_way_of_walking_reaches_exactly_the_nodes_within_max_num_hops(
    database_url: str, monkeypatch: pytest.MonkeyPatch, budget: int, max_hops_per_query: int
):
    # How many hops a query walks depends on the frontier's width and these two limits.
    monkeypatch.setattr(lineage, "HOP_BUDGET", budget)
    monkeypatch.setattr(lineage, "MAX_HOPS_PER_QUERY", max_hops_per_query)
    with metadb.connect(database_url) as store:
        a_type = store.put_artifact_type(ArtifactType(name="A"))
        e_type = store.put_execution_type(ExecutionType(name="E"))
        artifacts = sorted({a for a, _, _ in CHAIN})
        executions = sorted({e for _, e, _ in CHAIN})
        a_ids = store.put_artifacts([Artifact(type_id=a_type, name=n) for n in artifacts])
        e_ids = store.put_executions([Execution(type_id=e_type, name=n) for n in executions])
        ids = dict(zip([*artifacts, *executions], [*a_ids, *e_ids], strict=True))
        store.put_events([Event(ids[a], ids[e], kind) for a, e, kind in CHAIN])

        for start in ("x0", "x20", "x40", "d3", "r10"):
            side = "starting_artifacts" if start[0] in "xy" else "starting_executions"
            for direction in (UP, DOWN, BOTH):
                for hops in (0, 1, 2, 3, 5, 9, 40, None):
                    options = LineageSubgraphQueryOptions(
                        **{side: f"name = '{start}'"}, direction=direction, max_num_hops=hops
                    )
                    graph = store.get_lineage_subgraph(options, ["artifacts", "executions"])
                    got = {n.name for n in [*graph.artifacts, *graph.executions]}
                    assert got == within_hops(start, direction, hops), (start, direction, hops)


def test_no_starting_node_is_not_found_like_ml_metadata(store: MetadataStore):
    with pytest.raises(NotFoundError, match="starting filter_query"):
        store.get_lineage_subgraph(LineageSubgraphQueryOptions(starting_artifacts="name = 'x'"))


def test_a_starting_node_that_is_an_ending_node_is_not_walked_from(store: MetadataStore):
    options = dict(starting_artifacts="name = 'a1'", max_num_hops=4, ending_artifacts="name = 'a1'")

    excluded = store.get_lineage_subgraph(LineageSubgraphQueryOptions(**options))  # type: ignore[arg-type]
    included = store.get_lineage_subgraph(
        LineageSubgraphQueryOptions(**options, include_ending_nodes=True)  # type: ignore[arg-type]
    )

    assert (excluded.artifacts, excluded.executions) == ([], [])
    assert ([a.name for a in included.artifacts], included.executions) == (["a1"], [])


def test_walks_stop_at_100_hops_even_without_a_limit(store: MetadataStore):
    a_type = store.get_artifact_type("A").id
    e_type = store.get_execution_type("E").id
    chain = store.put_artifacts([Artifact(type_id=a_type, name=f"c{i}") for i in range(80)])
    steps = store.put_executions([Execution(type_id=e_type, name=f"s{i}") for i in range(79)])
    store.put_events(
        [Event(chain[i], steps[i], EventType.INPUT) for i in range(79)]
        + [Event(chain[i + 1], steps[i], EventType.OUTPUT) for i in range(79)]
    )

    for hops in (None, 150):
        graph = store.get_lineage_subgraph(
            LineageSubgraphQueryOptions(starting_artifacts="name = 'c0'", max_num_hops=hops)
        )
        assert len(graph.artifacts) + len(graph.executions) == 101  # c0 and 100 hops
