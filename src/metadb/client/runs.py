"""The runs half of the client: :class:`~metadb.runs.RunStore`'s methods over the REST API.

Same names, arguments, return types (:class:`~metadb.runs.Run`, :class:`~metadb.runs.Task`,
:class:`~metadb.runs.RunPage`) and errors as the embedded run store, so a program moves between
the two by changing the line that makes ``runs``::

    runs = metadb.runs.connect("sqlite:///metadb.sqlite")       # embedded
    runs = metadb.client.Client("http://metadb:8080")           # remote, same calls

Requests travel as the server's own models (:mod:`metadb.wire.runs`); a value they
refuse (a time beyond 64 bits, text with a NUL character) is an InvalidArgumentError raised
before anything is sent, as the server would answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from metadb.client._http import HttpTransport, build_request
from metadb.errors import InvalidArgumentError
from metadb.paging import DEFAULT_LIMIT, check_limit
from metadb.runs import checks as check
from metadb.runs.model import Run, RunPage, Task
from metadb.wire import runs as s

T = TypeVar("T")


def _body(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


class RunsMethods:
    """:class:`~metadb.runs.RunStore`'s API over HTTP; mixed into ``metadb.client.Client``.

    Each method's docstring names its route and the run store method whose semantics it
    shares; every method can also raise the transport's errors (see :mod:`metadb.client`).
    """

    _http: HttpTransport

    def create_run(
        self,
        name: str,
        *,
        pipeline_name: str | None = None,
        created_by: str | None = None,
        state: str = "PENDING",
        pipeline_spec: str | Mapping[str, Any] | None = None,
        extra_data: Any = None,
        mlmd_context_id: int | None = None,
        annotations: Mapping[str, str] | None = None,
        created_at_ms: int | None = None,
        finished_at_ms: int | None = None,
    ) -> Run:
        """Create a run (``POST /api/v1/runs``). See :meth:`RunStore.create_run`."""
        check.json_value(extra_data)  # the store's own check (NaN would travel as null)
        body = build_request(
            lambda: s.RunCreate.model_validate(
                {
                    "name": name,
                    "pipeline_name": pipeline_name,
                    "created_by": created_by,
                    "state": state,
                    "pipeline_spec": (
                        dict(pipeline_spec) if isinstance(pipeline_spec, Mapping) else pipeline_spec
                    ),
                    "extra_data": extra_data,
                    "mlmd_context_id": mlmd_context_id,
                    "annotations": dict(annotations or {}),
                    "created_at_ms": created_at_ms,
                    "finished_at_ms": finished_at_ms,
                }
            )
        )
        answer = self._http.request("POST", "/api/v1/runs", json=_body(body))
        return s.RunOut.model_validate(answer).to_entity()

    def get_run(self, run_id: int, *, full: bool = False) -> Run:
        """The run (``GET /api/v1/runs/{id}``). See :meth:`RunStore.get_run`."""
        answer = self._http.request("GET", f"/api/v1/runs/{_id(run_id)}", params={"full": full})
        return s.RunOut.model_validate(answer).to_entity()

    def update_run_state(
        self, run_id: int, state: str, *, finished_at_ms: int | None = None
    ) -> Run:
        """Set the run's state (``PUT /api/v1/runs/{id}/state``)."""
        body = build_request(
            lambda: s.RunStateUpdate.model_validate(
                {"state": state, "finished_at_ms": finished_at_ms}
            )
        )
        answer = self._http.request("PUT", f"/api/v1/runs/{_id(run_id)}/state", json=_body(body))
        return s.RunOut.model_validate(answer).to_entity()

    def delete_run(self, run_id: int) -> None:
        """Delete the run (``DELETE /api/v1/runs/{id}``)."""
        self._http.request("DELETE", f"/api/v1/runs/{_id(run_id)}")

    def set_annotations(self, run_id: int, annotations: Mapping[str, str]) -> dict[str, str]:
        """Insert or replace annotations (``PATCH /api/v1/runs/{id}/annotations``)."""
        body = build_request(
            lambda: s.AnnotationsUpdate.model_validate({"annotations": dict(annotations)})
        )
        answer = self._http.request(
            "PATCH", f"/api/v1/runs/{_id(run_id)}/annotations", json=_body(body)
        )
        return s.AnnotationsOut.model_validate(answer).annotations

    def delete_annotation(self, run_id: int, key: str) -> None:
        """Delete one annotation (``DELETE /api/v1/runs/{id}/annotations/{key}``)."""
        if not isinstance(key, str) or not key:
            # An empty key would name the collection, not an annotation.
            raise InvalidArgumentError("annotation key must not be empty")
        path = f"/api/v1/runs/{_id(run_id)}/annotations/{quote(key, safe='')}"
        self._http.request("DELETE", path)

    def log_metrics(self, run_id: int, metrics: Mapping[str, float]) -> dict[str, float]:
        """Insert or replace metrics (``PATCH /api/v1/runs/{id}/metrics``). Non-finite values
        are refused before sending (JSON has no NaN or infinity)."""
        values = dict(metrics)
        check.metrics(values)  # the store's own check: JSON cannot carry NaN or infinity
        body = build_request(lambda: s.MetricsUpdate.model_validate({"metrics": values}))
        answer = self._http.request(
            "PATCH", f"/api/v1/runs/{_id(run_id)}/metrics", json=_body(body)
        )
        return s.MetricsOut.model_validate(answer).metrics

    def add_task(
        self,
        run_id: int,
        name: str,
        *,
        state: str = "PENDING",
        started_at_ms: int | None = None,
        finished_at_ms: int | None = None,
        mlmd_execution_id: int | None = None,
    ) -> Task:
        """Add a task to the run (``POST /api/v1/runs/{id}/tasks``)."""
        body = build_request(
            lambda: s.TaskCreate.model_validate(
                {
                    "name": name,
                    "state": state,
                    "started_at_ms": started_at_ms,
                    "finished_at_ms": finished_at_ms,
                    "mlmd_execution_id": mlmd_execution_id,
                }
            )
        )
        answer = self._http.request("POST", f"/api/v1/runs/{_id(run_id)}/tasks", json=_body(body))
        return s.TaskOut.model_validate(answer).to_entity()

    def update_task(
        self,
        task_id: int,
        *,
        state: str | None = None,
        started_at_ms: int | None = None,
        finished_at_ms: int | None = None,
        mlmd_execution_id: int | None = None,
    ) -> Task:
        """Change the given fields of a task (``PATCH /api/v1/tasks/{id}``)."""
        body = build_request(
            lambda: s.TaskUpdate.model_validate(
                {
                    "state": state,
                    "started_at_ms": started_at_ms,
                    "finished_at_ms": finished_at_ms,
                    "mlmd_execution_id": mlmd_execution_id,
                }
            )
        )
        answer = self._http.request("PATCH", f"/api/v1/tasks/{_id(task_id)}", json=_body(body))
        return s.TaskOut.model_validate(answer).to_entity()

    def list_tasks(self, run_id: int) -> list[Task]:
        """The run's tasks (``GET /api/v1/runs/{id}/tasks``)."""
        answer = self._http.request("GET", f"/api/v1/runs/{_id(run_id)}/tasks")
        return [t.to_entity() for t in s.TaskListOut.model_validate(answer).tasks]

    def search_runs(
        self,
        filter: Mapping[str, Any] | str | None = None,
        *,
        sort: str = "created_at desc",
        limit: int = DEFAULT_LIMIT,
        page_token: str | None = None,
        with_total: bool = False,
        full: bool = False,
    ) -> RunPage:
        """One page of matching runs (``POST /api/v1/runs/search``). A filter given as JSON
        text is parsed here; see :meth:`RunStore.search_runs`."""
        tree = _filter_tree(filter)
        body = build_request(
            lambda: s.RunSearch.model_validate(
                {
                    "filter": tree,
                    "sort": sort,
                    "limit": check_limit(limit),
                    "page_token": page_token,
                    "with_total": with_total,
                    "full": full,
                }
            )
        )
        answer = self._http.request("POST", "/api/v1/runs/search", json=_body(body))
        return s.RunPageOut.model_validate(answer).to_entity()


def _id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"an id must be an integer, not {value!r}")
    return value


def _filter_tree(value: Mapping[str, Any] | str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return s.parse_filter_text(value)
        except ValueError as exc:
            raise InvalidArgumentError(f"invalid run filter: {exc}") from None
    return dict(value)
