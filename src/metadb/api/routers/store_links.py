"""Edges between nodes, lineage, and the writes of a whole execution or subgraph.

==================================================  =========================================
``POST /api/v1/events``                             put events (with paths)
``GET  /api/v1/events?execution_id=..``             events of executions (or ``artifact_id``)
``POST /api/v1/attributions_and_associations``      link artifacts and executions to contexts
``GET  /api/v1/contexts/{id}/artifacts``            artifacts attributed to a context
``GET  /api/v1/contexts/{id}/executions``           executions associated with a context
``GET  /api/v1/artifacts/{id}/contexts``            contexts of an artifact
``GET  /api/v1/executions/{id}/contexts``           contexts of an execution
``POST /api/v1/parent_contexts``                    put child -> parent links (no cycles)
``GET  /api/v1/contexts/{id}/parents``              parent contexts
``GET  /api/v1/contexts/{id}/children``             child contexts
``POST /api/v1/lineage:put_execution``              an execution with artifacts, events, contexts
``POST /api/v1/lineage:put_subgraph``               executions, artifacts, contexts and events
``POST /api/v1/lineage:query``                      the lineage subgraph around starting nodes
==================================================  =========================================
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from metadb.api.deps import StoreDep
from metadb.api.errors import ERROR_RESPONSES
from metadb.errors import InvalidArgumentError
from metadb.store import model as m
from metadb.wire import lineage as lin
from metadb.wire import store as s
from metadb.wire.fields import ID_MAX, Id

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

ContextId = Annotated[int, Path(ge=1, le=ID_MAX, description="the context's id")]
ArtifactId = Annotated[int, Path(ge=1, le=ID_MAX, description="the artifact's id")]
ExecutionId = Annotated[int, Path(ge=1, le=ID_MAX, description="the execution's id")]


# -- events --------------------------------------------------------------------------------


@router.post("/events", response_model=s.Done, operation_id="put_events", tags=["events"])
def put_events(body: s.PutEventsRequest, store: StoreDep) -> s.Done:
    """Insert events; an event that exists is a 409, a missing node a 400."""
    store.put_events([e.to_entity() for e in body.events])
    return s.Done()


@router.get("/events", response_model=s.EventList, operation_id="get_events", tags=["events"])
def get_events(
    store: StoreDep,
    execution_ids: Annotated[list[Id] | None, Query(alias="execution_id")] = None,
    artifact_ids: Annotated[list[Id] | None, Query(alias="artifact_id")] = None,
) -> s.EventList:
    """The events of the given executions, or of the given artifacts (give one of the two)."""
    if (execution_ids is None) == (artifact_ids is None):
        raise InvalidArgumentError("give execution_id or artifact_id (repeatable), not both")
    if execution_ids is not None:
        events = store.get_events_by_execution_ids(execution_ids)
    else:
        events = store.get_events_by_artifact_ids(artifact_ids or [])
    return s.EventList(items=[s.Event.from_entity(e) for e in events])


# -- contexts and their members ------------------------------------------------------------


@router.post("/attributions_and_associations", response_model=s.Done, tags=["contexts"],
             operation_id="put_attributions_and_associations")  # fmt: skip
def put_attributions_and_associations(
    body: s.PutAttributionsAndAssociationsRequest, store: StoreDep
) -> s.Done:
    """Link artifacts and executions to contexts; links that exist are kept (idempotent)."""
    store.put_attributions_and_associations(
        [m.Attribution(a.context_id, a.artifact_id) for a in body.attributions],
        [m.Association(a.context_id, a.execution_id) for a in body.associations],
    )
    return s.Done()


@router.get("/contexts/{context_id}/artifacts", response_model=s.ArtifactList,
            operation_id="get_artifacts_by_context", tags=["contexts"])  # fmt: skip
def get_artifacts_by_context(
    store: StoreDep, context_id: ContextId, query: Annotated[s.OrderQuery, Query()]
) -> s.ArtifactList:
    """Artifacts attributed to the context (none for an unknown context)."""
    found = store.get_artifacts_by_context(context_id, query.to_options())
    return s.ArtifactList(items=[s.Artifact.from_entity(a) for a in found])


@router.get("/contexts/{context_id}/executions", response_model=s.ExecutionList,
            operation_id="get_executions_by_context", tags=["contexts"])  # fmt: skip
def get_executions_by_context(
    store: StoreDep, context_id: ContextId, query: Annotated[s.OrderQuery, Query()]
) -> s.ExecutionList:
    """Executions associated with the context (none for an unknown context)."""
    found = store.get_executions_by_context(context_id, query.to_options())
    return s.ExecutionList(items=[s.Execution.from_entity(e) for e in found])


@router.get("/artifacts/{artifact_id}/contexts", response_model=s.ContextList,
            operation_id="get_contexts_by_artifact", tags=["contexts"])  # fmt: skip
def get_contexts_by_artifact(store: StoreDep, artifact_id: ArtifactId) -> s.ContextList:
    """Contexts the artifact is attributed to."""
    found = store.get_contexts_by_artifact(artifact_id)
    return s.ContextList(items=[s.Context.from_entity(c) for c in found])


@router.get("/executions/{execution_id}/contexts", response_model=s.ContextList,
            operation_id="get_contexts_by_execution", tags=["contexts"])  # fmt: skip
def get_contexts_by_execution(store: StoreDep, execution_id: ExecutionId) -> s.ContextList:
    """Contexts the execution is associated with."""
    found = store.get_contexts_by_execution(execution_id)
    return s.ContextList(items=[s.Context.from_entity(c) for c in found])


@router.post("/parent_contexts", response_model=s.Done, operation_id="put_parent_contexts",
             tags=["contexts"])  # fmt: skip
def put_parent_contexts(body: s.PutParentContextsRequest, store: StoreDep) -> s.Done:
    """Make contexts parents of others; a link that exists is a 409, a cycle a 400."""
    store.put_parent_contexts(
        [m.ParentContext(p.child_id, p.parent_id) for p in body.parent_contexts]
    )
    return s.Done()


@router.get("/contexts/{context_id}/parents", response_model=s.ContextList,
            operation_id="get_parent_contexts_by_context", tags=["contexts"])  # fmt: skip
def get_parent_contexts(store: StoreDep, context_id: ContextId) -> s.ContextList:
    """The context's parent contexts."""
    found = store.get_parent_contexts_by_context(context_id)
    return s.ContextList(items=[s.Context.from_entity(c) for c in found])


@router.get("/contexts/{context_id}/children", response_model=s.ContextList,
            operation_id="get_children_contexts_by_context", tags=["contexts"])  # fmt: skip
def get_children_contexts(store: StoreDep, context_id: ContextId) -> s.ContextList:
    """The context's child contexts."""
    found = store.get_children_contexts_by_context(context_id)
    return s.ContextList(items=[s.Context.from_entity(c) for c in found])


# -- lineage -------------------------------------------------------------------------------


@router.post("/lineage:put_execution", response_model=lin.PutExecutionResponse,
             operation_id="put_execution", tags=["lineage"])  # fmt: skip
def put_execution(body: lin.PutExecutionRequest, store: StoreDep) -> lin.PutExecutionResponse:
    """Put an execution, its artifacts and events and its contexts, in one transaction."""
    execution_id, artifact_ids, context_ids = store.put_execution(
        body.execution.to_entity(),
        [
            (pair.artifact.to_entity(), pair.event.to_entity() if pair.event else None)
            for pair in body.artifact_and_events
        ],
        [c.to_entity() for c in body.contexts],
        reuse_context_if_already_exist=body.reuse_context_if_already_exist,
        reuse_artifact_if_already_exist_by_external_id=(
            body.reuse_artifact_if_already_exist_by_external_id
        ),
    )
    return lin.PutExecutionResponse(
        execution_id=execution_id, artifact_ids=artifact_ids, context_ids=context_ids
    )


@router.post("/lineage:put_subgraph", response_model=lin.PutLineageSubgraphResponse,
             operation_id="put_lineage_subgraph", tags=["lineage"])  # fmt: skip
def put_lineage_subgraph(
    body: lin.PutLineageSubgraphRequest, store: StoreDep
) -> lin.PutLineageSubgraphResponse:
    """Put executions, artifacts, contexts and the events between them, in one transaction;
    every node is linked to every context."""
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        [e.to_entity() for e in body.executions],
        [a.to_entity() for a in body.artifacts],
        [c.to_entity() for c in body.contexts],
        [(e.execution_index, e.artifact_index, e.event.to_entity()) for e in body.event_edges],
        reuse_context_if_already_exist=body.reuse_context_if_already_exist,
        reuse_artifact_if_already_exist_by_external_id=(
            body.reuse_artifact_if_already_exist_by_external_id
        ),
    )
    return lin.PutLineageSubgraphResponse(
        execution_ids=execution_ids, artifact_ids=artifact_ids, context_ids=context_ids
    )


@router.post("/lineage:query", response_model=lin.LineageGraph,
             operation_id="get_lineage_subgraph", tags=["lineage"])  # fmt: skip
def get_lineage_subgraph(body: lin.LineageQuery, store: StoreDep) -> lin.LineageGraph:
    """The artifacts and executions reachable from the starting nodes (at most max_num_hops
    artifact-execution edges away), the events among them, their contexts and their types."""
    paths = list(body.field_mask_paths) if body.field_mask_paths is not None else None
    return lin.LineageGraph.from_entity(store.get_lineage_subgraph(body.to_options(), paths))
