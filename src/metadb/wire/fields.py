"""Constrained field types for request bodies and query parameters.

Each bound is the database's: ids, like ml-metadata's id columns, are 32-bit INTs (PostgreSQL
refuses a larger value in a comparison with them); INT values and times are 64-bit; event path
indexes are 32-bit; names fit VARCHAR(255), other text fits MySQL's TEXT (65,535
bytes). Text may not hold NUL characters (PostgreSQL refuses them) or lone surrogates (no
driver can encode them). Bad input is therefore a 400 from validation, never a database error.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

#: The configuration of every request body (and of the store's models, which are both):
#: unknown fields are an error, and values are not coerced. ``"type_id": true`` is not the id
#: 1, ``"int_value": "7"`` not the INT 7, ``"metrics": {"a": false}`` not the metric 0.0, and
#: ``"name": 5`` not the name "5": each is a 400 naming the field. JSON's integers still fill
#: double fields (``{"double_value": 1}``), as in every JSON API.
STRICT = ConfigDict(extra="forbid", strict=True)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
TEXT_MAX_BYTES = 65_535
NAME_MAX_CHARS = 255


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode (it has a lone surrogate)") from exc
    if size > TEXT_MAX_BYTES:
        raise ValueError(f"text is {size} bytes in UTF-8; at most {TEXT_MAX_BYTES} fit")
    return value


#: The largest id: ml-metadata's id columns are INT.
ID_MAX = INT32_MAX
#: A database id: positive, 32-bit.
Id = Annotated[int, Field(ge=1, le=ID_MAX)]
#: An INT property value, a time in milliseconds.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
#: An index step of an event path (the column is a 32-bit INT).
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
#: A name, version or external id (VARCHAR(255)).
Name = Annotated[str, Field(max_length=NAME_MAX_CHARS), AfterValidator(_storable)]
#: A type's name: not empty.
TypeName = Annotated[Name, Field(min_length=1)]
#: Free text: a description, uri, string value, filter_query.
Text = Annotated[str, AfterValidator(_storable)]
