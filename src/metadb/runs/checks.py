"""Checks of the arguments of :class:`~metadb.runs.store.RunStore` calls, before any I/O.

Each raises :class:`~metadb.errors.InvalidArgumentError` naming the argument. Lengths are in
characters, as the columns count them (VARCHAR(255) on PostgreSQL and utf8mb4 MySQL), so 255
multi-byte characters are accepted everywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from metadb.errors import InvalidArgumentError
from metadb.runs import system
from metadb.runs.model import STATES


def text(what: str, value: Any, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, not {type(value).__name__}")
    if required and not value:
        raise InvalidArgumentError(f"{what} must not be empty")
    if len(value) > system.VALUE_LIMIT:
        raise InvalidArgumentError(
            f"{what} is {len(value)} characters long; the limit is {system.VALUE_LIMIT}"
        )


def user_key(key: Any) -> None:
    text("annotation key", key, required=True)
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
        text("metric name", name, required=True)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgumentError(f"metric {name!r} must be a number, not {value!r}")
        if not math.isfinite(value):
            raise InvalidArgumentError(f"metric {name!r} must be finite, not {value!r}")


def state(value: Any) -> None:
    if value not in STATES:
        raise InvalidArgumentError(f"state must be one of {sorted(STATES)}, not {value!r}")


def millis(what: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(f"{what} must be milliseconds since the epoch (an integer)")
    return value


def optional_id(what: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(f"{what} must be an integer id, not {value!r}")


def json_value(value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"extra_data must be JSON: {exc}") from exc


def spec_text(spec: str | Mapping[str, Any] | None) -> str | None:
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping):
        try:
            return json.dumps(dict(spec))
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"pipeline_spec must be text or JSON: {exc}") from exc
    raise InvalidArgumentError(
        f"pipeline_spec must be text or a mapping, not {type(spec).__name__}"
    )
