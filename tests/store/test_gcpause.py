"""Reads pause the cyclic garbage collector and always leave it as they found it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from metadb.store.gcpause import gc_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_collector_is_back_on_after_a_failing_read(collector_on: None) -> None:
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("the query failed")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_program_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_overlapping_reads_in_threads_switch_it_back_on_only_at_the_end(
    collector_on: None,
) -> None:
    inside, release = threading.Event(), threading.Event()

    def slow_read() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=slow_read)
    thread.start()
    inside.wait(5)
    with gc_paused():
        pass
    assert not gc.isenabled(), "the other thread's read is still running"
    release.set()
    thread.join()
    assert gc.isenabled()


def test_store_reads_leave_the_collector_on(database_url: str, collector_on: None) -> None:
    import metadb
    from metadb.store import Artifact, ArtifactType

    store = metadb.connect(database_url)
    try:
        type_id = store.put_artifact_type(ArtifactType(name="Dataset"))
        store.put_artifacts([Artifact(type_id=type_id, uri=f"/d/{i}") for i in range(5)])
        assert len(store.get_artifacts_by_type("Dataset")) == 5
        assert gc.isenabled()
    finally:
        store.close()
