"""Walking the chain of migrations: the source's order, or the ``previous`` links."""

from __future__ import annotations

import pytest

from metadb.operator.versioning import BrokenChain, Step, newest, plan_chain

from .support import chain


def _in(versions: list[int]):  # type: ignore[no-untyped-def]
    return lambda source: versions


def _walk(current: int | None, desired: int | None, **kwargs: object) -> list[tuple[str, int]]:
    steps: list[Step] = plan_chain(current, desired, **kwargs)  # type: ignore[arg-type]
    return [(s.direction, s.version) for s in steps]


def test_the_source_order_is_walked_up_and_down():
    versions = _in([1, 2, 5, 9])
    assert _walk(None, 5, versions_in=versions, migrations=[]) == [
        ("up", 1), ("up", 2), ("up", 5)
    ]  # fmt: skip
    assert _walk(9, 2, versions_in=versions, migrations=[]) == [("down", 9), ("down", 5)]
    assert _walk(5, 5, versions_in=versions, migrations=[]) == []


def test_a_version_the_source_lacks_is_named():
    with pytest.raises(BrokenChain, match="desired version 4 is not in the migration source"):
        plan_chain(1, 4, versions_in=_in([1, 2, 5]), migrations=[])
    with pytest.raises(BrokenChain, match="database's version 3"):
        plan_chain(3, 5, versions_in=_in([1, 2, 5]), migrations=[])


def test_links_are_walked_from_the_desired_version_back_to_the_current_one():
    links = [m.spec for m in chain((1, None), (2, 1), (3, 2))]
    assert _walk(1, 3, versions_in=_in([1, 2, 3]), migrations=links) == [("up", 2), ("up", 3)]
    assert _walk(3, 1, versions_in=_in([1, 2, 3]), migrations=links) == [
        ("down", 3), ("down", 2)
    ]  # fmt: skip


def test_a_link_that_jumps_over_files_blocks():
    links = [m.spec for m in chain((1, None), (3, 1))]
    with pytest.raises(BrokenChain) as raised:
        plan_chain(1, 3, versions_in=_in([1, 2, 3]), migrations=links)
    assert raised.value.reason == "ChainSkipsVersions"
    assert "version(s) 2 between them" in raised.value.message


def test_a_chain_that_never_reaches_the_current_version_blocks():
    links = [m.spec for m in chain((5, None), (6, 5))]
    with pytest.raises(BrokenChain, match="never reach version 2"):
        plan_chain(2, 6, versions_in=_in([2, 5, 6]), migrations=links)


def test_the_head_of_the_links_is_the_default_desired_version():
    assert newest(_in([1, 2]), [m.spec for m in chain((1, None), (2, 1))]) == 2
    assert newest(_in([1, 7]), []) == 7
    with pytest.raises(BrokenChain, match="2 heads"):
        newest(_in([1, 2, 3]), [m.spec for m in chain((1, None), (2, 1), (3, 1))])
