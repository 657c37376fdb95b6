"""Property values to and from property rows, byte for byte as ml-metadata stores them.

A property row has one value column set: ``int_value``, ``double_value``, ``string_value``,
``bool_value`` or ``proto_value``. A STRUCT is stored in ``string_value`` as ``mlmd-struct::``
followed by the base64 of the serialized ``google.protobuf.Struct``. A PROTO (a
``google.protobuf.Any``) is stored in ``proto_value`` in the dialect's way
(:attr:`metadb.db.dialect.Dialect.mlmd_proto_storage`).

Only values that read back as written are encoded (:mod:`metadb.store.limits`): finite
doubles, STRUCTs of finite numbers at most 32 levels deep, text the database stores, property
names of at most 255 characters.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

from google.protobuf import any_pb2, json_format, message, struct_pb2

from metadb.errors import InvalidArgumentError
from metadb.store.limits import TextRules, check_finite, check_int64, check_struct
from metadb.store.model import PropertyType, PropertyValue, ProtoValue

STRUCT_PREFIX = "mlmd-struct::"
VALUE_COLUMNS = ("int_value", "double_value", "string_value", "bool_value", "proto_value")
#: A property row's value columns, in VALUE_COLUMNS order; at most one is not None.
ValueRow = tuple[Any, Any, Any, Any, Any]


def infer_type(value: PropertyValue) -> PropertyType:
    """The property type a Python value is stored as when no type declares it (custom)."""
    if isinstance(value, bool):
        return PropertyType.BOOLEAN
    if isinstance(value, int):
        return PropertyType.INT
    if isinstance(value, float):
        return PropertyType.DOUBLE
    if isinstance(value, str):
        return PropertyType.STRING
    if isinstance(value, dict):
        return PropertyType.STRUCT
    if isinstance(value, (ProtoValue, message.Message, bytes)):
        return PropertyType.PROTO
    raise InvalidArgumentError(
        f"cannot store a {type(value).__name__} as a property value; use int, float, str, "
        "bool, a dict (STRUCT), or a protobuf message, ProtoValue or bytes (PROTO)"
    )


def pack_any(name: str, value: PropertyValue) -> any_pb2.Any:
    """A PROTO property's value as a google.protobuf.Any (a message is packed; bytes are a
    serialized Any).

    Raises:
        InvalidArgumentError: ``value`` is none of ProtoValue, a message, or bytes.
    """
    if isinstance(value, ProtoValue):
        return any_pb2.Any(type_url=value.type_url, value=value.value)
    if isinstance(value, any_pb2.Any):
        return value
    packed = any_pb2.Any()
    if isinstance(value, message.Message):
        packed.Pack(value)
    elif isinstance(value, bytes):
        packed.ParseFromString(value)
    else:
        raise InvalidArgumentError(
            f"property {name!r} is PROTO: give a protobuf message, ProtoValue or the bytes "
            f"of a serialized google.protobuf.Any, not {type(value).__name__}"
        )
    return packed


class ValueCodec:
    """Encodes and decodes property values for one dialect's proto storage."""

    def __init__(
        self, proto_storage: str, *, int_bits: int = 64, text: TextRules | None = None
    ) -> None:
        self.proto_storage = proto_storage
        self.int_bits = int_bits
        self.int_max = 2 ** (int_bits - 1) - 1
        self.text = text if text is not None else TextRules()

    def encode(self, name: str, value: PropertyValue, declared: PropertyType | None) -> ValueRow:
        """The value columns of a property row, in :data:`VALUE_COLUMNS` order.

        Raises:
            InvalidArgumentError: the value does not fit the declared type, or it would not
                read back as written (:mod:`metadb.store.limits`); the message names it.
        """
        self.text.check("property name", name, name=True)
        if isinstance(name, str) and not name:
            raise InvalidArgumentError("a property name must not be empty")
        kind = declared if declared is not None else infer_type(value)
        try:
            if kind == PropertyType.INT:
                _expect(name, value, kind, int)
                if not -self.int_max - 1 <= value <= self.int_max:
                    raise InvalidArgumentError(
                        f"property {name!r}: {value} does not fit ml-metadata's "
                        f"{self.int_bits}-bit int_value column on this database "
                        f"({-self.int_max - 1}..{self.int_max}); store it as a DOUBLE or STRING"
                    )
                return (int(value), None, None, None, None)
            if kind == PropertyType.DOUBLE:
                _expect(name, value, kind, (int, float))
                check_finite(f"property {name!r}", float(value))
                return (None, float(value), None, None, None)
            if kind == PropertyType.STRING:
                _expect(name, value, kind, str)
                self.text.check(f"property {name!r}", value, column="string_value")
                return (None, None, value, None, None)
            if kind == PropertyType.BOOLEAN:
                _expect(name, value, kind, bool)
                return (None, None, None, bool(value), None)
            if kind == PropertyType.STRUCT:
                _expect(name, value, kind, dict)
                check_struct(f"property {name!r}", value, rules=self.text)
                text = STRUCT_PREFIX + base64.b64encode(
                    _to_struct(value).SerializeToString()
                ).decode("ascii")
                self.text.check(f"property {name!r} (as stored)", text, column="string_value")
                return (None, None, text, None, None)
            if kind == PropertyType.PROTO:
                return (None, None, None, None, self._encode_proto(name, value))
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidArgumentError(f"property {name!r}: {exc}") from exc
        raise InvalidArgumentError(f"property {name!r} has unknown type {kind!r}")

    def check_node(self, kind: str, node: Any) -> None:
        """Refuse a node's columns that would not read back: names and external ids over 255
        characters, a uri over the database's limit, text the database cannot store, ids
        past 64 bits. Properties are checked by :meth:`encode`.

        Raises:
            InvalidArgumentError: naming the field and the limit.
        """
        for field in ("id", "type_id"):
            check_int64(f"{kind} {field}", getattr(node, field, None))
        for field in ("name", "external_id"):
            self.text.check(f"{kind} {field}", getattr(node, field, None), name=True)
        self.text.check(f"{kind} uri", getattr(node, "uri", None), column="uri")

    def check_type(self, new: Any) -> None:
        """Refuse a type whose name, version, external id, property names or text would not
        be stored as given (see :meth:`check_node`)."""
        check_int64("type id", new.id)
        for field in ("name", "version", "external_id"):
            self.text.check(f"type {field}", getattr(new, field), name=True)
        for field in ("description", "input_type", "output_type"):
            self.text.check(f"type {field}", getattr(new, field, None))
        for prop in new.properties:
            self.text.check(f"type {new.name!r}: property name", prop, name=True)

    def check_event(self, event: Any) -> None:
        """Refuse an event whose ids, time or path steps would not be stored as given."""
        for field in ("artifact_id", "execution_id", "milliseconds_since_epoch"):
            check_int64(f"event {field}", getattr(event, field))
        for step in event.path:
            if isinstance(step, str):
                self.text.check("event path step", step)
            else:
                check_int64("event path step", step)

    def decode(self, row: Any, declared: PropertyType | None) -> PropertyValue:
        """The Python value of a property row (a mapping with the value columns)."""
        return self.decode_values([row[c] for c in VALUE_COLUMNS], declared)

    def decode_values(
        self, values: Sequence[Any], declared: PropertyType | None, start: int = 0
    ) -> PropertyValue:
        """The Python value of the value columns at ``values[start:start + 5]``, in
        :data:`VALUE_COLUMNS` order."""
        int_value, double_value, text, bool_value, proto_value = values[start : start + 5]
        if int_value is not None:
            return int(int_value)
        if double_value is not None:
            return float(double_value)
        if bool_value is not None:
            return bool(bool_value)
        if proto_value is not None:
            return self._decode_proto(proto_value)
        if text is not None:
            wants_struct = declared in (None, PropertyType.STRUCT)
            if wants_struct and text.startswith(STRUCT_PREFIX):
                struct = struct_pb2.Struct()
                struct.ParseFromString(base64.b64decode(text[len(STRUCT_PREFIX) :]))
                return json_format.MessageToDict(struct)
            return str(text)
        return None

    def _encode_proto(self, name: str, value: PropertyValue) -> bytes | str:
        raw: bytes = pack_any(name, value).SerializeToString()
        if self.proto_storage == "raw":
            return raw
        encoded = base64.b64encode(raw)
        return encoded if self.proto_storage == "base64-bytes" else encoded.decode("ascii")

    def _decode_proto(self, stored: bytes | str | memoryview) -> ProtoValue:
        if isinstance(stored, memoryview):
            stored = stored.tobytes()
        if self.proto_storage == "raw":
            raw = bytes(stored) if not isinstance(stored, str) else stored.encode("latin-1")
        else:
            raw = base64.b64decode(stored)
        packed = any_pb2.Any()
        packed.ParseFromString(raw)
        return ProtoValue(packed.type_url, packed.value)


def _expect(name: str, value: PropertyValue, kind: PropertyType, types: Any) -> None:
    wrong_bool = isinstance(value, bool) and kind != PropertyType.BOOLEAN
    if wrong_bool or not isinstance(value, types):
        raise InvalidArgumentError(
            f"property {name!r} is declared {kind.name} but the value is "
            f"{type(value).__name__} ({value!r:.80})"
        )
    if isinstance(value, float) and not math.isfinite(value) and kind == PropertyType.INT:
        raise InvalidArgumentError(f"property {name!r}: {value} is not an integer")


def _to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct
