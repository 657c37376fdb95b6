"""SQLAlchemy Core descriptions of the runs tables (the DDL is bundled migration 3)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql, postgresql

metadata = MetaData()

_Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only
_Json = JSON().with_variant(postgresql.JSONB(), "postgresql")
_LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

run = Table(
    "metadb_run",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("pipeline_name", String(255)),
    Column("created_by", String(255)),
    Column("state", String(32), nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
    Column("finished_at_ms", BigInteger),
    Column("pipeline_spec", _LongText),
    Column("extra_data", _Json),
    Column("mlmd_context_id", Integer),
)

annotation = Table(
    "metadb_run_annotation",
    metadata,
    Column("run_id", BigInteger, primary_key=True),
    Column("annotation_key", String(255), primary_key=True),
    Column("annotation_value", String(255), nullable=False),
)

metric = Table(
    "metadb_run_metric",
    metadata,
    Column("run_id", BigInteger, primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", Float(53), nullable=False),
)

task = Table(
    "metadb_run_task",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, nullable=False),
    Column("name", String(255), nullable=False),
    Column("state", String(32), nullable=False),
    Column("started_at_ms", BigInteger),
    Column("finished_at_ms", BigInteger),
    Column("mlmd_execution_id", Integer),
)

backfill = Table(
    "metadb_backfill",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("description", Text),
    Column("state", String(16), nullable=False),
    Column("cursor_value", Text),
    Column("rows_done", BigInteger, nullable=False, default=0),
    Column("rows_estimate", BigInteger),
    Column("batch_size", Integer),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("started_at_ms", BigInteger),
    Column("updated_at_ms", BigInteger),
    Column("finished_at_ms", BigInteger),
)
