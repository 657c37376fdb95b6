"""Run stores on fresh databases: one per test, and one shared, read-only dataset per module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

import metadb.runs
from metadb.runs import RunStore
from tests.conftest import BACKENDS, fresh_database


@pytest.fixture
def runs(database_url: str) -> Iterator[RunStore]:
    """A migrated run store on a fresh database of the test's backend."""
    with metadb.runs.connect(database_url) as store:
        yield store


@dataclass(frozen=True)
class Spec:
    """One run of the search dataset."""

    name: str
    created_at_ms: int
    state: str
    pipeline: str | None
    created_by: str | None
    annotations: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    finished_at_ms: int | None = None


#: The search dataset. Ties on created_at (alpha/bravo; delta/echo/foxtrot) and on metric
#: values (acc 0.9: alpha/charlie; 0.7: bravo/hotel), runs without a metric, a null pipeline.
DATASET = (
    Spec("alpha", 1000, "SUCCEEDED", "train", "ana", {"team": "vision", "env": "prod"},
         {"acc": 0.9, "loss": 0.1}, 1500),
    Spec("bravo", 1000, "FAILED", "train", "bob", {"team": "nlp", "env": "dev"},
         {"acc": 0.7}, 2500),
    Spec("charlie", 2000, "RUNNING", "eval", "ana", {"team": "vision"}, {"acc": 0.9}),
    Spec("delta", 3000, "PENDING", None, None),
    Spec("echo", 3000, "SUCCEEDED", "eval", "cara", {"team": "Vision-X", "env": "prod"},
         {"acc": 0.95, "loss": 0.3}, 4000),
    Spec("foxtrot", 3000, "CANCELED", "train", "bob", {"team": "speech", "note": "日本語テキスト"},
         {"loss": 0.2}, 5000),
    Spec("golf", 5000, "SUCCEEDED", "deploy", "ana", {"env": "staging", "pct": "100%_done"},
         {"acc": 0.5}, 6000),
    Spec("hotel", 6000, "RUNNING", "train", "dan", {"team": "vision", "env": "prod",
         "pct": "100x done"}, {"acc": 0.7}),
)  # fmt: skip


@dataclass(frozen=True)
class Searchable:
    store: RunStore
    ids: dict[str, int]  #: run id by name

    def spec_of(self, run_id: int) -> Spec:
        name = next(n for n, i in self.ids.items() if i == run_id)
        return next(s for s in DATASET if s.name == name)


def load_dataset(store: RunStore) -> dict[str, int]:
    ids = {}
    for spec in DATASET:
        run = store.create_run(
            spec.name,
            created_by=spec.created_by,
            state=spec.state,
            extra_data={"pipeline_name": spec.pipeline} if spec.pipeline else None,
            pipeline_spec='{"title": "spec-of-' + spec.name + '", "big": "' + "x" * 5000 + '"}',
            annotations=spec.annotations,
            created_at_ms=spec.created_at_ms,
            finished_at_ms=spec.finished_at_ms,
        )
        if spec.metrics:
            store.log_metrics(run.id, spec.metrics)
        ids[spec.name] = run.id
    return ids


@pytest.fixture(scope="module", params=BACKENDS)
def searchable(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Searchable]:
    """The dataset on a fresh database of each backend, shared by a module's tests (which
    only read it)."""
    databases = fresh_database(str(request.param), tmp_path_factory.mktemp("runs"))
    url = next(databases)
    try:
        with metadb.runs.connect(url) as store:
            yield Searchable(store, load_dataset(store))
    finally:
        next(databases, None)  # drops the database
