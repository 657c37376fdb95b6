"""Compare column types as written in a migration with types the server reports."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError

_INTEGERS = exp.DataType.INTEGER_TYPES
_TEXT = {exp.DataType.Type.TEXT, exp.DataType.Type.MEDIUMTEXT, exp.DataType.Type.LONGTEXT}
_VARCHAR = {exp.DataType.Type.VARCHAR, exp.DataType.Type.NVARCHAR}


def parse_type(sql: str, dialect: str) -> exp.DataType | None:
    try:
        return exp.DataType.build(sql, dialect=dialect)
    except (SqlglotError, ValueError):
        return None


def _length(dtype: exp.DataType) -> int | None:
    params = dtype.expressions
    if not params:
        return None
    try:
        return int(params[0].name)
    except (TypeError, ValueError):
        return None


def widens(current: str, new: str, dialect: str, *, text_is_wider: bool = True) -> bool:
    """Whether ``new`` holds every value of ``current`` stored the same way: the same type
    (integer display widths aside) with an equal or larger length, or, with
    ``text_is_wider``, a VARCHAR becoming unbounded TEXT (PostgreSQL stores both alike).

    Example::

        >>> widens("VARCHAR(20)", "VARCHAR(40)", "postgres")
        True
        >>> widens("INTEGER", "BIGINT", "postgres")
        False
    """
    old, nxt = parse_type(current, dialect), parse_type(new, dialect)
    if old is None or nxt is None:
        return False
    if old.this in _VARCHAR and nxt.this in _TEXT:
        return text_is_wider
    if old.this != nxt.this:
        return False
    if old.this in _INTEGERS:
        return True
    old_len, new_len = _length(old), _length(nxt)
    if new_len is None:
        return True
    return old_len is not None and new_len >= old_len
