"""Runs, tasks and pages of runs: plain dataclasses, built from rows inside the store only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: A run or task state. KFP's states; the first four are terminal (the run is finished).
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"})
STATES = TERMINAL_STATES | {"PENDING", "RUNNING", "CANCELING", "PAUSED"}


@dataclass
class Task:
    """One step of a run, optionally linked to the MLMD execution that recorded it."""

    id: int
    run_id: int
    name: str
    state: str
    started_at_ms: int | None = None
    finished_at_ms: int | None = None
    mlmd_execution_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Run:
    """A pipeline run with its annotations, metrics and tasks.

    ``pipeline_spec`` is None in lists and searches unless the full view was asked for
    (``full=True``): specs are large, and a page of them is what made KFP's lists slow.
    """

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
    annotations: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunPage:
    """One page of :meth:`RunStore.search_runs`: its runs in ``items``, as every page is.

    ``next_page_token`` is None on the last page; ``total_size`` is None unless
    ``with_total=True`` was asked for (it costs a COUNT over every matching run).
    """

    items: list[Run]
    next_page_token: str | None = None
    total_size: int | None = None

    @property
    def runs(self) -> list[Run]:
        """The page's runs: ``items`` by its former name, kept for existing callers."""
        return self.items

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": [run.as_dict() for run in self.items],
            "next_page_token": self.next_page_token,
            "total_size": self.total_size,
        }
