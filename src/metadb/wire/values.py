"""Property values on the wire: ml-metadata's ``Value`` as JSON, one key per value type.

``{"int_value": 3}``, ``{"double_value": 0.5}``, ``{"string_value": "s3://b"}``,
``{"bool_value": true}``, ``{"struct_value": {"any": ["json"]}}`` and
``{"proto_value": {"type_url": "type.googleapis.com/pkg.Msg", "value": "<base64>"}}``.
The key says the type, so a DOUBLE ``1.0`` never comes back as the INT ``1`` and a STRUCT
never passes for a PROTO.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from google.protobuf import message, struct_pb2
from pydantic import AfterValidator, BaseModel, Discriminator, Field, StrictBool, Tag

from metadb.errors import InvalidArgumentError
from metadb.store.model import PropertyValue, ProtoValue
from metadb.store.values import pack_any
from metadb.wire.fields import STRICT, Int64, Text


class _OneKey(BaseModel):
    model_config = STRICT


def _struct(value: dict[str, Any]) -> dict[str, Any]:
    try:
        struct_pb2.Struct().update(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"not representable as a google.protobuf.Struct: {exc}") from exc
    return value


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("value must be standard base64") from exc
    return value


class IntValue(_OneKey):
    int_value: Int64


class DoubleValue(_OneKey):
    double_value: float = Field(allow_inf_nan=False)


class StringValue(_OneKey):
    string_value: Text


class BoolValue(_OneKey):
    bool_value: StrictBool


class StructValue(_OneKey):
    struct_value: Annotated[dict[str, Any], AfterValidator(_struct)] = Field(
        description="any JSON object (a google.protobuf.Struct)"
    )


class ProtoAny(_OneKey):
    """A ``google.protobuf.Any``."""

    type_url: Text = Field(examples=["type.googleapis.com/google.protobuf.StringValue"])
    value: Annotated[str, AfterValidator(_base64)] = Field(
        description="the serialized message, base64", examples=["CgJoaQ=="]
    )


class ProtoValueModel(_OneKey):
    proto_value: ProtoAny


_KEYS = ("int_value", "double_value", "string_value", "bool_value", "struct_value", "proto_value")


def _value_key(value: Any) -> str | None:
    """The one key of a wire value (None, an error, for no key, several or an unknown one)."""
    if isinstance(value, dict):
        keys = list(value)
        return keys[0] if len(keys) == 1 and keys[0] in _KEYS else None
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    return None


#: One property value: exactly one of the keys.
Value = Annotated[
    Annotated[IntValue, Tag("int_value")]
    | Annotated[DoubleValue, Tag("double_value")]
    | Annotated[StringValue, Tag("string_value")]
    | Annotated[BoolValue, Tag("bool_value")]
    | Annotated[StructValue, Tag("struct_value")]
    | Annotated[ProtoValueModel, Tag("proto_value")],
    Discriminator(
        _value_key,
        custom_error_type="one_value_key",
        custom_error_message="a value is an object with exactly one key: " + ", ".join(_KEYS),
    ),
]


def value_to_wire(name: str, value: PropertyValue) -> Value:
    """The wire form of a Python property value (as :mod:`metadb.store.values` takes them).

    Raises:
        InvalidArgumentError: a value of a type no property can hold.
    """
    if isinstance(value, bool):
        return BoolValue(bool_value=value)
    if isinstance(value, int):
        return IntValue(int_value=value)
    if isinstance(value, float):
        return DoubleValue(double_value=value)
    if isinstance(value, str):
        return StringValue(string_value=value)
    if isinstance(value, dict):
        return StructValue(struct_value=value)
    if not isinstance(value, (ProtoValue, message.Message, bytes)):
        raise InvalidArgumentError(
            f"cannot send a {type(value).__name__} as property {name!r}; use int, float, str, "
            "bool, a dict (STRUCT), or a protobuf message, ProtoValue or bytes (PROTO)"
        )
    packed = pack_any(name, value)
    encoded = base64.b64encode(packed.value).decode("ascii")
    return ProtoValueModel(proto_value=ProtoAny(type_url=packed.type_url, value=encoded))


def value_from_wire(value: Value) -> PropertyValue:
    """The Python property value of a wire value (PROTO as :class:`ProtoValue`)."""
    if isinstance(value, IntValue):
        return value.int_value
    if isinstance(value, DoubleValue):
        return value.double_value
    if isinstance(value, StringValue):
        return value.string_value
    if isinstance(value, BoolValue):
        return value.bool_value
    if isinstance(value, StructValue):
        return value.struct_value
    return ProtoValue(value.proto_value.type_url, base64.b64decode(value.proto_value.value))


def properties_to_wire(properties: dict[str, PropertyValue]) -> dict[str, Value]:
    return {k: value_to_wire(k, v) for k, v in properties.items() if v is not None}


def properties_from_wire(properties: dict[str, Value]) -> dict[str, PropertyValue]:
    return {k: value_from_wire(v) for k, v in properties.items()}
