"""Telling, from the data, which text mode a database needs (see docs/store.md).

On MySQL/MariaDB ml-metadata's C++ client writes its UTF-8 bytes over a latin1 connection, so a
utf8mb4 column holds "hÃ©" for "hé". Opened in metadb's default mode such a database garbles
non-ASCII text both ways. When no mode is asked for, :func:`detect_text_mode` reads the non-ASCII
string values among the newest rows of the MLMD tables: if they all read as ml-metadata's latin1
bytes, the compatible mode "mlmd-latin1" is used (with a warning saying how to make it explicit);
if some do and others are proper UTF-8, the database holds text written both ways and metadb
refuses, naming the URL option that picks one. Databases without a converting mode (SQLite,
PostgreSQL) and databases with only ASCII text are left in the default mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Column, Connection, func, select

from metadb.db.database import Database
from metadb.db.urls import TEXT_PARAMETER
from metadb.errors import MixedTextEncodingError
from metadb.store.session import StoreSession
from metadb.store.tables import mlmd_tables

log = logging.getLogger(__name__)

#: The compatible mode, and how many of the newest rows of each table are looked at.
MLMD_MODE = "mlmd-latin1"
SAMPLE_ROWS = 1000
_EXAMPLES = 3


@dataclass
class TextSample:
    """The non-ASCII values found, by how they were written."""

    #: Values that read as UTF-8 bytes taken for latin1 characters: ml-metadata's writes.
    latin1: list[str] = field(default_factory=list)
    #: Values that are proper UTF-8 text: written by a utf8mb4 client.
    utf8: list[str] = field(default_factory=list)


def detect_text_mode(
    db: Database, *, requested: str | None, statement_timeout: float | None = None
) -> str | None:
    """The text mode to open ``db`` in when none is given: "mlmd-latin1" for a database that
    ml-metadata's latin1 connection wrote, else None (the default mode). A mode given by the
    caller or the URL is always kept. Reads at most ``SAMPLE_ROWS`` rows per MLMD text column.

    The sample runs under the store's statement timeout (``statement_timeout``, as
    :class:`~metadb.store.session.StoreSession` resolves it), so that a table another session
    holds locked cannot hold up the caller for longer.

    Raises:
        MixedTextEncodingError: the MLMD tables hold text written both ways; nothing changed.
        QueryTimeoutError: the sample waited past the statement timeout (a table locked by
            another session, a long migration).
    """
    if requested is not None or db.url.mysql_text is not None:
        return None
    codec = db.dialect.mlmd_text_codec(MLMD_MODE)
    if codec is None:
        return None  # this database stores ml-metadata's text as proper UTF-8
    with StoreSession(db, statement_timeout=statement_timeout).read() as conn:
        found = sample_text(conn, db.url.dialect, decode=codec.from_db)
    if found.latin1 and found.utf8:
        raise MixedTextEncodingError(
            database=db.url.masked(),
            latin1=found.latin1[:_EXAMPLES],
            utf8=found.utf8[:_EXAMPLES],
            parameter=TEXT_PARAMETER,
        )
    if not found.latin1:
        return None
    log.warning(
        "%s holds text as ml-metadata's latin1 connection writes it (%r is %r): using "
        "mysql_text=%r; add ?%s=latin1 to the URL to say so and skip this check",
        db.url.masked(),
        found.latin1[0],
        codec.from_db(found.latin1[0]),
        MLMD_MODE,
        TEXT_PARAMETER,
    )
    return MLMD_MODE


def sample_text(conn: Connection, dialect: str, *, decode: Callable[[str], str]) -> TextSample:
    """Sort the non-ASCII values among the newest rows of the MLMD text columns by how they
    were written; ``decode`` is the compatible mode's reading (a value it leaves unchanged
    cannot have come from ml-metadata's latin1 connection)."""
    tables = mlmd_tables(dialect)
    if not conn.dialect.has_table(conn, tables.mlmd_env.name):
        return TextSample()
    columns: list[tuple[Column[str], Column[int]]] = [
        (tables.type.c.name, tables.type.c.id),
        (tables.type.c.description, tables.type.c.id),
    ]
    for nodes in (tables.artifact, tables.execution, tables.context):
        node, props = nodes.node.c, nodes.properties.c
        columns.append((node.name, node.id))
        columns.append((props.string_value, props[nodes.owner]))
    columns.append((tables.artifact.node.c.uri, tables.artifact.node.c.id))
    found = TextSample()
    for column, order in columns:
        newest = select(column.label("value")).order_by(order.desc()).limit(SAMPLE_ROWS)
        recent = newest.subquery()
        # More bytes than characters: a non-ASCII value.
        query = select(recent.c.value).where(
            func.length(recent.c.value) != func.char_length(recent.c.value)
        )
        for (value,) in conn.execute(query.limit(SAMPLE_ROWS)):
            if not isinstance(value, str) or value.isascii():
                continue
            (found.latin1 if decode(value) != value else found.utf8).append(value)
    return found
