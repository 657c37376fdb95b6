"""SQLAlchemy Core descriptions of ml-metadata's tables, for queries (the DDL is in migrations).

ml-metadata names its tables ``Artifact``, ``ArtifactProperty``, ... and leaves them unquoted on
PostgreSQL, where they become lower-case; :func:`mlmd_tables` returns the set for a dialect.

In a text mode that converts (MySQL's "mlmd-latin1", :meth:`Dialect.mlmd_text_codec`) every text
column is an :class:`MlmdText`, so that each value bound to it (inserts, updates, comparisons in
WHERE and filter queries) and each value read from it is converted. Code that bypasses
SQLAlchemy's type processing (:func:`metadb.store.session.insert_rows`) converts by the same
column types.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

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
from sqlalchemy.engine import Dialect as SqlDialect
from sqlalchemy.types import NullType, TypeDecorator, TypeEngine

from metadb.db.dialect import Dialect, TextCodec, dialect_for

#: Ids and references to ids. The columns are INT on PostgreSQL and MySQL, but values are bound
#: as BIGINT: SQLAlchemy's psycopg dialect casts each bound value to its column's type, and an
#: id past 2**31 - 1 (``get_artifacts_by_id([2**40])``) must be a miss, not "integer out of
#: range". PostgreSQL's btree integer operator family compares INT with BIGINT on the index.
IdType = BigInteger


class MlmdText(TypeDecorator[str]):
    """A VARCHAR or TEXT column whose values are converted by a :class:`TextCodec`."""

    impl = String
    cache_ok = True

    def __init__(self, codec: TextCodec, length: int | None = None) -> None:
        super().__init__(length)
        self.codec = codec

    def process_bind_param(self, value: Any, dialect: SqlDialect) -> Any:
        return self.codec.to_db(value) if isinstance(value, str) else value

    def process_result_value(self, value: Any, dialect: SqlDialect) -> Any:
        return self.codec.from_db(value) if isinstance(value, str) else value


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


class _TextTypes:
    """The column types of text columns: plain, or :class:`MlmdText` with a codec."""

    def __init__(self, codec: TextCodec | None) -> None:
        self.codec = codec

    def varchar(self, length: int) -> TypeEngine[str]:
        return String(length) if self.codec is None else MlmdText(self.codec, length)

    def text(self) -> TypeEngine[str]:
        return Text() if self.codec is None else MlmdText(self.codec)


def _property_table(
    metadata: MetaData, name: str, owner: str, text: _TextTypes, proto: TypeEngine[Any]
) -> Table:
    return Table(
        name,
        metadata,
        Column(owner, IdType, primary_key=True),
        Column("name", text.varchar(255), primary_key=True),
        Column("is_custom_property", Boolean, primary_key=True),
        Column("int_value", BigInteger),
        Column("double_value", Float(53)),
        Column("string_value", text.text()),
        Column("byte_value", LargeBinary),
        Column("proto_value", proto),
        Column("bool_value", Boolean),
    )


def _times() -> list[Column[int]]:
    return [
        Column("create_time_since_epoch", BigInteger, nullable=False, default=0),
        Column("last_update_time_since_epoch", BigInteger, nullable=False, default=0),
    ]


def mlmd_tables(dialect: str, text_mode: str = "utf8mb4") -> MlmdTables:
    """The MLMD tables as named on ``dialect`` ("sqlite", "postgresql" or "mysql"), with the
    column types of ``text_mode`` (see :data:`metadb.db.urls.MYSQL_TEXT_MODES`). Built once per
    dialect and conversion.

    Raises:
        ConfigError: ``text_mode`` is not a text mode.
    """
    rules = dialect_for(dialect)
    return _build(rules, rules.mlmd_text_codec(text_mode))


@cache
def _build(dialect: Dialect, codec: TextCodec | None) -> MlmdTables:
    lower = dialect.mlmd_lower_case_names
    text = _TextTypes(codec)
    # Where ml-metadata keeps base64 *text* in the BLOB column (SQLite), no binary processing.
    proto: TypeEngine[Any] = (
        NullType() if dialect.mlmd_proto_storage == "base64-text" else LargeBinary()
    )

    def n(name: str) -> str:
        return name.lower() if lower else name

    md = MetaData()
    type_ = Table(
        n("Type"),
        md,
        Column("id", IdType, primary_key=True),
        Column("name", text.varchar(255), nullable=False),
        Column("version", text.varchar(255)),
        Column("type_kind", SmallInteger, nullable=False),
        Column("description", text.text()),
        Column("input_type", text.text()),
        Column("output_type", text.text()),
        Column("external_id", text.varchar(255)),
    )
    type_property = Table(
        n("TypeProperty"),
        md,
        Column("type_id", IdType, primary_key=True),
        Column("name", text.varchar(255), primary_key=True),
        Column("data_type", Integer),
    )
    parent_type = Table(
        n("ParentType"),
        md,
        Column("type_id", IdType, primary_key=True),
        Column("parent_type_id", IdType, primary_key=True),
    )
    artifact = Table(
        n("Artifact"),
        md,
        Column("id", IdType, primary_key=True),
        Column("type_id", IdType, nullable=False),
        Column("uri", text.text()),
        Column("state", Integer),
        Column("name", text.varchar(255)),
        Column("external_id", text.varchar(255)),
        *_times(),
    )
    execution = Table(
        n("Execution"),
        md,
        Column("id", IdType, primary_key=True),
        Column("type_id", IdType, nullable=False),
        Column("last_known_state", Integer),
        Column("name", text.varchar(255)),
        Column("external_id", text.varchar(255)),
        *_times(),
    )
    context = Table(
        n("Context"),
        md,
        Column("id", IdType, primary_key=True),
        Column("type_id", IdType, nullable=False),
        Column("name", text.varchar(255), nullable=False),
        Column("external_id", text.varchar(255)),
        *_times(),
    )
    event = Table(
        n("Event"),
        md,
        Column("id", IdType, primary_key=True),
        Column("artifact_id", IdType, nullable=False),
        Column("execution_id", IdType, nullable=False),
        Column("type", Integer, nullable=False),
        Column("milliseconds_since_epoch", BigInteger),
    )
    event_path = Table(
        n("EventPath"),
        md,
        Column("event_id", IdType, nullable=False),
        Column("is_index_step", Boolean, nullable=False),
        Column("step_index", Integer),
        Column("step_key", text.text()),
    )
    attribution = Table(
        n("Attribution"),
        md,
        Column("id", IdType, primary_key=True),
        Column("context_id", IdType, nullable=False),
        Column("artifact_id", IdType, nullable=False),
    )
    association = Table(
        n("Association"),
        md,
        Column("id", IdType, primary_key=True),
        Column("context_id", IdType, nullable=False),
        Column("execution_id", IdType, nullable=False),
    )
    parent_context = Table(
        n("ParentContext"),
        md,
        Column("context_id", IdType, primary_key=True),
        Column("parent_context_id", IdType, primary_key=True),
    )
    mlmd_env = Table(n("MLMDEnv"), md, Column("schema_version", Integer, primary_key=True))

    def nodes(kind: str, node: Table) -> NodeTables:
        owner = f"{kind}_id"
        properties = _property_table(md, n(f"{kind.capitalize()}Property"), owner, text, proto)
        return NodeTables(kind, node, properties, owner)

    return MlmdTables(
        metadata=md,
        type=type_,
        type_property=type_property,
        parent_type=parent_type,
        artifact=nodes("artifact", artifact),
        execution=nodes("execution", execution),
        context=nodes("context", context),
        event=event,
        event_path=event_path,
        attribution=attribution,
        association=association,
        parent_context=parent_context,
        mlmd_env=mlmd_env,
    )
