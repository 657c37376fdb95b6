"""SQLite's write transaction takes the write lock up front, and only when asked for."""

from __future__ import annotations

from pathlib import Path

from metadb.db import Database


def test_begin_write_is_immediate_and_a_later_begin_on_the_connection_is_not(tmp_path: Path):
    db = Database.from_url(f"sqlite:///{tmp_path / 'x.sqlite'}", lock_timeout=0.2)
    other = Database.from_url(f"sqlite:///{tmp_path / 'x.sqlite'}", lock_timeout=0.2)
    try:
        with db.connect() as conn:
            with db.dialect.begin_write(conn):
                # The write lock is held already: another writer cannot start.
                with other.connect() as rival:
                    try:
                        with db.dialect.begin_write(rival):
                            locked = False
                    except Exception as exc:
                        locked = "locked" in str(exc)
                assert locked
            # A plain BEGIN takes no lock until it writes: another writer can start.
            with conn.begin(), other.connect() as rival, db.dialect.begin_write(rival):
                pass
    finally:
        db.dispose()
        other.dispose()
