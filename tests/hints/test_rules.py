"""Each rule finds its problem on a real table (true positive) and stays quiet when the
problem is absent (true negative), on every database where the rule applies."""

from __future__ import annotations

import time

import pytest

from tests.hints.conftest import (
    CheckSql,
    execute,
    finding,
    make_items,
    open_transaction,
    rule_ids,
    write_load,
)

ALL = ["sqlite", "postgresql", "mysql"]
SERVERS = ["postgresql", "mysql"]


# -- 1, 2: blocking index builds ------------------------------------------------------------


@pytest.mark.parametrize("backend", ALL)
def test_a_plain_index_on_a_large_table_blocks_writes_where_the_database_builds_it_offline(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend)
    blocking = {
        "sqlite": "CREATE INDEX items_note ON items (note);",
        "postgresql": "CREATE INDEX items_note ON items (note);",
        "mysql": "CREATE INDEX items_note ON items (note) ALGORITHM=COPY;",
    }[backend]

    hit = finding(check_sql(blocking), "blocking-index")

    assert hit.severity == "warning" and hit.table == "items" and hit.line == 1
    assert hit.evidence["estimated_rows"] >= 1000
    assert hit.safer


@pytest.mark.parametrize("backend", ALL)
def test_an_online_index_build_or_a_small_table_is_not_a_blocking_index(
    database_url: str, backend: str, check_sql: CheckSql
):
    if backend == "sqlite":  # SQLite has no online build: only size decides
        make_items(database_url, backend, rows=200)
        report = check_sql("CREATE INDEX items_note ON items (note);")
    elif backend == "postgresql":
        make_items(database_url, backend)
        report = check_sql(
            "CREATE INDEX CONCURRENTLY items_note ON items (note);", no_transaction=True
        )
    else:  # MySQL/MariaDB build secondary indexes INPLACE with concurrent writes
        make_items(database_url, backend)
        report = check_sql("CREATE INDEX items_note ON items (note);")

    assert report.findings == []


@pytest.mark.parametrize("backend", SERVERS)
def test_a_blocking_index_on_a_table_with_heavy_writes_is_flagged_with_the_rate(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100)
    sql = {
        "postgresql": "CREATE INDEX items_note ON items (note);",
        "mysql": "ALTER TABLE items ADD INDEX items_note (note), LOCK=SHARED;",
    }[backend]
    with write_load(database_url):
        report = check_sql(sql, heavy_writes_per_second=20, write_sample_seconds=2.5)

    hit = finding(report, "blocking-index-heavy-writes")
    assert hit.evidence["writes_per_second"] >= 20
    assert hit.evidence["writes_scope"] == "table"
    assert "blocking-index" not in rule_ids(report)  # 100 rows is not large


@pytest.mark.parametrize("backend", SERVERS)
def test_a_blocking_index_on_a_quiet_table_is_not_a_heavy_writes_finding(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100)
    sql = {
        "postgresql": "CREATE INDEX items_note ON items (note);",
        "mysql": "ALTER TABLE items ADD INDEX items_note (note), LOCK=SHARED;",
    }[backend]

    report = check_sql(sql, heavy_writes_per_second=20, write_sample_seconds=1.5)

    assert rule_ids(report) == []


# -- 3, 4: adding columns ------------------------------------------------------------------


@pytest.mark.parametrize("backend", SERVERS)
def test_adding_a_column_that_rewrites_a_large_table_is_flagged(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend)
    sql = {
        "postgresql": "ALTER TABLE items ADD COLUMN score float DEFAULT random();",
        "mysql": "ALTER TABLE items ADD COLUMN score INT, ALGORITHM=COPY;",
    }[backend]

    hit = finding(check_sql(sql), "add-column-rewrite")

    assert hit.evidence["estimated_rows"] >= 1000
    assert "random" in hit.message or "COPY" in hit.message


@pytest.mark.parametrize("backend", SERVERS)
def test_adding_a_column_with_a_constant_default_or_instantly_is_not_a_rewrite(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend)
    sql = {
        # PostgreSQL 11+ stores a constant (or stable: now()) default in the catalog.
        "postgresql": "ALTER TABLE items ADD COLUMN score int DEFAULT 0, "
        "ADD COLUMN seen timestamptz DEFAULT now();",
        # MariaDB 10.4+ / MySQL 8.0.29+ add columns INSTANT at any position.
        "mysql": "ALTER TABLE items ADD COLUMN score INT DEFAULT 0 AFTER code;",
    }[backend]

    assert check_sql(sql).findings == []


@pytest.mark.parametrize("backend", SERVERS)
def test_adding_a_column_to_a_table_with_heavy_writes_is_flagged(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100)
    with write_load(database_url):
        report = check_sql(
            "ALTER TABLE items ADD COLUMN score INTEGER;",
            heavy_writes_per_second=20,
            write_sample_seconds=2.5,
        )

    hit = finding(report, "add-column-heavy-writes")
    assert hit.evidence["writes_per_second"] >= 20


@pytest.mark.parametrize("backend", SERVERS)
def test_adding_a_column_to_a_quiet_table_is_not_a_heavy_writes_finding(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100)

    report = check_sql(
        "ALTER TABLE items ADD COLUMN score INTEGER;",
        heavy_writes_per_second=20,
        write_sample_seconds=1.5,
    )

    assert report.findings == []


# -- 5: unique over duplicates ---------------------------------------------------------------


@pytest.mark.parametrize("backend", ALL)
def test_a_unique_index_over_duplicates_is_an_error_with_the_count_and_an_example(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100, duplicate_codes=4)

    hit = finding(check_sql("CREATE UNIQUE INDEX items_code ON items (code);"), "unique-duplicates")

    assert hit.severity == "error"
    assert hit.evidence["duplicate_rows"] == 3  # four rows share 'dup': three too many
    assert hit.evidence["example"] == {"code": "dup"}


@pytest.mark.parametrize("backend", ALL)
def test_a_unique_constraint_over_distinct_values_and_nulls_is_fine(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100, null_notes=10)  # NULLs never collide
    sql = "CREATE UNIQUE INDEX items_note ON items (note);"
    if backend != "sqlite":
        sql = "ALTER TABLE items ADD CONSTRAINT items_note UNIQUE (note);"

    assert check_sql(sql).findings == []


@pytest.mark.parametrize("backend", SERVERS)
def test_a_unique_constraint_added_by_alter_table_sees_the_duplicates(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100, duplicate_codes=2)

    report = check_sql("ALTER TABLE items ADD CONSTRAINT items_code UNIQUE (code);")

    assert finding(report, "unique-duplicates").evidence["duplicate_rows"] == 1


# -- 6, 7: constraint validation -------------------------------------------------------------


@pytest.mark.parametrize("backend", SERVERS)
def test_a_foreign_key_validated_over_a_large_table_is_flagged(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend)
    execute(database_url, "CREATE TABLE owners (id INTEGER PRIMARY KEY)")

    report = check_sql(
        "ALTER TABLE items ADD CONSTRAINT items_owner FOREIGN KEY (qty) REFERENCES owners (id);"
    )

    hit = finding(report, "constraint-validation-scan")
    assert hit.evidence["estimated_rows"] >= 1000
    if backend == "postgresql":
        assert "NOT VALID" in hit.safer


@pytest.mark.parametrize("backend", SERVERS)
def test_a_constraint_added_not_valid_or_on_a_small_table_is_fine(
    database_url: str, backend: str, check_sql: CheckSql
):
    if backend == "postgresql":
        make_items(database_url, backend)
        sql = "ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty >= 0) NOT VALID;"
    else:
        make_items(database_url, backend, rows=100)
        sql = "ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty >= 0);"

    assert check_sql(sql).findings == []


@pytest.mark.parametrize("backend", SERVERS)
def test_a_check_constraint_validated_on_a_table_with_heavy_writes_is_flagged(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100)
    with write_load(database_url):
        report = check_sql(
            "ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty >= 0);",
            heavy_writes_per_second=20,
            write_sample_seconds=2.5,
        )

    assert finding(report, "constraint-validation-heavy-writes").evidence["writes_per_second"]


def test_a_not_valid_check_on_a_busy_postgresql_table_is_fine(postgresql_url: str, tmp_path):
    from metadb.hints import HintSettings, check_pending
    from metadb.migrate import MigrateConfig

    make_items(postgresql_url, "postgresql", rows=100)
    source = tmp_path / "m"
    source.mkdir()
    (source / "1_c.up.sql").write_text(
        "ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty >= 0) NOT VALID;"
    )
    (source / "1_c.down.sql").write_text("SELECT 1;")
    with write_load(postgresql_url):
        report = check_pending(
            MigrateConfig(database=postgresql_url, source=source),
            settings=HintSettings(heavy_writes_per_second=20, write_sample_seconds=2.5),
        )

    assert "constraint-validation-heavy-writes" not in rule_ids(report)
    assert "add-column-heavy-writes" not in rule_ids(report)


# -- 8: NOT NULL over NULLs, and the scan it needs ------------------------------------------

SET_NOT_NULL = {
    "postgresql": "ALTER TABLE items ALTER COLUMN note SET NOT NULL;",
    "mysql": "ALTER TABLE items MODIFY note VARCHAR(40) NOT NULL;",
}


@pytest.mark.parametrize("backend", SERVERS)
def test_set_not_null_over_nulls_is_an_error_with_the_count(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100, null_notes=7)

    hit = finding(check_sql(SET_NOT_NULL[backend]), "not-null-with-nulls")

    assert hit.severity == "error"
    assert hit.evidence["null_rows"] == 7


@pytest.mark.parametrize("backend", SERVERS)
def test_set_not_null_on_a_column_without_nulls_is_fine_on_a_small_table(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=100)

    assert check_sql(SET_NOT_NULL[backend]).findings == []


def test_set_not_null_scans_a_large_postgresql_table_unless_a_validated_check_exists(
    postgresql_url: str, tmp_path
):
    from metadb.hints import HintSettings, check_pending
    from metadb.migrate import MigrateConfig

    make_items(postgresql_url, "postgresql")
    source = tmp_path / "m"
    source.mkdir()
    (source / "1_c.up.sql").write_text(SET_NOT_NULL["postgresql"])
    (source / "1_c.down.sql").write_text("SELECT 1;")
    config = MigrateConfig(database=postgresql_url, source=source)
    settings = HintSettings(large_table_rows=1000, write_sample_seconds=0)

    before = check_pending(config, settings=settings)
    execute(postgresql_url, "ALTER TABLE items ADD CONSTRAINT note_nn CHECK (note IS NOT NULL)")
    after = check_pending(config, settings=settings)

    assert rule_ids(before) == ["set-not-null-scan"]
    assert "CHECK (note IS NOT NULL) NOT VALID" in before.findings[0].safer
    assert rule_ids(after) == []


# -- 9: NOT NULL column without a default -----------------------------------------------------


@pytest.mark.parametrize("backend", ALL)
def test_a_not_null_column_without_default_on_a_table_with_rows_is_flagged(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=3)

    hit = finding(
        check_sql("ALTER TABLE items ADD COLUMN flag INTEGER NOT NULL;"), "not-null-without-default"
    )

    # MySQL fills existing rows with 0 instead of failing: a warning there.
    assert hit.severity == ("warning" if backend == "mysql" else "error")


@pytest.mark.parametrize("backend", ALL)
def test_a_not_null_column_on_an_empty_table_or_with_a_default_is_fine(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=0)
    execute(database_url, "CREATE TABLE other (id INTEGER PRIMARY KEY)")
    execute(database_url, "INSERT INTO other (id) VALUES (1)")

    report = check_sql(
        "ALTER TABLE items ADD COLUMN flag INTEGER NOT NULL;\n"
        "ALTER TABLE other ADD COLUMN flag INTEGER NOT NULL DEFAULT 0;\n"
    )

    assert report.findings == []


# -- type changes, drops, renames --------------------------------------------------------------


@pytest.mark.parametrize("backend", SERVERS)
def test_a_type_change_that_rewrites_a_large_table_is_flagged(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend)
    sql = {
        "postgresql": "ALTER TABLE items ALTER COLUMN qty TYPE bigint;",
        "mysql": "ALTER TABLE items MODIFY qty BIGINT;",
    }[backend]

    hit = finding(check_sql(sql), "type-change-rewrite")

    assert hit.evidence["new_type"] == "BIGINT"
    assert "INT" in hit.evidence["current_type"].upper()


@pytest.mark.parametrize("backend", SERVERS)
def test_widening_a_varchar_in_place_is_not_a_rewrite(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend)
    sql = {
        "postgresql": "ALTER TABLE items ALTER COLUMN note TYPE varchar(60);",
        "mysql": "ALTER TABLE items MODIFY note VARCHAR(60);",
    }[backend]

    assert check_sql(sql).findings == []


@pytest.mark.parametrize("backend", ALL)
def test_dropping_a_table_or_column_that_holds_data_is_flagged(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=5)

    report = check_sql("ALTER TABLE items DROP COLUMN note;\nDROP TABLE items;\n")

    assert rule_ids(report) == ["drop-with-data", "drop-with-data"]
    assert [f.line for f in report.findings] == [1, 2]


@pytest.mark.parametrize("backend", ALL)
def test_dropping_an_empty_table_or_an_all_null_column_is_fine(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=5, null_notes=5)
    execute(database_url, "CREATE TABLE unused (id INTEGER PRIMARY KEY)")

    report = check_sql("ALTER TABLE items DROP COLUMN note;\nDROP TABLE unused;\n")

    assert report.findings == []


@pytest.mark.parametrize("backend", ALL)
def test_renaming_a_table_or_column_in_use_is_flagged(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=5)

    report = check_sql(
        "ALTER TABLE items RENAME COLUMN note TO remark;\nALTER TABLE items RENAME TO goods;\n"
    )

    assert rule_ids(report) == ["rename-breaks-app", "rename-breaks-app"]
    assert report.findings[0].evidence == {"new_name": "remark"}


@pytest.mark.parametrize("backend", ALL)
def test_renaming_a_table_created_by_the_same_pending_set_is_fine(
    database_url: str, backend: str, check_sql: CheckSql
):
    report = check_sql(
        "CREATE TABLE draft (id INTEGER PRIMARY KEY, v INTEGER);\n"
        "ALTER TABLE draft RENAME COLUMN v TO value;\n"
    )

    assert report.findings == []


# -- SQLite's table rebuild ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE items ALTER COLUMN note SET NOT NULL;",
        "ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty >= 0);",
        "ALTER TABLE items ADD COLUMN serial INTEGER UNIQUE;",
        "ALTER TABLE items ADD COLUMN seen TIMESTAMP DEFAULT CURRENT_TIMESTAMP;",
        "ALTER TABLE items DROP COLUMN code;",  # indexed below
    ],
)
def test_sqlite_alters_that_need_the_table_rebuild_are_errors(
    database_url: str, backend: str, check_sql: CheckSql, sql: str
):
    make_items(database_url, backend, rows=5)
    execute(database_url, "CREATE INDEX items_code ON items (code)")

    hit = finding(check_sql(sql), "sqlite-table-rebuild")

    assert hit.severity == "error"
    assert "CREATE TABLE new_items" in hit.safer


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_alters_it_can_do_in_place_are_fine(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=5, null_notes=5)

    report = check_sql(
        "ALTER TABLE items ADD COLUMN extra TEXT DEFAULT 'x';\n"
        "ALTER TABLE items DROP COLUMN note;\n"
    )

    assert report.findings == []


# -- long transactions, CONCURRENTLY in a transaction -------------------------------------------


@pytest.mark.parametrize("backend", SERVERS)
def test_a_long_transaction_on_the_table_is_flagged_with_its_session(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=5)
    with open_transaction(database_url, backend):
        time.sleep(2.2)
        report = check_sql(
            "ALTER TABLE items ADD COLUMN extra INTEGER;", long_transaction_seconds=1
        )

    hit = finding(report, "long-transaction")
    transaction = hit.evidence["transactions"][0]
    assert transaction["transaction_age_seconds"] >= 1
    assert "secret-value" not in str(hit.evidence)  # literals of other sessions are redacted
    if backend == "postgresql":
        assert transaction["query"] == "SELECT COUNT(*) FROM items WHERE note <> '?'"


@pytest.mark.parametrize("backend", SERVERS)
def test_no_long_transaction_no_finding(database_url: str, backend: str, check_sql: CheckSql):
    make_items(database_url, backend, rows=5)
    with open_transaction(database_url, backend):  # young: below the threshold
        report = check_sql(
            "ALTER TABLE items ADD COLUMN extra INTEGER;", long_transaction_seconds=30
        )

    assert report.findings == []


@pytest.mark.parametrize("backend", ["postgresql"])
def test_create_index_concurrently_in_a_transactional_file_is_an_error(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=5)
    sql = "CREATE INDEX CONCURRENTLY items_note ON items (note);"

    in_transaction = check_sql(sql)
    outside = check_sql(sql, no_transaction=True)

    assert finding(in_transaction, "concurrently-in-transaction").severity == "error"
    assert outside.findings == []


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_sqlite_table_too_big_to_count_within_the_budget_counts_as_large(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=0)
    execute(
        database_url,
        "INSERT INTO items (id, code) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM n LIMIT 3000000) SELECT x, NULL FROM n",
    )

    report = check_sql(
        "CREATE INDEX items_note ON items (note);",
        large_table_rows=10_000_000,
        data_check_budget_seconds=0.001,
    )

    assert finding(report, "blocking-index").evidence["estimated_rows"] == "unknown (timed out)"
