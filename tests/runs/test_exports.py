"""``metadb.runs``'s public API is what its ``__all__`` says (tests/test_public_api.py covers
the other packages)."""

from __future__ import annotations

import metadb.runs

PUBLIC = {
    "MAX_PAGE_SIZE", "STATES", "TERMINAL_STATES", "Run", "RunPage", "RunStore", "Task",
    "connect", "parse_filter",
}  # fmt: skip


def test_all_lists_exactly_the_public_names_and_each_exists():
    assert set(metadb.runs.__all__) == PUBLIC
    assert [name for name in PUBLIC if not hasattr(metadb.runs, name)] == []


def test_importing_the_package_does_no_io_and_a_store_needs_none_to_construct(tmp_path):
    from metadb.db import Database

    path = tmp_path / "never-created.sqlite"
    metadb.runs.RunStore(Database.from_url(f"sqlite:///{path}"))

    assert not path.exists()
