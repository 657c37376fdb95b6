"""Pipeline runs: annotations, metrics, tasks, and fast search and listing.

Open a :class:`RunStore` with :func:`connect`. The search filter language is described in
:mod:`metadb.runs.filters`; how search stays fast in :mod:`metadb.runs.query` and docs/runs.md.
"""

from __future__ import annotations

from metadb.paging import MAX_LIMIT as MAX_PAGE_SIZE  # the largest limit, by its former name
from metadb.runs.connect import connect
from metadb.runs.filters import parse_filter
from metadb.runs.model import STATES, TERMINAL_STATES, Run, RunPage, Task
from metadb.runs.store import RunStore

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
