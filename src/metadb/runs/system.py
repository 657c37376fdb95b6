"""The system annotations every run carries, and how their values are derived.

``system/pipeline_run.created_by`` is the run's creator and ``system/pipeline_run.name`` its
pipeline's name: ``extra_data["pipeline_name"]``, else the ``name`` of the component spec in
``pipeline_spec``. A missing source gives an empty string, so that every run has both rows and
"does every run have them" is a count, not a guess. Values are cut to 255 characters (the
column's size; characters, not bytes, so multi-byte text is never split).

New runs get these rows when they are created; the built-in backfills give them to runs that
existed before, with the same rule.
"""

from __future__ import annotations

import json
from typing import Any

SYSTEM_PREFIX = "system/"
CREATED_BY = "system/pipeline_run.created_by"
NAME = "system/pipeline_run.name"
VALUE_LIMIT = 255


def is_system_key(key: str) -> bool:
    """Whether ``key`` is in metadb's reserved ``system/`` namespace, whatever its case:
    "SYSTEM/x" and "System/x" are refused too, so that no collation that ignores case (older
    MySQL/MariaDB databases, or a value compared elsewhere) can make them match a system key."""
    return key[: len(SYSTEM_PREFIX)].casefold() == SYSTEM_PREFIX


def clip(value: str | None) -> str:
    """``value`` cut to the annotation column's 255 characters; '' for None."""
    return (value or "")[:VALUE_LIMIT]


def pipeline_name(extra_data: Any, pipeline_spec: str | None) -> str | None:
    """The run's pipeline name: extra data's ``pipeline_name``, else the component spec's
    ``name``; None when neither says."""
    extra = _as_mapping(extra_data)
    name = extra.get("pipeline_name") if extra else None
    if isinstance(name, str):
        return name
    spec = _as_mapping(pipeline_spec)
    spec_name = spec.get("name") if spec else None
    return spec_name if isinstance(spec_name, str) else None


def system_annotations(
    *, created_by: str | None, extra_data: Any, pipeline_spec: str | None
) -> dict[str, str]:
    """The two system annotations of a run."""
    return {
        CREATED_BY: clip(created_by),
        NAME: clip(pipeline_name(extra_data, pipeline_spec)),
    }


def _as_mapping(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None
