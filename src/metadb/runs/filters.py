"""The run search filter: a JSON tree, validated into pydantic models.

A filter is one node; a node is an object with exactly one key::

    {"and": [node, ...]}            every child matches (at least one child)
    {"or": [node, ...]}             some child matches (at least one child)
    {"not": node}                   the child does not match

    {"key_exists": {"key": K}}                          the run has annotation K
    {"value_equals": {"key": K, "value": V}}            annotation K is V
    {"value_contains": {"key": K, "value_substring": S}}  annotation K contains S
    {"value_in": {"key": K, "values": [V, ...]}}        annotation K is one of the values

The same four leaves take ``"field"`` instead of ``"key"`` to test a run's own column:
``"name"``, ``"pipeline_name"``, ``"created_by"`` or ``"state"`` (``key_exists`` on a field:
the column is not null)::

    {"value_equals": {"field": "state", "value": "SUCCEEDED"}}

    {"time_range": {"field": "created_at" | "finished_at", "start_time": MS, "end_time": MS}}
        start_time <= time < end_time, in milliseconds since the epoch; either bound may be
        left out, not both. A run without a finished time never matches on finished_at.
    {"metric": {"name": N, "op": "<" | "<=" | "=" | ">=" | ">" | "!=", "value": X}}
        the run has metric N and its value compares so with X (a run without N never
        matches, also for "!=").

Every leaf is two-valued: a null column or a missing annotation is "does not match", so
``not`` selects exactly the runs its child does not.

:func:`parse_filter` raises :class:`~metadb.errors.InvalidArgumentError` naming the path of the
bad node, e.g. ``filter.and[1].value_in.values: List should have at least 1 item``.

A filter is bounded by :class:`~metadb.store.limits.QueryLimits`, as a ``filter_query`` is:
and/or/not nest at most ``max_depth`` deep, a filter has at most ``max_conditions`` leaves,
a ``value_in`` at most ``max_in_values`` values. Text must be valid Unicode without NUL
characters. Every annotation key and metric name that can be written
(:mod:`metadb.runs.checks`) can be named here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from metadb.errors import InvalidArgumentError
from metadb.runs.checks import text_rules
from metadb.store.limits import DEFAULT_QUERY_LIMITS, QueryLimits, exceeded

#: Run columns a leaf may test with "field"; each is a column of ``metadb_run``.
SYSTEM_FIELDS = ("name", "pipeline_name", "created_by", "state")
#: time_range fields and their columns.
TIME_FIELDS = {"created_at": "created_at_ms", "finished_at": "finished_at_ms"}
METRIC_OPS = ("<", "<=", "=", ">=", ">", "!=")
NODE_KINDS = (
    "and", "or", "not", "key_exists", "value_equals", "value_contains", "value_in",
    "time_range", "metric",
)  # fmt: skip

Key = Annotated[str, Field(min_length=1, max_length=255)]
SystemField = Literal["name", "pipeline_name", "created_by", "state"]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, allow_inf_nan=False
    )


class Target(_Model):
    """What a leaf tests: an annotation ``key`` or a run column ``field``, exactly one."""

    key: Key | None = None
    field: SystemField | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.key is None) == (self.field is None):
            raise ValueError('give exactly one of "key" (an annotation) or "field" (a run column)')
        return self


class KeyExists(Target):
    pass


class ValueEquals(Target):
    value: str


class ValueContains(Target):
    value_substring: str


class ValueIn(Target):
    values: list[str] = Field(min_length=1)


class TimeRange(_Model):
    field: Literal["created_at", "finished_at"]
    start_time: int | None = None
    end_time: int | None = None

    @model_validator(mode="after")
    def _bounded(self) -> TimeRange:
        if self.start_time is None and self.end_time is None:
            raise ValueError('give "start_time", "end_time" or both')
        return self


class MetricComparison(_Model):
    name: Key
    op: Literal["<", "<=", "=", ">=", ">", "!="]
    value: float


class AndNode(_Model):
    children: list[FilterNode] = Field(alias="and", min_length=1)


class OrNode(_Model):
    children: list[FilterNode] = Field(alias="or", min_length=1)


class NotNode(_Model):
    child: FilterNode = Field(alias="not")


class KeyExistsNode(_Model):
    key_exists: KeyExists


class ValueEqualsNode(_Model):
    value_equals: ValueEquals


class ValueContainsNode(_Model):
    value_contains: ValueContains


class ValueInNode(_Model):
    value_in: ValueIn


class TimeRangeNode(_Model):
    time_range: TimeRange


class MetricNode(_Model):
    metric: MetricComparison


def _node_kind(value: Any) -> str | None:
    """The one key of a node object (pydantic's discriminator); None for anything else."""
    if isinstance(value, BaseModel):  # serialising a validated tree
        return _TAGS.get(type(value))
    if isinstance(value, dict) and len(value) == 1:
        kind = next(iter(value))
        return kind if kind in NODE_KINDS else None
    return None


FilterNode = Annotated[
    Union[  # noqa: UP007 (pydantic needs the Union form for tagged members)
        Annotated[AndNode, Tag("and")],
        Annotated[OrNode, Tag("or")],
        Annotated[NotNode, Tag("not")],
        Annotated[KeyExistsNode, Tag("key_exists")],
        Annotated[ValueEqualsNode, Tag("value_equals")],
        Annotated[ValueContainsNode, Tag("value_contains")],
        Annotated[ValueInNode, Tag("value_in")],
        Annotated[TimeRangeNode, Tag("time_range")],
        Annotated[MetricNode, Tag("metric")],
    ],
    Discriminator(_node_kind, custom_error_type="bad_node", custom_error_message="bad node"),
]

_TAGS: dict[type[BaseModel], str] = {
    AndNode: "and", OrNode: "or", NotNode: "not", KeyExistsNode: "key_exists",
    ValueEqualsNode: "value_equals", ValueContainsNode: "value_contains",
    ValueInNode: "value_in", TimeRangeNode: "time_range", MetricNode: "metric",
}  # fmt: skip

for _model in (AndNode, OrNode, NotNode):
    _model.model_rebuild()

_ADAPTER: TypeAdapter[Any] = TypeAdapter(FilterNode)


def parse_filter(
    raw: dict[str, Any] | str | None, *, limits: QueryLimits = DEFAULT_QUERY_LIMITS
) -> Any | None:
    """The validated filter tree of ``raw`` (a dict, or its JSON text); None for no filter.

    Raises:
        InvalidArgumentError: not JSON, or a node of the wrong shape; the message names the
            path of each bad node. A filter over one of ``limits`` (nesting, leaves, values of
            a value_in); the message names the limit.

    Example::

        parse_filter({"and": [{"key_exists": {"key": "team"}},
                              {"value_equals": {"field": "state", "value": "FAILED"}}]})
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidArgumentError(f"the filter is not valid JSON: {exc}") from exc
        except RecursionError:
            raise InvalidArgumentError(
                f"the filter nests deeper than {limits.max_depth} and/or/not nodes (the limit)"
            ) from None
    check_bounds(raw, limits)
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise InvalidArgumentError(f"invalid run filter: {shown}") from None


def check_bounds(raw: Any, limits: QueryLimits = DEFAULT_QUERY_LIMITS) -> None:
    """Refuse a raw filter (parsed JSON) over ``limits``, without recursion: any nesting depth
    is refused cleanly, before pydantic walks it.

    Raises:
        InvalidArgumentError: naming the limit and the path where it was passed.
    """
    leaves = 0
    stack: list[tuple[Any, int, str]] = [(raw, 0, "filter")]
    while stack:
        node, depth, path = stack.pop()
        if depth > limits.max_depth:
            raise exceeded(
                f"{path}: and/or/not nest deeper than the limit",
                depth,
                limits.max_depth,
                "flatten the filter",
            )
        if not isinstance(node, dict) or len(node) != 1:
            _check_container_depth(node, path, limits)
            continue
        kind, body = next(iter(node.items()))
        if kind in ("and", "or") and isinstance(body, list):
            stack.extend((child, depth + 1, f"{path}.{kind}[{i}]") for i, child in enumerate(body))
        elif kind == "not":
            stack.append((body, depth + 1, f"{path}.not"))
        else:
            leaves += 1
            if leaves > limits.max_conditions:
                raise exceeded(
                    "filter: the number of conditions", leaves, limits.max_conditions,
                    "use value_in or split the search",
                )  # fmt: skip
            values = body.get("values") if kind == "value_in" and isinstance(body, dict) else None
            if isinstance(values, list) and len(values) > limits.max_in_values:
                raise exceeded(
                    f"{path}.value_in.values: the number of values", len(values),
                    limits.max_in_values, "split the search",
                )  # fmt: skip
            _check_container_depth(body, path, limits)


def check_text(what: str, value: str) -> None:
    """Refuse a string of a filter that no database can compare (see :mod:`metadb.runs.checks`)."""
    text_rules().check(what, value)


def _check_container_depth(value: Any, path: str, limits: QueryLimits) -> None:
    """Refuse JSON nested deeper than any filter node needs (a leaf's object is shallow), and
    text no database can compare (lone surrogates, NUL)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > 4:
            raise InvalidArgumentError(
                f"{path}: expected a filter node; found JSON nested deeper than a node's body"
            )
        if isinstance(item, str):
            check_text(f"{path}: a string", item)
        elif isinstance(item, dict):
            for key in item:
                check_text(f"{path}: a key", key)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def canonical(node: Any | None) -> str:
    """A stable text of a validated filter, the basis of page-token fingerprints."""
    if node is None:
        return ""
    dumped = _ADAPTER.dump_python(node, mode="json", by_alias=True, exclude_none=True)
    return json.dumps(dumped, sort_keys=True, separators=(",", ":"))


def _describe(error: Any) -> str:
    path = _path(error["loc"])
    if error["type"] == "bad_node":
        given = error.get("input")
        keys = sorted(given) if isinstance(given, dict) else None
        got = f"an object with keys {keys}" if keys is not None else f"{type(given).__name__}"
        return (
            f"{path}: expected an object with exactly one of the keys "
            f"{', '.join(NODE_KINDS)}; got {got}"
        )
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"{path}: {message}"


def _path(loc: tuple[Any, ...]) -> str:
    """``filter.and[0].value_equals.key`` from pydantic's location, whose tagged unions repeat
    each node's tag before its field of the same name."""
    path = "filter"
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != previous:
            path += f".{part}"
        previous = part
    return path
