"""Checks of the arguments of :class:`~metadb.runs.store.RunStore` calls, before any I/O.

Each raises :class:`~metadb.errors.InvalidArgumentError` naming the argument. Lengths are in
characters, as the columns count them (VARCHAR(255) on PostgreSQL and utf8mb4 MySQL), so 255
multi-byte characters are accepted everywhere. Text holds no NUL characters and no lone
surrogates on any database (PostgreSQL stores neither; one rule keeps runs portable).

Names that a sort or filter refers to (metric names, annotation keys) hold no whitespace or
control characters: a sort is ``metric:<name> desc``, split on whitespace, so every name that
can be written can also be sorted and filtered by.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from metadb.errors import InvalidArgumentError
from metadb.runs import system
from metadb.runs.model import STATES
from metadb.store.limits import TextRules, check_finite, check_int64

#: Runs text everywhere: no NUL (PostgreSQL), no lone surrogates, specs within MEDIUMTEXT.
_TEXT = TextRules(accepts_nul=False, max_bytes={"spec": 16_777_215}, database="metadb")
#: How deep extra_data may nest (MySQL's JSON type stops at 100 levels).
JSON_MAX_DEPTH = 64


def text_rules() -> TextRules:
    """The text rules of the runs tables (the same on every database)."""
    return _TEXT


def text(what: str, value: Any, *, required: bool = False, column: str = "text") -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, not {type(value).__name__}")
    if required and not value:
        raise InvalidArgumentError(f"{what} must not be empty")
    if column != "spec" and len(value) > system.VALUE_LIMIT:
        raise InvalidArgumentError(
            f"{what} is {len(value)} characters long; the limit is {system.VALUE_LIMIT}"
        )
    _TEXT.check(what, value, column=column)


def sortable_name(what: str, name: Any) -> None:
    """A metric name or annotation key: text, not empty, no whitespace or control characters
    (so that ``sort="metric:<name> desc"`` and filters can name it)."""
    text(what, name, required=True)
    bad = next((i for i, ch in enumerate(name) if ch.isspace() or not ch.isprintable()), None)
    if bad is not None:
        raise InvalidArgumentError(
            f"{what} {name!r} has {name[bad]!r} at position {bad + 1}: names of metrics and "
            "annotation keys may not hold whitespace or control characters (a sort such as "
            "'metric:<name> desc' could not name them); use '_' or '-'"
        )


def user_key(key: Any) -> None:
    sortable_name("annotation key", key)
    if system.is_system_key(key):
        raise InvalidArgumentError(
            f"annotation key {key!r} is reserved: keys starting with {system.SYSTEM_PREFIX!r} "
            "(in any case) are set by metadb; choose another key"
        )


def annotation_map(values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        user_key(key)
        if not isinstance(value, str):
            raise InvalidArgumentError(f"the value of annotation {key!r} must be a string")
        text(f"the value of annotation {key!r}", value)


def metrics(values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        sortable_name("metric name", name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgumentError(f"metric {name!r} must be a number, not {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int past a double's range
            finite = False
        if not finite:
            raise InvalidArgumentError(
                f"metric {name!r} must be finite, not {value!r:.40}: NaN and Infinity cannot "
                "be stored or sorted by"
            )


def state(value: Any) -> None:
    if value not in STATES:
        raise InvalidArgumentError(f"state must be one of {sorted(STATES)}, not {value!r}")


def millis(what: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(f"{what} must be milliseconds since the epoch (an integer)")
    check_int64(what, value)
    return value


def optional_id(what: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(f"{what} must be an integer id, not {value!r}")
    if value is not None and not -(2**31) <= value < 2**31:  # ml-metadata's INT id columns
        raise InvalidArgumentError(f"{what}: {value} does not fit ml-metadata's 32-bit ids")


def json_value(value: Any, what: str = "extra_data") -> None:
    """Raise unless ``value`` is JSON that every database stores: finite numbers, integers in
    64 bits, storable text, at most :data:`JSON_MAX_DEPTH` levels (checked without
    recursion, so any depth is refused cleanly)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth >= JSON_MAX_DEPTH:
                raise InvalidArgumentError(
                    f"{what} nests deeper than {JSON_MAX_DEPTH} levels of objects and arrays"
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, (str, int, float, bool)) and key is not None:
                        raise InvalidArgumentError(f"{what} must be JSON: key {key!r:.40}")
                    _TEXT.check(f"{what}: a key", key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _TEXT.check(f"{what}: a string", item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            check_int64(f"{what}: a number", item)
        elif isinstance(item, float):
            check_finite(f"{what}: a number", item)
        else:
            raise InvalidArgumentError(
                f"{what} must be JSON: {type(item).__name__} is not a JSON value"
            )


def spec_text(spec: str | Mapping[str, Any] | None) -> str | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        text("pipeline_spec", spec, column="spec")
        return spec
    if isinstance(spec, Mapping):
        json_value(dict(spec), "pipeline_spec")
        spec = json.dumps(dict(spec))
        text("pipeline_spec", spec, column="spec")
        return spec
    raise InvalidArgumentError(
        f"pipeline_spec must be text or a mapping, not {type(spec).__name__}"
    )
