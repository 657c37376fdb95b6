"""Lineage walks give what ml-metadata gives, on a graph ml-metadata wrote, on every database."""

from __future__ import annotations

from pathlib import Path

import metadb
from metadb.store import LineageSubgraphQueryOptions
from tests.interop.conftest import OPEN_STORE, mlmd_connection_config, run_mlmd
from tests.store.test_lineage import CASES

BUILD_AND_WALK = """
E = pb.Event
at = store.put_artifact_type(pb.ArtifactType(name="A"))
et = store.put_execution_type(pb.ExecutionType(name="E"))
ct = store.put_context_type(pb.ContextType(name="C"))
a1, a2, a3, a4 = store.put_artifacts([pb.Artifact(type_id=at, name=f"a{i}") for i in range(1, 5)])
e1, e2, e3 = store.put_executions([pb.Execution(type_id=et, name=f"e{i}") for i in range(1, 4)])
store.put_events([
    E(artifact_id=a1, execution_id=e1, type=E.INPUT),
    E(artifact_id=a2, execution_id=e1, type=E.OUTPUT),
    E(artifact_id=a2, execution_id=e2, type=E.INPUT),
    E(artifact_id=a3, execution_id=e2, type=E.OUTPUT),
    E(artifact_id=a2, execution_id=e3, type=E.INPUT),
    E(artifact_id=a4, execution_id=e3, type=E.DECLARED_OUTPUT),
])
[c] = store.put_contexts([pb.Context(type_id=ct, name="c")])
store.put_attributions_and_associations(
    [pb.Attribution(context_id=c, artifact_id=a1)], [pb.Association(context_id=c, execution_id=e1)])
Q = pb.LineageSubgraphQueryOptions
RESULT = []
for case in ARGS["cases"]:
    q = Q()
    if case.get("starting_artifacts") is not None:
        q.starting_artifacts.filter_query = case["starting_artifacts"]
    if case.get("starting_executions") is not None:
        q.starting_executions.filter_query = case["starting_executions"]
    if case.get("max_num_hops") is not None:
        q.max_num_hops = case["max_num_hops"]
    q.direction = case.get("direction", 0)
    for side in ("artifacts", "executions"):
        if case.get("ending_" + side) is not None:
            ending = getattr(q, "ending_" + side)
            ending.filter_query = case["ending_" + side]
            ending.include_ending_nodes = case.get("include_ending_nodes", False)
    g = store.get_lineage_subgraph(q, [])
    RESULT.append([sorted(x.name for x in g.artifacts), sorted(x.name for x in g.executions),
                   sorted(x.name for x in g.contexts), len(g.events)])
"""


def test_lineage_walks_match_ml_metadata(mlmd_python: Path, database_url: str):
    cases = [{k: int(v) if k == "direction" else v for k, v in c[1].items()} for c in CASES]
    expected = run_mlmd(
        mlmd_python,
        OPEN_STORE + BUILD_AND_WALK,
        config=mlmd_connection_config(database_url),
        cases=cases,
    )

    with metadb.connect(database_url) as store:
        for (label, options, *_), theirs in zip(CASES, expected, strict=True):
            graph = store.get_lineage_subgraph(LineageSubgraphQueryOptions(**options))  # type: ignore[arg-type]
            ours = [
                sorted(a.name for a in graph.artifacts),
                sorted(e.name for e in graph.executions),
                sorted(c.name for c in graph.contexts),
                len(graph.events),
            ]
            assert ours == theirs, label
