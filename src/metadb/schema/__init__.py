"""metadb's own migrations (one folder per dialect) and how it adopts existing databases.

Migration 1 creates ml-metadata's tables at MLMD schema version 10, exactly as ml-metadata 1.17
does. A database that ml-metadata created (it has ``MLMDEnv`` but no version table) already
holds that schema, so metadb records version 1 for it instead of running the DDL again.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from metadb.errors import UnsupportedSchemaError

#: The MLMD schema version metadb reads and writes.
MLMD_SCHEMA_VERSION = 10
#: The bundled migration whose result is MLMD schema version 10.
MLMD_MIGRATION = 1


def existing_schema_version(conn: Connection) -> int | None:
    """The bundled version an unversioned database already has, or None for an empty one.

    Raises:
        UnsupportedSchemaError: ml-metadata's tables are there, at another MLMD schema version.
    """
    tables = {name.lower(): name for name in inspect(conn).get_table_names()}
    env = tables.get("mlmdenv")
    if env is None:
        return None
    quoted = conn.dialect.identifier_preparer.quote(env)
    found = conn.execute(text(f"SELECT MAX(schema_version) FROM {quoted}")).scalar()
    if found is None or int(found) != MLMD_SCHEMA_VERSION:
        raise UnsupportedSchemaError(int(found or 0), MLMD_SCHEMA_VERSION)
    return MLMD_MIGRATION
