"""Pipeline runs under ``/api/v1``: each route calls one :class:`~metadb.runs.store.RunStore`
method, with its semantics and errors (docs/runs.md).

==========  =====================================  =================================
method      path                                   RunStore call
==========  =====================================  =================================
POST        /api/v1/runs                           create_run (201)
GET         /api/v1/runs                           search_runs (filter as JSON text)
POST        /api/v1/runs/search                    search_runs (filter in the body)
GET         /api/v1/runs/{run_id}                  get_run (``?full=true``: the spec)
PUT         /api/v1/runs/{run_id}/state            update_run_state
DELETE      /api/v1/runs/{run_id}                  delete_run (``{}``)
PATCH       /api/v1/runs/{run_id}/annotations      set_annotations
DELETE      /api/v1/runs/{run_id}/annotations/KEY  delete_annotation (``{}``; KEY may hold /)
PATCH       /api/v1/runs/{run_id}/metrics          log_metrics
POST        /api/v1/runs/{run_id}/tasks            add_task (201)
GET         /api/v1/runs/{run_id}/tasks            list_tasks
PATCH       /api/v1/tasks/{task_id}                update_task
==========  =====================================  =================================

A delete answers 200 with an empty JSON object, as KFP's API (grpc-gateway) does.
Handlers are plain functions (FastAPI runs them in its thread pool, as the store is
synchronous) and raise the store's errors, which :mod:`metadb.api.errors` answers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from metadb.api.deps import RunsDep
from metadb.api.errors import ERROR_RESPONSES
from metadb.errors import InvalidArgumentError
from metadb.paging import DEFAULT_LIMIT, MAX_LIMIT, TOKEN_MAX_CHARS
from metadb.runs.store import RunStore
from metadb.wire.runs import (
    FILTER_SCHEMA,
    SORT_MAX_CHARS,
    SORT_PATTERN,
    AnnotationsOut,
    AnnotationsUpdate,
    Deleted,
    Int64,
    MetricsOut,
    MetricsUpdate,
    RunCreate,
    RunOut,
    RunPageOut,
    RunSearch,
    RunStateUpdate,
    TaskCreate,
    TaskListOut,
    TaskOut,
    TaskUpdate,
    parse_filter_text,
)

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=ERROR_RESPONSES)

# Any 64-bit id is looked up (an unknown one is a 404, as in the library); larger ones are a 400.
RunId = Annotated[Int64, Path(description="The run's id.")]
TaskId = Annotated[Int64, Path(description="The task's id.")]


@router.post("/runs", status_code=201, response_model=RunOut, summary="Create a run")
def create_run(body: RunCreate, runs: RunsDep) -> RunOut:
    """Create a run with its annotations and the two ``system/pipeline_run.*`` annotations."""
    fields = body.model_dump(exclude={"name"})
    return RunOut.from_entity(runs.create_run(body.name, **fields))


_FILTER_PARAMETER = {
    "name": "filter",
    "in": "query",
    "required": False,
    "description": 'One filter node as JSON text, e.g. {"value_equals": {"key": "team", '
    '"value": "vision"}}',
    # The JSON text's own schema: the filter tree, as POST /api/v1/runs/search takes it.
    "content": {"application/json": {"schema": FILTER_SCHEMA}},
}


@router.get(
    "/runs",
    response_model=RunPageOut,
    summary="List or search runs",
    openapi_extra={"parameters": [_FILTER_PARAMETER]},
)
def list_runs(
    runs: RunsDep,
    filter: Annotated[str | None, Query(include_in_schema=False)] = None,
    sort: Annotated[
        str, Query(max_length=SORT_MAX_CHARS, json_schema_extra={"pattern": SORT_PATTERN})
    ] = "created_at desc",
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="Runs per page.")] = None,
    page_token: Annotated[str | None, Query(max_length=TOKEN_MAX_CHARS)] = None,
    with_total: Annotated[bool, Query(description="Also count every matching run.")] = False,
    full: Annotated[bool, Query(description="Include each run's pipeline spec.")] = False,
    page_size: Annotated[
        int | None, Query(ge=1, le=MAX_LIMIT, deprecated=True, description="Use limit.")
    ] = None,
) -> RunPageOut:
    """The GET form of ``POST /api/v1/runs/search``, with the filter as JSON text."""
    try:
        tree = parse_filter_text(filter)
        search = RunSearch(
            filter=tree,
            sort=sort,
            limit=limit if limit is not None else (page_size or DEFAULT_LIMIT),
            page_token=page_token,
            with_total=with_total,
            full=full,
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidArgumentError(_first_problem(exc)) from None
    return _search(runs, search)


@router.post("/runs/search", response_model=RunPageOut, summary="Search runs")
def search_runs(body: RunSearch, runs: RunsDep) -> RunPageOut:
    """One page of the runs matching the JSON filter tree, in ``sort`` order; pass
    ``next_page_token`` back, with the same filter and sort, for the next page."""
    return _search(runs, body)


def _search(runs: RunStore, search: RunSearch) -> RunPageOut:
    page = runs.search_runs(
        search.filter,
        sort=search.sort,
        limit=search.limit,
        page_token=search.page_token,
        with_total=search.with_total,
        full=search.full,
    )
    return RunPageOut.from_entity(page)


@router.get("/runs/{run_id}", response_model=RunOut, summary="Get a run")
def get_run(
    run_id: RunId,
    runs: RunsDep,
    full: Annotated[bool, Query(description="Include the pipeline spec.")] = False,
) -> RunOut:
    return RunOut.from_entity(runs.get_run(run_id, full=full))


@router.put("/runs/{run_id}/state", response_model=RunOut, summary="Set a run's state")
def update_run_state(run_id: RunId, body: RunStateUpdate, runs: RunsDep) -> RunOut:
    run = runs.update_run_state(run_id, body.state, finished_at_ms=body.finished_at_ms)
    return RunOut.from_entity(run)


@router.delete("/runs/{run_id}", response_model=Deleted, summary="Delete a run")
def delete_run(run_id: RunId, runs: RunsDep) -> Deleted:
    """Delete the run with its annotations, metrics and tasks."""
    runs.delete_run(run_id)
    return Deleted()


@router.patch(
    "/runs/{run_id}/annotations", response_model=AnnotationsOut, summary="Set annotations"
)
def set_annotations(run_id: RunId, body: AnnotationsUpdate, runs: RunsDep) -> AnnotationsOut:
    """Insert or replace the given annotations; returns all of the run's annotations.
    Keys starting with ``system/`` are reserved (400)."""
    return AnnotationsOut(annotations=runs.set_annotations(run_id, body.annotations))


@router.delete(
    "/runs/{run_id}/annotations/{key:path}", response_model=Deleted, summary="Delete an annotation"
)
def delete_annotation(
    run_id: RunId,
    key: Annotated[str, Path(description="The annotation key (percent-encoded; may hold /).")],
    runs: RunsDep,
) -> Deleted:
    if "\x00" in key:  # PostgreSQL refuses NUL characters; no key can hold one
        raise InvalidArgumentError("annotation key must not contain NUL characters")
    runs.delete_annotation(run_id, key)
    return Deleted()


@router.patch("/runs/{run_id}/metrics", response_model=MetricsOut, summary="Log metrics")
def log_metrics(run_id: RunId, body: MetricsUpdate, runs: RunsDep) -> MetricsOut:
    """Insert or replace the given metrics; returns all of the run's metrics."""
    return MetricsOut(metrics=runs.log_metrics(run_id, body.metrics))


@router.post("/runs/{run_id}/tasks", status_code=201, response_model=TaskOut, summary="Add a task")
def add_task(run_id: RunId, body: TaskCreate, runs: RunsDep) -> TaskOut:
    fields = body.model_dump(exclude={"name"})
    return TaskOut.from_entity(runs.add_task(run_id, body.name, **fields))


@router.get("/runs/{run_id}/tasks", response_model=TaskListOut, summary="List a run's tasks")
def list_tasks(run_id: RunId, runs: RunsDep) -> TaskListOut:
    return TaskListOut(tasks=[TaskOut.from_entity(t) for t in runs.list_tasks(run_id)])


@router.patch("/tasks/{task_id}", response_model=TaskOut, summary="Update a task")
def update_task(task_id: TaskId, body: TaskUpdate, runs: RunsDep) -> TaskOut:
    """Change the given fields; a task moved to a terminal state without a finished time
    gets now."""
    return TaskOut.from_entity(runs.update_task(task_id, **body.model_dump()))


def _first_problem(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        problems = errors()
        if problems:
            first = problems[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            message = str(first.get("msg", "invalid value"))
            return f"{where}: {message}" if where else message
    return str(exc)
