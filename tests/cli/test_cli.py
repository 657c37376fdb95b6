"""``metadb migrate`` as a user meets it: the installed command, run as a subprocess.

Tests that touch a database run on SQLite, PostgreSQL and MySQL (the ``database_url`` fixture)
unless the behaviour belongs to one of them; exit codes are those of :mod:`metadb.cli.exitcodes`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from metadb.db import Database
from tests.migrate import conftest as migrate_conftest
from tests.migrate.conftest import (
    PORTABLE,
    WriteSource,
    metadb_executable,
    migration_lock_held,
    query,
    table_names,
)

write_source = migrate_conftest.write_source  # the fixture, visible to this module's tests


METADB = metadb_executable()

FAILING_SECOND_STATEMENT = {
    "000001_create_users.up.sql": PORTABLE["000001_create_users.up.sql"],
    "000001_create_users.down.sql": PORTABLE["000001_create_users.down.sql"],
    "000002_three_steps.up.sql": (
        "CREATE TABLE first_step (id INTEGER PRIMARY KEY);\n"
        "\n"
        "INSERT INTO prerequisite (id) VALUES (1);\n"
        "CREATE TABLE third_step (id INTEGER PRIMARY KEY);\n"
    ),
    "000002_three_steps.down.sql": "DROP TABLE third_step;\nDROP TABLE first_step;\n",
}


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``metadb ARGS`` with no METADB_* settings inherited unless ``env`` adds them."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("METADB_") and k not in ("FORCE_COLOR", "CLICOLOR_FORCE", "PY_COLORS")
    }
    return subprocess.run(
        [METADB, *args],
        cwd=cwd,
        env={**clean, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_json(*args: str, expect: int = 0, **kwargs: Any) -> Any:
    result = run(*args, "--json", **kwargs)
    assert result.returncode == expect, result.stdout + result.stderr
    return json.loads(result.stdout)


def error_line(stderr: str) -> str:
    [line] = [line for line in stderr.splitlines() if line.startswith("error:")]
    return line


def target(url: str, source: Path) -> list[str]:
    return ["--database", url, "--source", str(source)]


# -- 1. the happy path ------------------------------------------------------------------------


def test_user_migrates_up_inspects_and_walks_back_down(
    database_url: str, write_source: WriteSource
):
    where = target(database_url, write_source(PORTABLE))

    up = run("migrate", "up", *where)

    assert up.returncode == 0, up.stderr
    assert "version None -> 3" in up.stdout
    status = run_json("migrate", "status", *where)
    assert (status["version"], status["dirty"], status["needs_attention"]) == (3, False, False)
    assert [(m["version"], m["state"]) for m in status["migrations"]] == [
        (1, "applied"),
        (2, "applied"),
        (3, "applied"),
    ]
    assert run_json("migrate", "version", *where) == {"version": 3, "dirty": False}
    assert run_json("migrate", "plan", *where) == {"version": 3, "steps": []}

    assert run("migrate", "down", "2", *where).returncode == 0
    version = run("migrate", "version", *where)
    assert (version.returncode, version.stdout.strip()) == (0, "1")
    assert "teams" not in table_names(database_url)

    assert run("migrate", "goto", "3", *where).returncode == 0
    assert run_json("migrate", "version", *where)["version"] == 3
    assert query(database_url, "SELECT COUNT(*) FROM users") == [(2,)]

    assert run("migrate", "down", "--all", *where).returncode == 0
    assert run("migrate", "version", *where).stdout.strip() == "none"
    assert "users" not in table_names(database_url)


# -- 2. JSON mode -------------------------------------------------------------------------------


def test_json_up_prints_exactly_one_document_and_nothing_on_stderr(
    database_url: str, write_source: WriteSource
):
    result = run("migrate", "up", *target(database_url, write_source(PORTABLE)), "--json")

    assert result.returncode == 0
    assert result.stderr == ""
    report = json.loads(result.stdout)  # fails on a second document or on stray text
    assert [step["version"] for step in report["steps"]] == [1, 2, 3]
    assert (report["version_before"], report["version_after"], report["pending"]) == (None, 3, 0)


def test_json_errors_are_one_document_on_stdout_too(database_url: str, write_source: WriteSource):
    result = run(
        "migrate", "up", *target(database_url, write_source(FAILING_SECOND_STATEMENT)), "--json"
    )

    assert result.returncode == 1
    assert result.stderr == ""
    error = json.loads(result.stdout)["error"]
    assert (error["code"], error["exit"]) == ("migration_failed", 1)
    assert "000002_three_steps.up.sql:3" in error["message"]


# -- 3. exit codes ----------------------------------------------------------------------------


def test_failing_migration_exits_1_naming_file_and_line_without_a_traceback(
    backend: str, database_url: str, write_source: WriteSource
):
    result = run("migrate", "up", *target(database_url, write_source(FAILING_SECOND_STATEMENT)))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "000002_three_steps.up.sql:3: statement 2 of 3 failed" in error_line(result.stderr)
    assert "INSERT INTO prerequisite" in result.stderr and "server said:" in result.stderr
    if backend == "mysql":  # the CREATE TABLE before it committed on its own
        assert "metadb migrate resume" in result.stderr
    else:
        assert "still at version 1 and not dirty" in result.stderr
        assert "run the command again" in result.stderr


@pytest.mark.parametrize("backend", ["sqlite"])
def test_debug_flag_prints_the_traceback(database_url: str, write_source: WriteSource):
    source = write_source(FAILING_SECOND_STATEMENT)

    result = run("--debug", "migrate", "up", *target(database_url, source))

    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "MigrationFailedError" in result.stderr
    assert "000002_three_steps.up.sql:3" in error_line(result.stderr)


def test_dirty_database_makes_up_status_and_version_exit_3(
    database_url: str, write_source: WriteSource
):
    tracked = {k: f"-- metadb:no-transaction\n{v}" for k, v in FAILING_SECOND_STATEMENT.items()}
    where = target(database_url, write_source(tracked))
    assert run("migrate", "up", *where).returncode == 1

    again = run("migrate", "up", *where)

    assert again.returncode == 3
    assert "the database is dirty at version 2" in error_line(again.stderr)
    assert "metadb migrate resume" in again.stderr and "Traceback" not in again.stderr
    status = run_json("migrate", "status", *where, expect=3)
    assert (status["version"], status["dirty"], status["needs_attention"]) == (2, True, True)
    assert "statement 2" in status["problem"]
    version = run("migrate", "version", *where)
    assert (version.returncode, version.stdout.strip()) == (3, "2 (dirty)")


def test_changed_applied_file_exits_3_unless_allowed(database_url: str, write_source: WriteSource):
    source = write_source({k: v for k, v in PORTABLE.items() if not k.startswith("000003")})
    where = target(database_url, source)
    assert run("migrate", "up", *where).returncode == 0
    (source / "000001_create_users.up.sql").write_text(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(80));"
    )
    (source / "000003_more.up.sql").write_text("CREATE TABLE more_things (id INTEGER);")
    (source / "000003_more.down.sql").write_text("DROP TABLE more_things;")

    refused = run("migrate", "up", *where)

    assert refused.returncode == 3
    message = error_line(refused.stderr)
    assert "000001_create_users.up.sql (version 1)" in message and "--allow-changed" in message
    assert "more_things" not in table_names(database_url)
    assert run("migrate", "status", *where).returncode == 3
    allowed = run("migrate", "up", "--allow-changed", *where)
    assert allowed.returncode == 0, allowed.stderr
    assert run_json("migrate", "version", *where)["version"] == 3


def test_lock_held_by_another_run_exits_4_naming_the_holder(
    db: Database, database_url: str, write_source: WriteSource
):
    source = write_source(PORTABLE)
    with migration_lock_held(db):
        result = run("migrate", "up", *target(database_url, source), "--lock-timeout", "1")

    assert result.returncode == 4
    message = error_line(result.stderr)
    assert "gave up waiting for the migration lock" in message and "after 1s" in message
    assert "held by " in message and "held by another connection" not in message
    assert "waiting for the migration lock, held by" in result.stderr
    assert "schema_migrations" not in table_names(database_url)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["migrate", "up", "notanumber"], "Invalid value for 'steps'"),
        (["migrate", "up", "0"], "Invalid value for 'steps'"),
        (["migrate", "down", "2", "--all"], "give N or --all, not both"),
        (["migrate", "goto"], "Missing argument"),
        (["migrate", "up", "--lock-timeout", "soon"], "Invalid value for '--lock-timeout'"),
    ],
    ids=["non-numeric-steps", "zero-steps", "steps-and-all", "goto-without-version", "bad-timeout"],
)
def test_bad_arguments_exit_2(argv: list[str], says: str, tmp_path: Path):
    result = run(*argv, cwd=tmp_path)

    assert result.returncode == 2
    assert says in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no default metadb.sqlite was created


def test_unsupported_database_url_exits_2(write_source: WriteSource):
    result = run("migrate", "up", *target("oracle://u:pw@h/db", write_source(PORTABLE)))

    assert result.returncode == 2
    message = error_line(result.stderr)
    assert "cannot use database 'oracle://u:***@h/db': unsupported scheme 'oracle'" in message
    assert "Traceback" not in result.stderr


# -- 4, 5. connection failures hide the password ---------------------------------------------


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:sekretpw@127.0.0.1:1/test",
        "mysql://root:sekretpw@127.0.0.1:1/test",
    ],
    ids=["postgresql", "mysql"],
)
def test_unreachable_server_exits_1_without_showing_the_password(
    url: str, json_mode: bool, write_source: WriteSource
):
    result = run(
        "migrate", "up", *target(url, write_source(PORTABLE)), *(["--json"] if json_mode else [])
    )

    assert result.returncode == 1
    assert "sekretpw" not in result.stdout + result.stderr
    if json_mode:
        assert result.stderr == ""
        error = json.loads(result.stdout)["error"]
        assert (error["code"], error["exit"]) == ("unreachable", 1)
        message = error["message"]
    else:
        message = error_line(result.stderr)
    assert message.startswith(("cannot connect to ", "error: cannot connect to "))
    assert ":***@127.0.0.1:1/test" in message and "nothing was changed" in message


@pytest.fixture
def wrong_credentials_url(backend: str, database_url: str) -> str:
    """The fresh database's URL with credentials its server refuses."""
    url = make_url(database_url).set(password="wrongpw")
    if backend == "postgresql":  # this server trusts every password: use an unknown role
        url = url.set(username="nosuchrole")
    return url.render_as_string(hide_password=False)


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_refused_credentials_exit_1_without_showing_the_password(
    wrong_credentials_url: str, database_url: str, json_mode: bool, write_source: WriteSource
):
    result = run(
        "migrate",
        "up",
        *target(wrong_credentials_url, write_source(PORTABLE)),
        *(["--json"] if json_mode else []),
    )

    assert result.returncode == 1
    assert "wrongpw" not in result.stdout + result.stderr
    if json_mode:
        assert result.stderr == ""
        error = json.loads(result.stdout)["error"]
        assert (error["code"], error["exit"]) == ("authentication", 1)
        message = error["message"]
    else:
        message = error_line(result.stderr)
    assert "refused the credentials" in message and "Check the user name and password" in message
    assert ":***@" in message
    assert "schema_migrations" not in table_names(database_url)  # 6. nothing changed


# -- 6, 7. a malformed source is rejected before anything runs --------------------------------


MALFORMED_SOURCES = {
    "unterminated-string-in-last-file": (
        {**PORTABLE, "000003_seed_users.up.sql": "INSERT INTO users VALUES (1, 'oops);\n"},
        "000003_seed_users.up.sql:1: unterminated string literal",
    ),
    "missing-down-file": (
        {k: v for k, v in PORTABLE.items() if k != "000002_create_teams.down.sql"},
        "000002_create_teams.up.sql: has no down migration",
    ),
    "down-without-up": (
        {**PORTABLE, "000004_orphan.down.sql": "DROP TABLE nothing;"},
        "000004_orphan.down.sql: is a down migration without an up migration",
    ),
    "empty-file": (
        {**PORTABLE, "000002_create_teams.down.sql": "  \n"},
        "000002_create_teams.down.sql: is empty",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_SOURCES))
def test_malformed_source_exits_1_and_leaves_the_database_untouched(
    case: str, database_url: str, write_source: WriteSource
):
    files, says = MALFORMED_SOURCES[case]

    result = run("migrate", "up", *target(database_url, write_source(files)))

    assert result.returncode == 1
    message = error_line(result.stderr)
    assert says in message and message.endswith("nothing was run")
    assert table_names(database_url) == set()


def test_two_files_with_one_version_exit_1_naming_both(
    database_url: str, write_source: WriteSource
):
    source = write_source(
        {
            "1_a.up.sql": "CREATE TABLE a (id INTEGER);",
            "1_b.up.sql": "CREATE TABLE b (id INTEGER);",
        }
    )

    result = run("migrate", "up", *target(database_url, source))

    assert result.returncode == 1
    message = error_line(result.stderr)
    assert str(source / "1_b.up.sql") in message and "1_a.up.sql" in message
    assert "renumber one" in message and "Traceback" not in result.stderr
    assert table_names(database_url) == set()


def test_missing_source_directory_exits_1(database_url: str, tmp_path: Path):
    result = run("migrate", "up", *target(database_url, tmp_path / "nowhere"))

    assert result.returncode == 1
    assert f"{tmp_path / 'nowhere'}: is not a directory" in error_line(result.stderr)
    assert table_names(database_url) == set()


# -- 8. create --------------------------------------------------------------------------------


@pytest.fixture
def dialect_source(tmp_path: Path) -> Path:
    """A source with one dialect directory per database, numbered with 4 digits."""
    root = tmp_path / "migrations"
    for dialect in ("sqlite", "postgresql", "mysql"):
        (root / dialect).mkdir(parents=True)
        (root / dialect / "0001_init.up.sql").write_text("CREATE TABLE things (id INTEGER);")
        (root / dialect / "0001_init.down.sql").write_text("DROP TABLE things;")
    return root


def test_create_writes_the_next_version_in_every_dialect_directory(dialect_source: Path):
    result = run("migrate", "create", "add_things", "--source", str(dialect_source))

    assert result.returncode == 0, result.stderr
    expected = {
        dialect_source / dialect / f"0002_add_things.{direction}.sql"
        for dialect in ("sqlite", "postgresql", "mysql")
        for direction in ("up", "down")
    }
    assert set(dialect_source.rglob("0002_*")) == expected
    assert sorted(line.removeprefix("created ") for line in result.stdout.splitlines()) == sorted(
        str(p) for p in expected
    )


def test_created_files_run_once_filled_in(dialect_source: Path, tmp_path: Path):
    assert run("migrate", "create", "Add things!", "--source", str(dialect_source)).returncode == 0
    sqlite_dir = dialect_source / "sqlite"
    up_file, down_file = (sqlite_dir / f"0002_add_things.{d}.sql" for d in ("up", "down"))
    up_file.write_text(up_file.read_text() + "ALTER TABLE things ADD COLUMN label TEXT;\n")
    down_file.write_text(down_file.read_text() + "ALTER TABLE things DROP COLUMN label;\n")
    url = f"sqlite:///{tmp_path / 'created.sqlite'}"

    report = run_json("migrate", "up", *target(url, dialect_source))

    assert [(s["version"], s["name"]) for s in report["steps"]] == [(1, "init"), (2, "add_things")]
    assert query(url, "SELECT COUNT(*) FROM pragma_table_info('things') WHERE name = 'label'") == [
        (1,)
    ]


def test_create_twice_gives_distinct_versions_and_json_lists_the_paths(dialect_source: Path):
    first = run_json("migrate", "create", "add_things", "--source", str(dialect_source))
    second = run_json("migrate", "create", "add_things", "--source", str(dialect_source))

    assert len(first["created"]) == len(second["created"]) == 6
    assert {Path(p).name.split("_")[0] for p in first["created"]} == {"0002"}
    assert {Path(p).name.split("_")[0] for p in second["created"]} == {"0003"}
    assert all(Path(p).is_file() for p in first["created"] + second["created"])


# -- 9. where the database is when --database is not given ------------------------------------


def test_up_without_database_creates_metadb_sqlite_in_the_working_directory(
    tmp_path: Path, write_source: WriteSource
):
    source = write_source(PORTABLE)
    workdir = tmp_path / "project"
    workdir.mkdir()

    result = run("migrate", "up", "--source", str(source), cwd=workdir)

    assert result.returncode == 0, result.stderr
    assert (workdir / "metadb.sqlite").is_file()
    assert query(
        f"sqlite:///{workdir / 'metadb.sqlite'}", "SELECT version FROM schema_migrations"
    ) == [(3,)]


def test_metadb_database_url_is_honoured(
    database_url: str, tmp_path: Path, write_source: WriteSource
):
    source = write_source(PORTABLE)
    workdir = tmp_path / "project"
    workdir.mkdir()

    result = run(
        "migrate", "up", "--source", str(source), cwd=workdir,
        env={"METADB_DATABASE_URL": database_url},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert query(database_url, "SELECT version FROM schema_migrations") == [(3,)]
    assert list(workdir.iterdir()) == []


def test_database_flag_overrides_metadb_database_url(tmp_path: Path, write_source: WriteSource):
    url = f"sqlite:///{tmp_path / 'flag.sqlite'}"

    result = run(
        "migrate", "up", *target(url, write_source(PORTABLE)),
        env={"METADB_DATABASE_URL": "postgresql://postgres:sekretpw@127.0.0.1:1/test"},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert query(url, "SELECT version FROM schema_migrations") == [(3,)]


# -- 10. Go MySQL DSN -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["mysql"])
def test_go_mysql_dsn_with_database_type(database_url: str, write_source: WriteSource):
    url = make_url(database_url)
    userinfo = url.username + (f":{url.password}" if url.password else "")
    dsn = (
        f"{userinfo}@tcp({url.host}:{url.port or 3306})/{url.database}"
        "?charset=utf8mb4&parseTime=True&loc=Local"
    )

    result = run("migrate", "up", *target(dsn, write_source(PORTABLE)), "--database-type", "mysql")

    assert result.returncode == 0, result.stderr
    assert "version None -> 3" in result.stdout
    assert query(database_url, "SELECT version FROM schema_migrations") == [(3,)]
    assert query(database_url, "SELECT name FROM users ORDER BY id") == [
        ("ada",),
        ("it's 50% done",),
    ]
