"""SQLAlchemy Core descriptions of ml-metadata's tables, for queries (the DDL is in migrations).

ml-metadata names its tables ``Artifact``, ``ArtifactProperty``, ... and leaves them unquoted on
PostgreSQL, where they become lower-case; :func:`mlmd_tables` returns the set for a dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.types import NullType


@dataclass(frozen=True)
class NodeTables:
    """The node table of one kind (artifact, execution, context) and its property table."""

    kind: str
    node: Table
    properties: Table
    #: The property table's column that points at the node: artifact_id, execution_id, ...
    owner: str


@dataclass(frozen=True)
class MlmdTables:
    metadata: MetaData
    type: Table
    type_property: Table
    parent_type: Table
    artifact: NodeTables
    execution: NodeTables
    context: NodeTables
    event: Table
    event_path: Table
    attribution: Table
    association: Table
    parent_context: Table
    mlmd_env: Table

    def nodes(self, kind: str) -> NodeTables:
        return {"artifact": self.artifact, "execution": self.execution, "context": self.context}[
            kind
        ]


def _property_table(metadata: MetaData, name: str, owner: str) -> Table:
    return Table(
        name,
        metadata,
        Column(owner, Integer, primary_key=True),
        Column("name", String(255), primary_key=True),
        Column("is_custom_property", Boolean, primary_key=True),
        Column("int_value", BigInteger),
        Column("double_value", Float(53)),
        Column("string_value", Text),
        Column("byte_value", LargeBinary),
        # ml-metadata keeps base64 *text* here on SQLite: no binary processing there.
        Column("proto_value", LargeBinary().with_variant(NullType(), "sqlite")),
        Column("bool_value", Boolean),
    )


def _times() -> list[Column[int]]:
    return [
        Column("create_time_since_epoch", BigInteger, nullable=False, default=0),
        Column("last_update_time_since_epoch", BigInteger, nullable=False, default=0),
    ]


@cache
def mlmd_tables(dialect: str) -> MlmdTables:
    """The MLMD tables as named on ``dialect`` ("sqlite", "postgresql" or "mysql")."""
    lower = dialect == "postgresql"

    def n(name: str) -> str:
        return name.lower() if lower else name

    md = MetaData()
    type_ = Table(
        n("Type"),
        md,
        Column("id", Integer, primary_key=True),
        Column("name", String(255), nullable=False),
        Column("version", String(255)),
        Column("type_kind", SmallInteger, nullable=False),
        Column("description", Text),
        Column("input_type", Text),
        Column("output_type", Text),
        Column("external_id", String(255)),
    )
    type_property = Table(
        n("TypeProperty"),
        md,
        Column("type_id", Integer, primary_key=True),
        Column("name", String(255), primary_key=True),
        Column("data_type", Integer),
    )
    parent_type = Table(
        n("ParentType"),
        md,
        Column("type_id", Integer, primary_key=True),
        Column("parent_type_id", Integer, primary_key=True),
    )
    artifact = Table(
        n("Artifact"),
        md,
        Column("id", Integer, primary_key=True),
        Column("type_id", Integer, nullable=False),
        Column("uri", Text),
        Column("state", Integer),
        Column("name", String(255)),
        Column("external_id", String(255)),
        *_times(),
    )
    execution = Table(
        n("Execution"),
        md,
        Column("id", Integer, primary_key=True),
        Column("type_id", Integer, nullable=False),
        Column("last_known_state", Integer),
        Column("name", String(255)),
        Column("external_id", String(255)),
        *_times(),
    )
    context = Table(
        n("Context"),
        md,
        Column("id", Integer, primary_key=True),
        Column("type_id", Integer, nullable=False),
        Column("name", String(255), nullable=False),
        Column("external_id", String(255)),
        *_times(),
    )
    event = Table(
        n("Event"),
        md,
        Column("id", Integer, primary_key=True),
        Column("artifact_id", Integer, nullable=False),
        Column("execution_id", Integer, nullable=False),
        Column("type", Integer, nullable=False),
        Column("milliseconds_since_epoch", BigInteger),
    )
    event_path = Table(
        n("EventPath"),
        md,
        Column("event_id", Integer, nullable=False),
        Column("is_index_step", Boolean, nullable=False),
        Column("step_index", Integer),
        Column("step_key", Text),
    )
    attribution = Table(
        n("Attribution"),
        md,
        Column("id", Integer, primary_key=True),
        Column("context_id", Integer, nullable=False),
        Column("artifact_id", Integer, nullable=False),
    )
    association = Table(
        n("Association"),
        md,
        Column("id", Integer, primary_key=True),
        Column("context_id", Integer, nullable=False),
        Column("execution_id", Integer, nullable=False),
    )
    parent_context = Table(
        n("ParentContext"),
        md,
        Column("context_id", Integer, primary_key=True),
        Column("parent_context_id", Integer, primary_key=True),
    )
    mlmd_env = Table(n("MLMDEnv"), md, Column("schema_version", Integer, primary_key=True))
    return MlmdTables(
        metadata=md,
        type=type_,
        type_property=type_property,
        parent_type=parent_type,
        artifact=NodeTables(
            "artifact", artifact, _property_table(md, n("ArtifactProperty"), "artifact_id"),
            "artifact_id",
        ),
        execution=NodeTables(
            "execution", execution, _property_table(md, n("ExecutionProperty"), "execution_id"),
            "execution_id",
        ),
        context=NodeTables(
            "context", context, _property_table(md, n("ContextProperty"), "context_id"),
            "context_id",
        ),
        event=event,
        event_path=event_path,
        attribution=attribution,
        association=association,
        parent_context=parent_context,
        mlmd_env=mlmd_env,
    )  # fmt: skip
