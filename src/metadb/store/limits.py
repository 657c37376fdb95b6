"""What metadb accepts, declared once: the bounds of stored values and of queries.

Two promises rest on these numbers. Nothing is accepted that cannot be read back (by metadb,
by ml-metadata, on every database), and no request can keep the database busy for long. Each
check raises :class:`~metadb.errors.InvalidArgumentError` naming the field and the limit,
before anything is written or queried. docs/store.md lists every limit per database.

Stored values (every database, unless a dialect says otherwise):

* integers (INT properties, times, ids) fit in 64 bits (:data:`INT64_MIN`..:data:`INT64_MAX`);
* doubles (DOUBLE properties, run metrics, numbers in a STRUCT) are finite: SQLite stores NaN
  as NULL and no database or JSON reader round-trips Infinity;
* a STRUCT nests dicts and lists at most :data:`STRUCT_MAX_DEPTH` deep (protobuf's parsers,
  ml-metadata's too, stop at 100 message levels; each dict is three);
* text holds no lone surrogates (no driver can encode them) and, where the dialect's
  ``text_accepts_nul`` is False (PostgreSQL), no NUL characters;
* VARCHAR(255) columns (names, external ids, versions, property names, run columns) hold
  :data:`NAME_MAX_CHARS` characters; the unbounded text columns hold the UTF-8 bytes of the
  dialect's ``text_max_bytes`` (PostgreSQL's btree index rows on ``uri`` and
  ``string_value``; MySQL's TEXT and MEDIUMTEXT widths).

Queries: :class:`QueryLimits` caps a filter's size and shape for both languages (the MLMD
``filter_query`` and the runs JSON filter).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metadb.errors import InvalidArgumentError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Characters of a VARCHAR(255) column (characters on PostgreSQL and utf8mb4 MySQL alike).
NAME_MAX_CHARS = 255
#: How deep a STRUCT property may nest dicts and lists (33 dicts is protobuf's ceiling).
STRUCT_MAX_DEPTH = 32


@dataclass(frozen=True, kw_only=True)
class QueryLimits:
    """The most a single filter may ask of the database, for both filter languages.

    ``max_filter_chars``: length of an MLMD ``filter_query`` (characters).
    ``max_joins``: neighbour aliases (``contexts_a``), property references and ``type`` of one
    ``filter_query``: each is a join.
    ``max_conditions``: predicates of one filter (each OR branch and AND part counts).
    ``max_in_values``: values of one IN list (``IN (...)``, ``value_in``).
    ``max_depth``: nesting of NOT and parentheses (``filter_query``) or of and/or/not nodes
    (the runs filter).

    The server and the embedded store use the same :data:`DEFAULT_QUERY_LIMITS`.
    """

    max_filter_chars: int = 10_000
    max_joins: int = 16
    max_conditions: int = 200
    max_in_values: int = 1_000
    max_depth: int = 100


DEFAULT_QUERY_LIMITS = QueryLimits()


def exceeded(what: str, found: int, limit: int, fix: str) -> InvalidArgumentError:
    """The error for a query over one of :class:`QueryLimits`."""
    return InvalidArgumentError(f"{what}: {found} is over the limit of {limit}; {fix}")


# ---------------------------------------------------------------------------- stored values


def check_int64(field: str, value: Any) -> None:
    """Raise unless ``value`` (an int, or None) fits in a 64-bit column."""
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise InvalidArgumentError(
            f"{field}: {value} does not fit in 64 bits ({INT64_MIN}..{INT64_MAX})"
        )


def check_finite(field: str, value: float) -> None:
    """Raise for NaN and the infinities, which no database reads back as written."""
    if not math.isfinite(value):
        raise InvalidArgumentError(
            f"{field}: {value} is not a finite number; NaN and Infinity cannot be stored "
            "(SQLite keeps NaN as NULL, JSON and protobuf readers refuse them)"
        )


@dataclass(frozen=True)
class TextRules:
    """What one database's text columns accept (from its dialect); see the module docstring.

    ``max_bytes`` maps a column kind ("uri", "string_value", "text") to its UTF-8 byte limit;
    a kind not in it is unbounded there.
    """

    accepts_nul: bool = True
    max_bytes: Mapping[str, int] | None = None
    database: str = ""

    @classmethod
    def of(cls, dialect: Any) -> TextRules:
        """The rules of a :class:`~metadb.db.dialect.Dialect`."""
        return cls(dialect.text_accepts_nul, dict(dialect.text_max_bytes), dialect.name)

    def check(self, field: str, value: Any, *, column: str = "text", name: bool = False) -> None:
        """Raise unless ``value`` (a str, or None) can be stored and read back in ``column``.

        ``name``: the column is a VARCHAR(255) (names, external ids, versions).
        """
        if not isinstance(value, str):
            return
        if name and len(value) > NAME_MAX_CHARS:
            raise InvalidArgumentError(
                f"{field} is {len(value)} characters long; the limit is {NAME_MAX_CHARS}"
            )
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{field}: position {exc.start + 1} holds a lone surrogate "
                f"({value[exc.start]!r}); text must be valid Unicode"
            ) from None
        if not self.accepts_nul and "\x00" in value:
            raise InvalidArgumentError(
                f"{field}: position {value.index(chr(0)) + 1} holds a NUL character, which "
                f"{self.database or 'this database'} cannot store in text"
            )
        limit = (self.max_bytes or {}).get(column)
        if limit is not None and size > limit:
            raise InvalidArgumentError(
                f"{field} is {size} bytes in UTF-8; {self.database} stores at most {limit} "
                f"bytes in {column} (see 'Limits' in docs/store.md)"
                + ("; store longer text as a PROTO property" if column == "string_value" else "")
            )


def check_struct(field: str, value: Any, *, rules: TextRules) -> None:
    """Raise unless the STRUCT ``value`` round-trips: finite numbers, at most
    :data:`STRUCT_MAX_DEPTH` levels of dicts and lists, text storable. Iterative, so a
    hostile depth cannot exhaust the stack."""
    stack: list[tuple[Any, int, str]] = [(value, 1, field)]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > STRUCT_MAX_DEPTH:
                raise InvalidArgumentError(
                    f"{field}: the STRUCT nests deeper than {STRUCT_MAX_DEPTH} levels of dicts "
                    f"and lists (at {where}); ml-metadata and protobuf cannot read it back"
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    rules.check(f"{field}: key {key!r:.40}", key)
                    stack.append((child, depth + 1, f"{where}.{key}"))
            else:
                stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, float):
            check_finite(f"{field} at {where}", item)
        elif isinstance(item, str):
            rules.check(f"{field} at {where}", item)
