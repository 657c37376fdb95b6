"""Pipeline runs: annotations, metrics, tasks, and fast search and listing.

Open a :class:`RunStore` with :func:`connect`. The search filter language is described in
:mod:`metadb.runs.filters`; how search stays fast in :mod:`metadb.runs.query` and docs/runs.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metadb._lazy import lazy_attributes
from metadb.paging import MAX_LIMIT as MAX_PAGE_SIZE  # the largest limit, by its former name
from metadb.runs.connect import connect
from metadb.runs.filters import parse_filter
from metadb.runs.model import STATES, TERMINAL_STATES, Run, RunPage, Task

if TYPE_CHECKING:
    from metadb.runs.store import RunStore

# The dataclasses are light and shared with the client; the store loads SQLAlchemy.
__getattr__, __dir__ = lazy_attributes(__name__, {"RunStore": "metadb.runs.store"})

__all__ = [
    "MAX_PAGE_SIZE",
    "STATES",
    "TERMINAL_STATES",
    "Run",
    "RunPage",
    "RunStore",
    "Task",
    "connect",
    "parse_filter",
]
