"""The store's wire models: types, nodes, events, links, lineage, and the requests around them.

Field names are ml-metadata's (its protos' JSON names); enums go by name (``"INT"``,
``"LIVE"``, ``"OUTPUT"``, ``"UPSTREAM"``). Read-only fields (``type``, the times) are filled
in by the server and ignored on writes. Every model converts to and from the dataclass of
:mod:`metadb.store.model` of the same name (``to_entity`` / ``from_entity``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from metadb.paging import DEFAULT_LIMIT, MAX_LIMIT, TOKEN_MAX_CHARS
from metadb.store import model as m
from metadb.wire.fields import INT64_MAX, STRICT, Id, Int32, Int64, Name, Text, TypeName
from metadb.wire.values import Value, properties_from_wire, properties_to_wire

PropertyTypeName = Literal["UNKNOWN", "INT", "DOUBLE", "STRING", "STRUCT", "PROTO", "BOOLEAN"]
SystemTypeName = Literal[
    "DATASET", "MODEL", "METRICS", "STATISTICS", "TRAIN", "TRANSFORM", "PROCESS", "EVALUATE",
    "DEPLOY",
]  # fmt: skip
ArtifactStateName = Literal[
    "UNKNOWN", "PENDING", "LIVE", "MARKED_FOR_DELETION", "DELETED", "ABANDONED", "REFERENCE"
]
ExecutionStateName = Literal[
    "UNKNOWN", "NEW", "RUNNING", "COMPLETE", "FAILED", "CACHED", "CANCELED"
]
EventTypeName = Literal[
    "UNKNOWN", "DECLARED_OUTPUT", "DECLARED_INPUT", "INPUT", "OUTPUT", "INTERNAL_INPUT",
    "INTERNAL_OUTPUT", "PENDING_OUTPUT",
]  # fmt: skip
DirectionName = Literal["DIRECTION_UNSPECIFIED", "UPSTREAM", "DOWNSTREAM", "BIDIRECTIONAL"]
OrderBy = Literal["id", "create_time", "last_update_time"]
GraphField = Literal[
    "artifacts", "executions", "contexts", "events", "artifact_types", "execution_types",
    "context_types",
]  # fmt: skip

_READ_ONLY = "read-only: filled in by the server, ignored on writes"


class Wire(BaseModel):
    """Base of the models: unknown fields are an error, not silently dropped, and values are
    taken as their JSON type only (:data:`metadb.wire.fields.STRICT`)."""

    model_config = STRICT


# -- types ---------------------------------------------------------------------------------


class _TypeWire(Wire):
    id: Id | None = Field(None, description=_READ_ONLY)
    name: TypeName
    version: Name | None = None
    description: Text | None = None
    external_id: Name | None = None
    properties: dict[Name, PropertyTypeName] = Field(default_factory=dict)
    base_type: SystemTypeName | None = None

    entity: ClassVar[type[m.ArtifactType | m.ExecutionType | m.ContextType]]

    def _common(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "external_id": self.external_id,
            "properties": {k: m.PropertyType[v] for k, v in self.properties.items()},
            "base_type": m.SystemType[self.base_type] if self.base_type else None,
        }

    @staticmethod
    def _common_of(t: m.ArtifactType | m.ExecutionType | m.ContextType) -> dict[str, Any]:
        return {
            "id": t.id,
            "name": t.name,
            "version": t.version,
            "description": t.description,
            "external_id": t.external_id,
            "properties": {k: m.PropertyType(v).name for k, v in t.properties.items()},
            "base_type": m.SystemType(t.base_type).name if t.base_type else None,
        }


class ArtifactType(_TypeWire):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Dataset", "version": "v1", "properties": {"day": "INT"}}]
        }
    )

    def to_entity(self) -> m.ArtifactType:
        return m.ArtifactType(**self._common())

    @classmethod
    def from_entity(cls, t: m.ArtifactType) -> ArtifactType:
        return cls(**cls._common_of(t))


class ExecutionType(_TypeWire):
    input_type: Text | None = Field(None, description="ArtifactStructType, in text form")
    output_type: Text | None = Field(None, description="ArtifactStructType, in text form")

    def to_entity(self) -> m.ExecutionType:
        return m.ExecutionType(
            **self._common(), input_type=self.input_type, output_type=self.output_type
        )

    @classmethod
    def from_entity(cls, t: m.ExecutionType) -> ExecutionType:
        return cls(**cls._common_of(t), input_type=t.input_type, output_type=t.output_type)


class ContextType(_TypeWire):
    def to_entity(self) -> m.ContextType:
        return m.ContextType(**self._common())

    @classmethod
    def from_entity(cls, t: m.ContextType) -> ContextType:
        return cls(**cls._common_of(t))


# -- nodes ---------------------------------------------------------------------------------


class _NodeWire(Wire):
    id: Id | None = Field(None, description="set to update the node with this id")
    type_id: Id | None = Field(None, description="required on writes")
    name: Name | None = None
    external_id: Name | None = None
    properties: dict[Name, Value] = Field(default_factory=dict)
    custom_properties: dict[Name, Value] = Field(default_factory=dict)
    type: str | None = Field(None, description=_READ_ONLY + " (the type's name)")
    create_time_since_epoch: Int64 | None = Field(None, description=_READ_ONLY)
    last_update_time_since_epoch: Int64 | None = Field(None, description=_READ_ONLY)

    def _common(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type_id": self.type_id,
            "name": self.name,
            "external_id": self.external_id,
            "properties": properties_from_wire(self.properties),
            "custom_properties": properties_from_wire(self.custom_properties),
            "type": self.type,
            "create_time_since_epoch": self.create_time_since_epoch,
            "last_update_time_since_epoch": self.last_update_time_since_epoch,
        }

    @staticmethod
    def _common_of(n: m.Artifact | m.Execution | m.Context) -> dict[str, Any]:
        return {
            "id": n.id,
            "type_id": n.type_id,
            "name": n.name,
            "external_id": n.external_id,
            "properties": properties_to_wire(n.properties),
            "custom_properties": properties_to_wire(n.custom_properties),
            "type": n.type,
            "create_time_since_epoch": n.create_time_since_epoch,
            "last_update_time_since_epoch": n.last_update_time_since_epoch,
        }


class Artifact(_NodeWire):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type_id": 10,
                    "uri": "s3://bucket/day1",
                    "state": "LIVE",
                    "properties": {"day": {"int_value": 1}},
                    "custom_properties": {"note": {"string_value": "first"}},
                }
            ]
        }
    )

    uri: Text | None = None
    state: ArtifactStateName | None = None

    def to_entity(self) -> m.Artifact:
        state = m.ArtifactState[self.state] if self.state else None
        return m.Artifact(**self._common(), uri=self.uri, state=state)

    @classmethod
    def from_entity(cls, n: m.Artifact) -> Artifact:
        state = m.ArtifactState(n.state).name if n.state is not None else None
        return cls.model_validate({**cls._common_of(n), "uri": n.uri, "state": state})


class Execution(_NodeWire):
    last_known_state: ExecutionStateName | None = None

    def to_entity(self) -> m.Execution:
        state = m.ExecutionState[self.last_known_state] if self.last_known_state else None
        return m.Execution(**self._common(), last_known_state=state)

    @classmethod
    def from_entity(cls, n: m.Execution) -> Execution:
        state = (
            m.ExecutionState(n.last_known_state).name if n.last_known_state is not None else None
        )
        return cls.model_validate({**cls._common_of(n), "last_known_state": state})


class Context(_NodeWire):
    def to_entity(self) -> m.Context:
        return m.Context(**self._common())

    @classmethod
    def from_entity(cls, n: m.Context) -> Context:
        return cls(**cls._common_of(n))


# -- events and links ----------------------------------------------------------------------


class Event(Wire):
    artifact_id: Id | None = None
    execution_id: Id | None = None
    type: EventTypeName
    path: list[Int32 | Text] = Field(
        default_factory=list, description="steps: an integer is an index, a string a key"
    )
    milliseconds_since_epoch: Int64 | None = None

    def to_entity(self) -> m.Event:
        return m.Event(
            self.artifact_id, self.execution_id, m.EventType[self.type], list(self.path),
            self.milliseconds_since_epoch,
        )  # fmt: skip

    @classmethod
    def from_entity(cls, e: m.Event) -> Event:
        return cls.model_validate(
            {
                "artifact_id": e.artifact_id,
                "execution_id": e.execution_id,
                "type": m.EventType(e.type).name,
                "path": list(e.path),
                "milliseconds_since_epoch": e.milliseconds_since_epoch,
            }
        )


class Attribution(Wire):
    context_id: Id
    artifact_id: Id


class Association(Wire):
    context_id: Id
    execution_id: Id


class ParentContext(Wire):
    child_id: Id
    parent_id: Id


# -- query parameters ----------------------------------------------------------------------


class OrderQuery(BaseModel):
    """Order, filter and size of a listing that returns everything at once (up to ``limit``)."""

    filter_query: Text | None = Field(
        None, description="ml-metadata's filter language", examples=["uri LIKE 's3://%'"]
    )
    order_by: OrderBy = "id"
    is_asc: bool = True
    limit: int | None = Field(None, ge=1, le=INT64_MAX, description="all when absent")

    def to_options(self) -> m.ListOptions:
        return m.ListOptions(
            limit=self.limit, order_by=self.order_by, is_asc=self.is_asc,
            filter_query=self.filter_query,
        )  # fmt: skip


class PageQuery(BaseModel):
    """One page of a listing: ``next_page_token`` of the previous page goes in ``page_token``."""

    filter_query: Text | None = Field(
        None, description="ml-metadata's filter language", examples=["uri LIKE 's3://%'"]
    )
    order_by: OrderBy = "id"
    is_asc: bool = True
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items per page")
    page_token: Annotated[str, Field(max_length=TOKEN_MAX_CHARS)] | None = None

    def to_options(self) -> m.ListOptions:
        return m.ListOptions(
            limit=self.limit, order_by=self.order_by, is_asc=self.is_asc,
            filter_query=self.filter_query, next_page_token=self.page_token,
        )  # fmt: skip


# -- responses -----------------------------------------------------------------------------

T = TypeVar("T")


class Items(Wire, Generic[T]):
    items: list[T]


class PageOf(Wire, Generic[T]):
    items: list[T]
    next_page_token: str | None = Field(None, description="null on the last page")


class ArtifactTypeList(Items[ArtifactType]):
    pass


class ExecutionTypeList(Items[ExecutionType]):
    pass


class ContextTypeList(Items[ContextType]):
    pass


class ArtifactList(Items[Artifact]):
    pass


class ExecutionList(Items[Execution]):
    pass


class ContextList(Items[Context]):
    pass


class EventList(Items[Event]):
    pass


class ArtifactPage(PageOf[Artifact]):
    pass


class ExecutionPage(PageOf[Execution]):
    pass


class ContextPage(PageOf[Context]):
    pass


class PutTypeResponse(Wire):
    type_id: int


class PutArtifactsResponse(Wire):
    artifact_ids: list[int]


class PutExecutionsResponse(Wire):
    execution_ids: list[int]


class PutContextsResponse(Wire):
    context_ids: list[int]


class Done(Wire):
    """A write that returns nothing but success."""


# -- requests ------------------------------------------------------------------------------


class _PutType(Wire):
    can_add_fields: bool = False
    can_omit_fields: bool = False


class PutArtifactTypeRequest(_PutType):
    artifact_type: ArtifactType


class PutExecutionTypeRequest(_PutType):
    execution_type: ExecutionType


class PutContextTypeRequest(_PutType):
    context_type: ContextType


class PutArtifactsRequest(Wire):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "artifacts": [
                        {
                            "type_id": 10,
                            "uri": "s3://b/day1",
                            "properties": {"day": {"int_value": 1}},
                        },
                        {"id": 3, "type_id": 10, "uri": "s3://b/day0", "state": "DELETED"},
                    ]
                }
            ]
        }
    )

    artifacts: list[Artifact]


class PutExecutionsRequest(Wire):
    executions: list[Execution]


class PutContextsRequest(Wire):
    contexts: list[Context]


class PutEventsRequest(Wire):
    events: list[Event]


class PutAttributionsAndAssociationsRequest(Wire):
    attributions: list[Attribution] = Field(default_factory=list)
    associations: list[Association] = Field(default_factory=list)


class PutParentContextsRequest(Wire):
    parent_contexts: list[ParentContext]
