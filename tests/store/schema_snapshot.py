"""A normalised, diffable description of a database's MLMD tables (the golden-file format)."""

from __future__ import annotations

import warnings

import sqlalchemy

from metadb.db import Database

MLMD_TABLES = (
    "Type", "TypeProperty", "ParentType", "Artifact", "ArtifactProperty", "Execution",
    "ExecutionProperty", "Context", "ContextProperty", "ParentContext", "Event", "EventPath",
    "Attribution", "Association", "MLMDEnv",
)  # fmt: skip


def snapshot(url: str) -> str:
    """One line per column, key and index of the MLMD tables, sorted, for comparison."""
    db = Database.from_url(url)
    lines: list[str] = []
    try:
        with db.connect() as conn, warnings.catch_warnings():
            # SQLite reflects ml-metadata's TINYINT(1) as INTEGER(1) and warns about the argument.
            warnings.simplefilter("ignore", sqlalchemy.exc.SAWarning)
            inspector = sqlalchemy.inspect(conn)
            present = {t.lower(): t for t in inspector.get_table_names()}
            for wanted in MLMD_TABLES:
                table = present.get(wanted.lower())
                if table is None:
                    lines.append(f"{wanted}: MISSING")
                    continue
                for col in inspector.get_columns(table):
                    default = col.get("default")
                    lines.append(
                        f"{table}.{col['name']}: {col['type']!s} "
                        f"{'NULL' if col['nullable'] else 'NOT NULL'}"
                        f"{f' DEFAULT {default}' if default is not None else ''}"
                    )
                pk = inspector.get_pk_constraint(table)
                lines.append(f"{table} PRIMARY KEY ({', '.join(pk['constrained_columns'])})")
                for uc in inspector.get_unique_constraints(table):
                    lines.append(f"{table} UNIQUE {uc['name']} ({', '.join(uc['column_names'])})")
                for ix in inspector.get_indexes(table):
                    options = ix.get("dialect_options", {})
                    extra = " ".join(f"{k}={options[k]}" for k in sorted(options))
                    lines.append(
                        f"{table} {'UNIQUE ' if ix['unique'] else ''}INDEX {ix['name']} "
                        f"({', '.join(str(c) for c in ix['column_names'])}) {extra}".rstrip()
                    )
            [(version,)] = conn.exec_driver_sql(
                f"SELECT schema_version FROM {present.get('mlmdenv', 'MLMDEnv')}"
            ).all()
            lines.append(f"MLMDEnv.schema_version = {version}")
            type_table = present.get("type", "Type")
            for row in conn.exec_driver_sql(
                f"SELECT id, name, type_kind FROM {type_table} WHERE id < 10 ORDER BY id"
            ):
                lines.append(f"seeded type {row[0]} {row[1]} kind {row[2]}")
    finally:
        db.dispose()
    return "\n".join(sorted(lines)) + "\n"
