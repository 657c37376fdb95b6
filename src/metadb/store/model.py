"""The store's entities: plain dataclasses with Python values, named as ml-metadata names them.

Property values are Python values: ``int``, ``float``, ``str``, ``bool``, ``dict``/``list`` for
a STRUCT, and for a PROTO either a protobuf message (packed into ``google.protobuf.Any``) or
:class:`ProtoValue` (an ``Any``'s type URL and serialized bytes, as read back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar


class PropertyType(IntEnum):
    """ml-metadata's ``PropertyType`` (TypeProperty.data_type)."""

    UNKNOWN = 0
    INT = 1
    DOUBLE = 2
    STRING = 3
    STRUCT = 4
    PROTO = 5
    BOOLEAN = 6


class ArtifactState(IntEnum):
    UNKNOWN = 0
    PENDING = 1
    LIVE = 2
    MARKED_FOR_DELETION = 3
    DELETED = 4
    ABANDONED = 5
    REFERENCE = 6


class ExecutionState(IntEnum):
    UNKNOWN = 0
    NEW = 1
    RUNNING = 2
    COMPLETE = 3
    FAILED = 4
    CACHED = 5
    CANCELED = 6


class EventType(IntEnum):
    UNKNOWN = 0
    DECLARED_OUTPUT = 1
    DECLARED_INPUT = 2
    INPUT = 3
    OUTPUT = 4
    INTERNAL_INPUT = 5
    INTERNAL_OUTPUT = 6
    PENDING_OUTPUT = 7


class TypeKind(IntEnum):
    """Type.type_kind."""

    EXECUTION = 0
    ARTIFACT = 1
    CONTEXT = 2


class SystemType(IntEnum):
    """The base types ml-metadata seeds; ``base_type`` of a user type names one of these."""

    DATASET = 1
    MODEL = 2
    METRICS = 3
    STATISTICS = 4
    TRAIN = 5
    TRANSFORM = 6
    PROCESS = 7
    EVALUATE = 8
    DEPLOY = 9


SYSTEM_TYPE_NAMES = {
    SystemType.DATASET: "mlmd.Dataset",
    SystemType.MODEL: "mlmd.Model",
    SystemType.METRICS: "mlmd.Metrics",
    SystemType.STATISTICS: "mlmd.Statistics",
    SystemType.TRAIN: "mlmd.Train",
    SystemType.TRANSFORM: "mlmd.Transform",
    SystemType.PROCESS: "mlmd.Process",
    SystemType.EVALUATE: "mlmd.Evaluate",
    SystemType.DEPLOY: "mlmd.Deploy",
}


@dataclass(frozen=True)
class ProtoValue:
    """A ``google.protobuf.Any``: the message's type URL and its serialized bytes."""

    type_url: str
    value: bytes


PropertyValue = Any  # int | float | str | bool | dict | ProtoValue | a protobuf message


@dataclass(slots=True)
class _Type:
    name: str
    properties: dict[str, PropertyType] = field(default_factory=dict)
    version: str | None = None
    description: str | None = None
    external_id: str | None = None
    base_type: SystemType | None = None
    id: int | None = None

    kind: ClassVar[TypeKind]


@dataclass(slots=True)
class ArtifactType(_Type):
    kind: ClassVar[TypeKind] = TypeKind.ARTIFACT


@dataclass(slots=True)
class ExecutionType(_Type):
    #: ml-metadata's ArtifactStructType for inputs and outputs, kept as its text form.
    input_type: str | None = None
    output_type: str | None = None
    kind: ClassVar[TypeKind] = TypeKind.EXECUTION


@dataclass(slots=True)
class ContextType(_Type):
    kind: ClassVar[TypeKind] = TypeKind.CONTEXT


AnyType = ArtifactType | ExecutionType | ContextType


@dataclass(slots=True)
class _Node:
    type_id: int | None = None
    name: str | None = None
    external_id: str | None = None
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    custom_properties: dict[str, PropertyValue] = field(default_factory=dict)
    id: int | None = None
    #: The type's name, filled in when read.
    type: str | None = None
    create_time_since_epoch: int | None = None
    last_update_time_since_epoch: int | None = None


@dataclass(slots=True)
class Artifact(_Node):
    uri: str | None = None
    state: ArtifactState | None = None


@dataclass(slots=True)
class Execution(_Node):
    last_known_state: ExecutionState | None = None


@dataclass(slots=True)
class Context(_Node):
    pass


AnyNode = Artifact | Execution | Context

#: A step of an event's path: an ``int`` (index step) or a ``str`` (key step).
PathStep = int | str


@dataclass(slots=True)
class Event:
    artifact_id: int | None
    execution_id: int | None
    type: EventType
    path: list[PathStep] = field(default_factory=list)
    milliseconds_since_epoch: int | None = None


@dataclass(frozen=True)
class Attribution:
    context_id: int
    artifact_id: int


@dataclass(frozen=True)
class Association:
    context_id: int
    execution_id: int


@dataclass(frozen=True)
class ParentContext:
    child_id: int
    parent_id: int


@dataclass
class ListOptions:
    """Order, page size, filter and page token of a list call (ml-metadata's ListOptions).

    ``order_by`` is "create_time", "last_update_time" or "id". ``limit`` None means all of them
    for ``get_*`` calls and a page of 20 for ``list_*`` calls; a page holds at most 1000 items
    and a larger ``limit`` is refused (:mod:`metadb.paging`). ``next_page_token`` is the
    previous page's token (ml-metadata's name for what the REST API and CLI call page_token).
    """

    limit: int | None = None
    order_by: str = "id"
    is_asc: bool = True
    filter_query: str | None = None
    next_page_token: str | None = None


@dataclass
class Page:
    """One page of a list call and the token of the next (None on the last page)."""

    items: list[Any]
    next_page_token: str | None


class LineageDirection(IntEnum):
    DIRECTION_UNSPECIFIED = 0  # treated as BIDIRECTIONAL, as ml-metadata does
    UPSTREAM = 1
    DOWNSTREAM = 2
    BIDIRECTIONAL = 3


@dataclass
class LineageSubgraphQueryOptions:
    """What :meth:`MetadataStore.get_lineage_subgraph` walks (ml-metadata's message of the name).

    Give exactly one of ``starting_artifacts`` / ``starting_executions`` (a filter_query); no
    matching node is a NotFoundError. Each artifact-execution edge is one hop; as in
    ml-metadata a walk takes at most 100 hops, also when ``max_num_hops`` is None.
    The walk stops at nodes matching ``ending_artifacts`` / ``ending_executions``, which are
    returned only with ``include_ending_nodes``. As in ml-metadata, a walk starts from at most
    101 nodes: those matching the starting filter with the lowest ids.
    """

    starting_artifacts: str | None = None
    starting_executions: str | None = None
    max_num_hops: int | None = None
    direction: LineageDirection = LineageDirection.BIDIRECTIONAL
    ending_artifacts: str | None = None
    ending_executions: str | None = None
    include_ending_nodes: bool = False


@dataclass
class LineageGraph:
    artifacts: list[Artifact] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    artifact_types: list[ArtifactType] = field(default_factory=list)
    execution_types: list[ExecutionType] = field(default_factory=list)
    context_types: list[ContextType] = field(default_factory=list)
