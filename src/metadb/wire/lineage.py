"""Wire models of the lineage calls: put_execution, put_lineage_subgraph, get_lineage_subgraph.

Built from the node and event models of :mod:`metadb.wire.store`.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from metadb.store import model as m
from metadb.wire.fields import INT64_MAX, Text
from metadb.wire.store import (
    Artifact,
    ArtifactType,
    Context,
    ContextType,
    DirectionName,
    Event,
    Execution,
    ExecutionType,
    GraphField,
    Wire,
)


class PutExecutionResponse(Wire):
    execution_id: int
    artifact_ids: list[int]
    context_ids: list[int]


class PutLineageSubgraphResponse(Wire):
    execution_ids: list[int]
    artifact_ids: list[int]
    context_ids: list[int]


class ArtifactAndEvent(Wire):
    artifact: Artifact
    event: Event | None = Field(None, description="its artifact_id and execution_id are filled in")


class PutExecutionRequest(Wire):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "execution": {"type_id": 11, "last_known_state": "COMPLETE"},
                    "artifact_and_events": [
                        {"artifact": {"type_id": 10, "uri": "s3://b/model"},
                         "event": {"type": "OUTPUT", "path": ["model", 0]}},
                    ],
                    "contexts": [{"type_id": 12, "name": "run-1"}],
                    "reuse_context_if_already_exist": True,
                }
            ]
        }
    )  # fmt: skip

    execution: Execution
    artifact_and_events: list[ArtifactAndEvent] = Field(default_factory=list)
    contexts: list[Context] = Field(default_factory=list)
    reuse_context_if_already_exist: bool = False
    reuse_artifact_if_already_exist_by_external_id: bool = False


class EventEdge(Wire):
    execution_index: int | None = Field(None, ge=0, description="index into executions")
    artifact_index: int | None = Field(None, ge=0, description="index into artifacts")
    event: Event


class PutLineageSubgraphRequest(Wire):
    executions: list[Execution] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    contexts: list[Context] = Field(default_factory=list)
    event_edges: list[EventEdge] = Field(default_factory=list)
    reuse_context_if_already_exist: bool = False
    reuse_artifact_if_already_exist_by_external_id: bool = False

    @model_validator(mode="after")
    def _indexes_in_range(self) -> PutLineageSubgraphRequest:
        for i, edge in enumerate(self.event_edges):
            if edge.execution_index is not None and edge.execution_index >= len(self.executions):
                raise ValueError(
                    f"event_edges[{i}].execution_index {edge.execution_index} is out of range "
                    f"({len(self.executions)} executions)"
                )
            if edge.artifact_index is not None and edge.artifact_index >= len(self.artifacts):
                raise ValueError(
                    f"event_edges[{i}].artifact_index {edge.artifact_index} is out of range "
                    f"({len(self.artifacts)} artifacts)"
                )
        return self


class LineageQuery(Wire):
    """ml-metadata's LineageSubgraphQueryOptions and the field mask of GetLineageSubgraph."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "starting_artifacts": "uri = 's3://b/model'",
                    "max_num_hops": 4,
                    "direction": "UPSTREAM",
                    "field_mask_paths": ["artifacts", "executions", "events"],
                }
            ]
        }
    )

    starting_artifacts: Text | None = Field(None, description="filter_query on artifacts")
    starting_executions: Text | None = Field(None, description="filter_query on executions")
    max_num_hops: int | None = Field(None, ge=0, le=INT64_MAX, description="capped at 100")
    direction: DirectionName = "BIDIRECTIONAL"
    ending_artifacts: Text | None = None
    ending_executions: Text | None = None
    include_ending_nodes: bool = False
    field_mask_paths: list[GraphField] | None = None

    def to_options(self) -> m.LineageSubgraphQueryOptions:
        return m.LineageSubgraphQueryOptions(
            starting_artifacts=self.starting_artifacts,
            starting_executions=self.starting_executions,
            max_num_hops=self.max_num_hops,
            direction=m.LineageDirection[self.direction],
            ending_artifacts=self.ending_artifacts,
            ending_executions=self.ending_executions,
            include_ending_nodes=self.include_ending_nodes,
        )

    @classmethod
    def from_options(
        cls, options: m.LineageSubgraphQueryOptions, field_mask_paths: list[str] | None
    ) -> LineageQuery:
        return cls.model_validate(
            {
                "starting_artifacts": options.starting_artifacts,
                "starting_executions": options.starting_executions,
                "max_num_hops": options.max_num_hops,
                "direction": m.LineageDirection(options.direction).name,
                "ending_artifacts": options.ending_artifacts,
                "ending_executions": options.ending_executions,
                "include_ending_nodes": options.include_ending_nodes,
                "field_mask_paths": field_mask_paths,
            }
        )


class LineageGraph(Wire):
    artifacts: list[Artifact] = Field(default_factory=list)
    executions: list[Execution] = Field(default_factory=list)
    contexts: list[Context] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    artifact_types: list[ArtifactType] = Field(default_factory=list)
    execution_types: list[ExecutionType] = Field(default_factory=list)
    context_types: list[ContextType] = Field(default_factory=list)

    def to_entity(self) -> m.LineageGraph:
        return m.LineageGraph(
            artifacts=[a.to_entity() for a in self.artifacts],
            executions=[e.to_entity() for e in self.executions],
            contexts=[c.to_entity() for c in self.contexts],
            events=[e.to_entity() for e in self.events],
            artifact_types=[t.to_entity() for t in self.artifact_types],
            execution_types=[t.to_entity() for t in self.execution_types],
            context_types=[t.to_entity() for t in self.context_types],
        )

    @classmethod
    def from_entity(cls, g: m.LineageGraph) -> LineageGraph:
        return cls(
            artifacts=[Artifact.from_entity(a) for a in g.artifacts],
            executions=[Execution.from_entity(e) for e in g.executions],
            contexts=[Context.from_entity(c) for c in g.contexts],
            events=[Event.from_entity(e) for e in g.events],
            artifact_types=[ArtifactType.from_entity(t) for t in g.artifact_types],
            execution_types=[ExecutionType.from_entity(t) for t in g.execution_types],
            context_types=[ContextType.from_entity(t) for t in g.context_types],
        )
