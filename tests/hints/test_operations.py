"""Parsing pending statements into operations, and DDL behaviour by server version."""

from __future__ import annotations

from typing import Any

import pytest

from metadb.hints.facts_mysql import MariadbFacts, MysqlFacts
from metadb.hints.operations import parse_operations


def ops(sql: str, dialect: str) -> list[tuple[Any, ...]]:
    return [(o.kind, o.table, o.columns) for o in parse_operations(sql, dialect)]


def test_one_alter_with_several_actions_gives_one_operation_each():
    assert ops(
        "ALTER TABLE t ADD COLUMN c int, DROP COLUMN d, ALTER COLUMN e SET NOT NULL", "postgres"
    ) == [("add_column", "t", ("c",)), ("drop_column", "t", ("d",)), ("set_not_null", "t", ("e",))]


def test_postgresql_identifiers_fold_to_lower_case_unless_quoted():
    assert ops('CREATE UNIQUE INDEX ix ON "Big" (A, b)', "postgres") == [
        ("create_index", "Big", ("a", "b"))
    ]


def test_index_flags_concurrently_unique_and_partial_predicate():
    (op,) = parse_operations(
        "CREATE UNIQUE INDEX CONCURRENTLY ix ON s.t (a) WHERE deleted IS NULL", "postgres"
    )
    assert (op.schema, op.unique, op.concurrently, op.predicate) == (
        "s",
        True,
        True,
        "deleted IS NULL",
    )


def test_an_index_on_expressions_has_no_key_columns_to_check():
    (op,) = parse_operations("CREATE UNIQUE INDEX ix ON t (lower(email))", "postgres")
    assert op.unique and op.columns == ()


def test_default_functions_are_named_for_the_volatility_lookup():
    (op,) = parse_operations(
        "ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()", "postgres"
    )
    assert op.default_functions == ("gen_random_uuid",)
    (serial,) = parse_operations("ALTER TABLE t ADD COLUMN n bigserial", "postgres")
    assert serial.generated


def test_not_valid_constraints():
    (fk,) = parse_operations(
        "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES o (id) NOT VALID", "postgres"
    )
    assert (fk.kind, fk.constraint, fk.not_valid) == ("add_constraint", "foreign_key", True)


def test_statements_sqlglot_reads_only_as_commands():
    assert ops("ALTER TABLE t VALIDATE CONSTRAINT c", "postgres") == [
        ("validate_constraint", "t", ())
    ]
    assert ops("RENAME TABLE a TO b, c TO d", "mysql") == [
        ("rename_table", "a", ()),
        ("rename_table", "c", ()),
    ]
    (ft,) = parse_operations("CREATE FULLTEXT INDEX ft ON t (body)", "mysql")
    assert (ft.kind, ft.constraint) == ("create_index", "fulltext")
    (copy,) = parse_operations("CREATE INDEX ix ON t (a) ALGORITHM=COPY LOCK=SHARED", "mysql")
    assert (copy.algorithm, copy.lock) == ("COPY", "SHARED")


def test_mysql_modify_and_change():
    assert ops("ALTER TABLE t MODIFY c INT NOT NULL", "mysql") == [
        ("change_type", "t", ("c",)),
        ("set_not_null", "t", ("c",)),
    ]
    assert [o.kind for o in parse_operations("ALTER TABLE t CHANGE c d BIGINT", "mysql")] == [
        "change_type",
        "rename_column",
    ]


def test_statements_without_schema_changes_give_nothing():
    assert ops("INSERT INTO t VALUES (1)", "postgres") == []
    assert ops("CREATE VIEW v AS SELECT 1", "postgres") == []
    assert ops("this is not sql", "postgres") == []


@pytest.mark.parametrize(
    ("facts_class", "version", "sql", "rewrites"),
    [
        (MysqlFacts, "8.0.11", "ALTER TABLE t ADD COLUMN c INT", True),
        (MysqlFacts, "8.0.12", "ALTER TABLE t ADD COLUMN c INT", False),
        (MysqlFacts, "8.0.20", "ALTER TABLE t ADD COLUMN c INT AFTER a", True),
        (MysqlFacts, "8.0.29", "ALTER TABLE t ADD COLUMN c INT FIRST", False),
        (MysqlFacts, "8.0.35", "ALTER TABLE t ADD COLUMN c INT, ALGORITHM=INPLACE", True),
        (MariadbFacts, "10.2.40-MariaDB", "ALTER TABLE t ADD COLUMN c INT", True),
        (MariadbFacts, "10.3.5-MariaDB", "ALTER TABLE t ADD COLUMN c INT", False),
        (MariadbFacts, "10.3.5-MariaDB", "ALTER TABLE t ADD COLUMN c INT AFTER a", True),
        (MariadbFacts, "10.11.6-MariaDB", "ALTER TABLE t ADD COLUMN c INT FIRST", False),
        (MariadbFacts, "10.11.6-MariaDB", "ALTER TABLE t ADD COLUMN c INT AUTO_INCREMENT", True),
    ],
)
def test_mysql_instant_add_column_depends_on_the_server_version(
    facts_class: type[MysqlFacts], version: str, sql: str, rewrites: bool
):
    facts = facts_class(None, version)  # type: ignore[arg-type]  # version rules read no data
    (op,) = parse_operations(sql, "mysql")

    assert (facts.add_column_rewrite(op) is not None) == rewrites
