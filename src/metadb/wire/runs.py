"""Request and response models of the runs resources (``/api/v1/runs``, ``/api/v1/tasks``).

They mirror :class:`~metadb.runs.store.RunStore`'s arguments and the dataclasses of
:mod:`metadb.runs.model`; the store still checks every value (states, ``system/`` keys,
lengths in characters, finite metrics) and its errors become 400s. What the models add are the
bounds the databases impose (64-bit times, 32-bit MLMD ids, text without NUL characters or
lone surrogates, JSON integers in 64 bits inside a filter), so that bad input is refused with a
400 before it reaches a database that would fail on it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from metadb.paging import DEFAULT_LIMIT, MAX_LIMIT, TOKEN_MAX_CHARS
from metadb.runs.filters import FilterNode, check_bounds
from metadb.runs.model import STATES, Run, RunPage, Task
from metadb.wire.fields import INT32_MAX, INT64_MAX, INT64_MIN, STRICT, Name

#: A run or task state (KFP's).
State = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELING", "CANCELED",
                "PAUSED"]  # fmt: skip
assert set(State.__args__) == STATES  # type: ignore[attr-defined]

#: Largest pipeline spec, in characters: MySQL's MEDIUMTEXT holds 16 MiB of utf8mb4.
SPEC_MAX_CHARS = 4_000_000
#: Longest sort expression accepted (the longest page token is metadb.paging's).
SORT_MAX_CHARS = 300


def _check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode (it has a lone surrogate)") from exc
    return value


def _check_json(value: Any, *, bound_ints: bool = False, path: str = "") -> Any:
    """Every string (and key) storable; with ``bound_ints``, every integer in 64 bits."""
    if isinstance(value, str):
        try:
            _check_text(value)
        except ValueError as exc:
            raise ValueError(f"{path or 'value'}: {exc}") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, path=f"{path}.{key}" if path else str(key))
            _check_json(item, bound_ints=bound_ints, path=f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, bound_ints=bound_ints, path=f"{path}[{i}]")
    elif (
        bound_ints
        and isinstance(value, int)
        and not isinstance(value, bool)
        and not INT64_MIN <= value <= INT64_MAX
    ):
        raise ValueError(f"{path or 'value'}: {value} does not fit in 64 bits")
    return value


def _check_filter(value: Any) -> Any:
    check_bounds(value)  # first, without recursion: the query limits, any depth refused
    return _check_json(value, bound_ints=True, path="filter")


def parse_filter_text(text: str | None) -> dict[str, Any] | None:
    """The ``filter`` query parameter (JSON text) as a filter tree, checked as a body's is.

    Raises:
        ValueError: the text is not JSON or holds what no database stores.
    """
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"filter is not JSON: {exc}") from None
    except RecursionError:
        raise ValueError("filter nests deeper than the limit of the run filter") from None
    if not isinstance(value, dict):
        raise ValueError("filter must be a JSON object (one filter node)")
    checked: dict[str, Any] = _check_filter(value)
    return checked


#: Documents, in the OpenAPI schema, what ``_check_text`` enforces: no NUL characters.
NO_NUL = "^[^\\x00]*$"
_NO_NUL_DOC = Field(json_schema_extra={"pattern": NO_NUL})
#: What :meth:`metadb.runs.query.Sort.parse` accepts, as a pattern (it also takes any case
#: and extra spaces).
SORT_PATTERN = "^(created_at|name|metric:[^\\s\\x00]{1,255})( (asc|desc))?$"

Text = Annotated[str, AfterValidator(_check_text), _NO_NUL_DOC]
RunName = Annotated[Name, Field(min_length=1), _NO_NUL_DOC]
OptionalName = Annotated[Name, _NO_NUL_DOC]
# Keys are documented by _KEYS_DOC on the mapping (a pattern here would become
# patternProperties, which drops the other key bounds).
AnnotationKey = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_check_text)]
AnnotationValue = Annotated[str, Field(max_length=255), AfterValidator(_check_text), _NO_NUL_DOC]
MetricName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_check_text)]
_KEYS_DOC: dict[str, Any] = {"propertyNames": {"minLength": 1, "maxLength": 255, "pattern": NO_NUL}}
_ANNOTATION_KEYS_DOC: dict[str, Any] = {
    "propertyNames": {**_KEYS_DOC["propertyNames"], "not": {"pattern": "^system/"}}
}
#: Integer bounds as documented: a little inside 64 bits, because JSON tools hold big
#: numbers as doubles and round 2^63 - 1 up to 2^63. The server accepts all 64 bits.
DOCUMENTED_INT_BOUND = 9 * 10**18
_INT_DOC = Field(
    json_schema_extra={"minimum": -DOCUMENTED_INT_BOUND, "maximum": DOCUMENTED_INT_BOUND}
)


def _int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{value} does not fit in 64 bits")
    return value


#: A time in milliseconds since the epoch, or an id to look up: any 64-bit integer.
Int64 = Annotated[int, AfterValidator(_int64), _INT_DOC]
#: An MLMD context or execution id (32-bit INT columns).
MlmdId = Annotated[int, Field(ge=1, le=INT32_MAX)]
Spec = Annotated[str, Field(max_length=SPEC_MAX_CHARS), AfterValidator(_check_text), _NO_NUL_DOC]
JsonValue = Annotated[Any, AfterValidator(_check_json)]
Sort = Annotated[
    str,
    Field(max_length=SORT_MAX_CHARS),
    AfterValidator(_check_text),
    Field(json_schema_extra={"pattern": SORT_PATTERN}),
]
PageToken = Annotated[
    str, Field(max_length=TOKEN_MAX_CHARS), AfterValidator(_check_text), _NO_NUL_DOC
]


def _filter_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON schema of a filter tree, from :mod:`metadb.runs.filters`' own models, and its
    definitions renamed ``RunFilter*`` for the OpenAPI document's components (added by
    :func:`metadb.api.app.create_app`). Strings get the no-NUL pattern and integers 64-bit
    bounds, as :func:`_check_filter` enforces."""
    template = "#/components/schemas/RunFilter{model}"
    raw = TypeAdapter(FilterNode).json_schema(ref_template=template)
    definitions = {f"RunFilter{name}": body for name, body in raw.pop("$defs").items()}

    def constrain(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node and "const" not in node:
                node.setdefault("pattern", NO_NUL)
            if node.get("type") == "integer":
                node.setdefault("minimum", -DOCUMENTED_INT_BOUND)
                node.setdefault("maximum", DOCUMENTED_INT_BOUND)
            properties = node.get("properties", {})
            for name, prop in list(properties.items()):
                # "null or X, default null" reads as "X, or leave it out" (the same request).
                choices = prop.get("anyOf", []) if isinstance(prop, dict) else []
                if prop.get("default", "") is None and {"type": "null"} in choices:
                    [kept] = [c for c in choices if c != {"type": "null"}]
                    properties[name] = {**kept, "title": prop.get("title", name)}
            if {"key", "field"} <= set(properties):  # a leaf: exactly one of the two
                node["oneOf"] = [{"required": ["key"]}, {"required": ["field"]}]
            if {"start_time", "end_time"} <= set(properties):  # at least one bound
                node["anyOf"] = [{"required": ["start_time"]}, {"required": ["end_time"]}]
            for value in node.values():
                constrain(value)
        elif isinstance(node, list):
            for value in node:
                constrain(value)

    constrain(definitions)
    return raw, definitions


#: The filter tree's schema, and the components it refers to.
FILTER_SCHEMA, FILTER_COMPONENTS = _filter_schema()
FilterTree = Annotated[dict[str, Any], AfterValidator(_check_filter), WithJsonSchema(FILTER_SCHEMA)]


_RUN_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "name": "nightly-42",
    "state": "SUCCEEDED",
    "created_at_ms": 1700000000000,
    "updated_at_ms": 1700000360000,
    "pipeline_name": "trainer",
    "created_by": "ana",
    "finished_at_ms": 1700000360000,
    "mlmd_context_id": None,
    "extra_data": {"pipeline_name": "trainer"},
    "pipeline_spec": None,
    "annotations": {
        "team": "vision",
        "system/pipeline_run.created_by": "ana",
        "system/pipeline_run.name": "trainer",
    },
    "metrics": {"accuracy": 0.93},
    "tasks": [],
}


class _Request(BaseModel):
    """Base of the request bodies: strict (:data:`metadb.wire.fields.STRICT`); a subclass's
    ``model_config`` adds to this one."""

    model_config = STRICT


class RunCreate(_Request):
    """A new run: :meth:`RunStore.create_run`'s arguments."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "nightly-42",
                    "created_by": "ana",
                    "state": "RUNNING",
                    "extra_data": {"pipeline_name": "trainer"},
                    "annotations": {"team": "vision"},
                }
            ]
        },
    )

    name: RunName
    pipeline_name: OptionalName | None = Field(
        default=None,
        description="Defaults to extra_data's pipeline_name, else the spec's name.",
    )
    created_by: OptionalName | None = None
    state: State = "PENDING"
    pipeline_spec: Spec | dict[str, JsonValue] | None = Field(
        default=None, description="The spec as text, or a JSON object (stored as its text)."
    )
    extra_data: JsonValue = Field(default=None, description="Any JSON value.")
    mlmd_context_id: MlmdId | None = None
    annotations: dict[AnnotationKey, AnnotationValue] = Field(
        default_factory=dict,
        description="Keys starting with system/ are reserved.",
        json_schema_extra=_ANNOTATION_KEYS_DOC,
    )
    created_at_ms: Int64 | None = Field(default=None, description="Defaults to now.")
    finished_at_ms: Int64 | None = Field(
        default=None, description="Defaults to now for a terminal state."
    )


class RunStateUpdate(_Request):
    """:meth:`RunStore.update_run_state`: a terminal state sets the finished time to now
    unless ``finished_at_ms`` is given; any other state clears it."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"state": "SUCCEEDED"}]}
    )

    state: State
    finished_at_ms: Int64 | None = None


class AnnotationsUpdate(_Request):
    """Annotations to insert or replace (the others stay)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"annotations": {"team": "vision"}}]}
    )

    annotations: dict[AnnotationKey, AnnotationValue] = Field(
        json_schema_extra=_ANNOTATION_KEYS_DOC
    )


class MetricsUpdate(_Request):
    """Metrics to insert or replace (finite numbers; the others stay)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"metrics": {"accuracy": 0.93, "loss": 0.21}}]},
    )

    metrics: dict[MetricName, float] = Field(json_schema_extra=_KEYS_DOC)


class TaskCreate(_Request):
    """:meth:`RunStore.add_task`'s arguments."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "train", "state": "RUNNING"}]},
    )

    name: RunName
    state: State = "PENDING"
    started_at_ms: Int64 | None = None
    finished_at_ms: Int64 | None = None
    mlmd_execution_id: MlmdId | None = None


class TaskUpdate(_Request):
    """:meth:`RunStore.update_task`: a field left out (or null) stays as it is."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"state": "SUCCEEDED"}]}
    )

    state: State | None = None
    started_at_ms: Int64 | None = None
    finished_at_ms: Int64 | None = None
    mlmd_execution_id: MlmdId | None = None


class RunSearch(_Request):
    """:meth:`RunStore.search_runs`: the JSON filter tree (docs/runs.md), sort and page."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "filter": {
                        "and": [
                            {"value_equals": {"key": "team", "value": "vision"}},
                            {"metric": {"name": "accuracy", "op": ">=", "value": 0.9}},
                        ]
                    },
                    "sort": "metric:accuracy desc",
                    "limit": 50,
                }
            ]
        },
    )

    filter: FilterTree | None = Field(default=None, description="One filter node; none: all.")
    sort: Sort = Field(
        default="created_at desc",
        description="created_at, name or metric:<name>, then asc or desc.",
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Runs per page.")
    page_token: PageToken | None = Field(
        default=None, description="The previous page's next_page_token (same filter and sort)."
    )
    with_total: bool = Field(default=False, description="Also count every matching run.")
    full: bool = Field(default=False, description="Include each run's pipeline spec.")

    @model_validator(mode="before")
    @classmethod
    def _page_size_is_limit(cls, data: Any) -> Any:
        """``page_size``, the former name of ``limit``, is still read (deprecated)."""
        if isinstance(data, dict) and "page_size" in data and "limit" not in data:
            data = {("limit" if k == "page_size" else k): v for k, v in data.items()}
        return data


class TaskOut(BaseModel):
    """A task of a run (:class:`metadb.runs.Task`)."""

    id: int
    run_id: int
    name: str
    state: str
    started_at_ms: int | None = None
    finished_at_ms: int | None = None
    mlmd_execution_id: int | None = None

    @classmethod
    def from_entity(cls, task: Task) -> TaskOut:
        return cls.model_validate(task.as_dict())

    def to_entity(self) -> Task:
        return Task(**self.model_dump())


class RunOut(BaseModel):
    """A run with its annotations, metrics and tasks (:class:`metadb.runs.Run`);
    ``pipeline_spec`` only in the full view."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RUN_EXAMPLE]})

    id: int
    name: str
    state: str
    created_at_ms: int
    updated_at_ms: int
    pipeline_name: str | None = None
    created_by: str | None = None
    finished_at_ms: int | None = None
    mlmd_context_id: int | None = None
    extra_data: Any = None
    pipeline_spec: str | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    tasks: list[TaskOut] = Field(default_factory=list)

    @classmethod
    def from_entity(cls, run: Run) -> RunOut:
        return cls.model_validate(run.as_dict())

    def to_entity(self) -> Run:
        data = self.model_dump()
        data["tasks"] = [t.to_entity() for t in self.tasks]
        return Run(**data)


class RunPageOut(BaseModel):
    """One page of a search (:class:`metadb.runs.RunPage`), in every listing's envelope."""

    items: list[RunOut]
    next_page_token: str | None = Field(default=None, description="None on the last page.")
    total_size: int | None = Field(default=None, description="Only when with_total was asked.")

    @classmethod
    def from_entity(cls, page: RunPage) -> RunPageOut:
        return cls.model_validate(page.as_dict())

    def to_entity(self) -> RunPage:
        return RunPage([r.to_entity() for r in self.items], self.next_page_token, self.total_size)


class AnnotationsOut(BaseModel):
    """All of the run's annotations after the change."""

    annotations: dict[str, str]


class MetricsOut(BaseModel):
    """All of the run's metrics after the change."""

    metrics: dict[str, float]


class TaskListOut(BaseModel):
    """The run's tasks in the order they were added."""

    tasks: list[TaskOut]


class Deleted(BaseModel):
    """The answer to a delete: an empty object (as KFP's API answers)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})
