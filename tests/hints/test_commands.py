"""How users meet the hints: ``migrate up`` refuses, ``plan`` shows them, ``hints check`` for
CI, and data checks that stop at their budget instead of hanging."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metadb import migrate
from metadb.cli.main import app
from metadb.errors import ConfigError, HintsFailedError
from metadb.hints import TIMED_OUT, HintSettings, check_pending, migrate_plan, migrate_up
from metadb.migrate import MigrateConfig
from tests.hints.conftest import CheckSql, execute, finding, make_items, scalar

#: Deletes the duplicates, then adds the unique index: the check (which reads the data as it
#: is now) calls the index an error, though the file as a whole succeeds.
DEDUPLICATE_THEN_INDEX = (
    "DELETE FROM items WHERE code = 'dup' AND id > 0;\n"
    "CREATE UNIQUE INDEX items_code ON items (code);\n"
)
FAILS = (
    "ALTER TABLE items ADD COLUMN extra INTEGER;\nCREATE UNIQUE INDEX items_code ON items (code);\n"
)
QUICK = HintSettings(write_sample_seconds=0)


@pytest.fixture
def source(tmp_path: Path):
    def write(sql: str) -> Path:
        root = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
        root.mkdir()
        (root / "000001_change.up.sql").write_text(sql)
        (root / "000001_change.down.sql").write_text("SELECT 1;")
        return root

    return write


def _columns(url: str) -> set[str]:
    import sqlalchemy

    from metadb.db import Database

    db = Database.from_url(url)
    try:
        with db.connect() as conn:
            return {c["name"].lower() for c in sqlalchemy.inspect(conn).get_columns("items")}
    finally:
        db.dispose()


def test_up_refuses_on_an_error_finding_naming_it_and_changes_nothing(
    database_url: str, backend: str, source
):
    make_items(database_url, backend, rows=20, duplicate_codes=3)
    config = MigrateConfig(
        database=database_url, source=source(FAILS), lock_timeout=10, hint_settings=QUICK
    )

    with pytest.raises(HintsFailedError) as caught:
        migrate_up(config)

    message = str(caught.value)
    assert "[unique-duplicates]" in message and "000001_change.up.sql:2" in message
    assert "--ignore-hint unique-duplicates" in message
    assert [f.rule_id for f in caught.value.findings] == ["unique-duplicates"]
    assert "extra" not in _columns(database_url)  # the first statement did not run
    assert migrate.version(config).version is None


def test_ignore_hint_lets_up_run_a_migration_the_check_cannot_judge(
    database_url: str, backend: str, source
):
    make_items(database_url, backend, rows=20, duplicate_codes=3)
    config = MigrateConfig(
        database=database_url,
        source=source(DEDUPLICATE_THEN_INDEX),
        lock_timeout=10,
        hint_settings=QUICK,
    )

    with pytest.raises(HintsFailedError):
        migrate_up(config)
    report = migrate_up(config, ignore_hints=["unique-duplicates"])

    assert report.version_after == 1
    assert scalar(database_url, "SELECT COUNT(*) FROM items WHERE code = 'dup'") == 1


def test_no_hints_skips_the_check(database_url: str, backend: str, source):
    make_items(database_url, backend, rows=20, duplicate_codes=3)
    config = MigrateConfig(
        database=database_url, source=source(DEDUPLICATE_THEN_INDEX), lock_timeout=10
    )

    assert migrate_up(config, hints=False).version_after == 1


def test_ignoring_a_rule_that_does_not_exist_is_a_usage_error(database_url: str, source):
    config = MigrateConfig(database=database_url, source=source("SELECT 1;"))

    with pytest.raises(ConfigError, match="no-such-rule: no such rule"):
        migrate_up(config, ignore_hints=["no-such-rule"])


def test_up_with_steps_checks_only_the_migrations_it_would_run(
    database_url: str, backend: str, tmp_path: Path
):
    make_items(database_url, backend, rows=20, duplicate_codes=3)
    root = tmp_path / "steps"
    root.mkdir()
    (root / "1_add.up.sql").write_text("ALTER TABLE items ADD COLUMN extra INTEGER;")
    (root / "1_add.down.sql").write_text("SELECT 1;")
    (root / "2_unique.up.sql").write_text("CREATE UNIQUE INDEX items_code ON items (code);")
    (root / "2_unique.down.sql").write_text("SELECT 1;")
    config = MigrateConfig(database=database_url, source=root, lock_timeout=10, hint_settings=QUICK)

    assert migrate_up(config, 1).version_after == 1
    with pytest.raises(HintsFailedError):
        migrate_up(config)


def test_plan_shows_the_hints_under_each_statement(database_url: str, backend: str, source):
    make_items(database_url, backend, rows=20, duplicate_codes=3)
    config = MigrateConfig(database=database_url, source=source(FAILS), hint_settings=QUICK)

    plan = migrate_plan(config)

    first, second = plan.steps[0].statements
    assert first.hints == []
    assert [f.rule_id for f in second.hints] == ["unique-duplicates"]
    assert plan.as_dict()["steps"][0]["statements"][1]["hints"][0]["evidence"] == {
        "duplicate_rows": 2,
        "example": {"code": "dup"},
        "check_seconds": second.hints[0].evidence["check_seconds"],
    }


def test_cli_plan_prints_hints_as_sql_comments_and_up_refuses_then_runs_with_ignore_hint(
    database_url: str, backend: str, source, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("METADB_HINTS_WRITE_SAMPLE_SECONDS", "0")
    make_items(database_url, backend, rows=20, duplicate_codes=3)
    src = str(source(DEDUPLICATE_THEN_INDEX))
    runner = CliRunner()
    common = ["--database", database_url, "--source", src]

    plan = runner.invoke(app, ["migrate", "plan", *common])
    refused = runner.invoke(app, ["migrate", "up", *common])
    applied = runner.invoke(app, ["migrate", "up", *common, "--ignore-hint", "unique-duplicates"])

    assert plan.exit_code == 0, plan.output
    assert "CREATE UNIQUE INDEX items_code ON items (code);\n-- HINT error unique-duplicates:" in (
        plan.output
    )
    assert refused.exit_code == 3
    assert "unique-duplicates" in refused.output and "nothing was run" in refused.output
    assert applied.exit_code == 0, applied.output


def test_cli_hints_check_json_for_ci(
    database_url: str, backend: str, source, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("METADB_HINTS_WRITE_SAMPLE_SECONDS", "0")
    monkeypatch.setenv("METADB_HINTS_LARGE_TABLE_ROWS", "10")
    make_items(database_url, backend, rows=20, duplicate_codes=3)
    src = str(source(FAILS))

    result = CliRunner().invoke(
        app, ["hints", "check", "--database", database_url, "--source", src, "--json"]
    )

    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["dialect"] == backend and data["statements"] == 2 and data["errors"] == 1
    unique = next(f for f in data["findings"] if f["rule_id"] == "unique-duplicates")
    assert unique["line"] == 2 and unique["evidence"]["duplicate_rows"] == 2
    assert unique["path"].endswith("000001_change.up.sql")


def test_cli_hints_check_passes_clean_migrations(database_url: str, backend: str, source):
    make_items(database_url, backend, rows=20)

    result = CliRunner().invoke(
        app,
        ["hints", "check", "--database", database_url, "--source", str(source("SELECT 1;"))],
    )

    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


SLOW_VIEW = {
    # Each row of the view costs 0.1 s: a duplicates check over it takes seconds.
    "postgresql": "CREATE VIEW slow AS SELECT id, code || substr(pg_sleep(0.1)::text, 1, 0) "
    "AS code FROM items",
    "mysql": "CREATE VIEW slow AS SELECT id, IF(SLEEP(0.1) = 0, code, NULL) AS code FROM items",
    # A hundred million generated rows.
    "sqlite": "CREATE VIEW slow AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
    "FROM n LIMIT 100000000) SELECT x AS id, x AS code FROM n",
}


def test_a_data_check_that_hits_its_budget_says_unknown_instead_of_hanging(
    database_url: str, backend: str, check_sql: CheckSql
):
    make_items(database_url, backend, rows=40)
    execute(database_url, SLOW_VIEW[backend])

    start = time.monotonic()
    report = check_sql(
        "CREATE UNIQUE INDEX slow_code ON slow (code);", data_check_budget_seconds=0.2
    )
    elapsed = time.monotonic() - start

    hit = finding(report, "unique-duplicates")
    assert hit.evidence["duplicate_rows"] == TIMED_OUT
    assert hit.severity == "warning"  # not known to fail
    assert elapsed < 3


def test_the_check_reports_python_steps_it_cannot_read(database_url: str, tmp_path: Path):
    root = tmp_path / "py"
    root.mkdir()
    (root / "000001_step.py").write_text(
        "def up(connection):\n    pass\n\n\ndef down(connection):\n    pass\n"
    )

    report = check_pending(MigrateConfig(database=database_url, source=root), settings=QUICK)

    assert report.statements == 0
    assert [s.path for s in report.skipped] == [str(root / "000001_step.py")]


def test_hints_rules_lists_every_rule_once_with_its_severity():
    result = CliRunner().invoke(app, ["hints", "rules", "--json"])

    rules = json.loads(result.stdout)
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)) == 16
    assert {"blocking-index", "unique-duplicates", "not-null-with-nulls", "long-transaction",
            "sqlite-table-rebuild"} <= set(ids)  # fmt: skip
    assert {r["severity"] for r in rules} == {"error", "warning"}


def test_a_target_below_the_current_version_checks_the_down_files_that_would_run(
    database_url: str, backend: str, tmp_path: Path
):
    make_items(database_url, backend, rows=20, duplicate_codes=3)
    root = tmp_path / "downgrade"
    root.mkdir()
    (root / "000001_extra.up.sql").write_text("ALTER TABLE items ADD COLUMN extra INTEGER;\n")
    (root / "000001_extra.down.sql").write_text("CREATE UNIQUE INDEX items_code ON items (code);\n")
    (root / "000002_nothing.up.sql").write_text("SELECT 1;\n")
    (root / "000002_nothing.down.sql").write_text("SELECT 1;\n")
    config = MigrateConfig(database=database_url, source=root)
    migrate.up(config)  # no hints check

    down_to_zero = check_pending(config, settings=QUICK, target=0)
    staying = check_pending(config, settings=QUICK, target=2)

    duplicates = finding(down_to_zero, "unique-duplicates")
    assert duplicates.path.endswith("000001_extra.down.sql")
    assert staying.findings == []
