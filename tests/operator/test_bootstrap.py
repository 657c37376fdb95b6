"""``metadb db init`` end to end: a database, a migration role that runs DDL and an application
role that cannot, on PostgreSQL and MariaDB; a file on SQLite. A second run changes nothing."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from metadb.cli.main import app
from metadb.db import Database
from metadb.migrate.tables import VersionTable
from metadb.operator.bootstrap import InitReport, init_database
from tests.conftest import admin_database

ROLE_BACKENDS = ("postgresql", "mysql")


@dataclass
class Server:
    admin: Database
    admin_url: str
    database: str
    migration_user: str
    app_prefix: str


@pytest.fixture(params=ROLE_BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server and names for a database and roles that do not exist yet; all dropped after."""
    admin = admin_database(str(request.param))
    suffix = uuid.uuid4().hex[:10]
    found = Server(
        admin=admin,
        admin_url=admin.url.url.render_as_string(hide_password=False),
        database=f"metadb_init_{suffix}",
        migration_user=f"t{suffix}_migration",
        app_prefix=f"t{suffix}_app",
    )
    yield found
    with admin.connect(autocommit=True) as conn:
        admin.dialect.drop_database(conn, found.database)
        roles = [found.migration_user, *(f"{found.app_prefix}_v{v}" for v in (0, 5))]
        for role in roles:
            if admin.url.dialect == "postgresql":
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
            else:
                conn.exec_driver_sql(f"DROP USER IF EXISTS '{role}'@'%%'")
    admin.dispose()


def _init(server: Server, secrets: Path) -> InitReport:
    return init_database(
        admin_url=server.admin_url,
        database=server.database,
        migration_user=server.migration_user,
        app_prefix=server.app_prefix,
        secrets_dir=secrets,
    )


def _login(secret: str) -> Database:
    return Database.from_url(Path(secret).read_text().strip())


def test_init_creates_the_database_and_both_roles(server: Server, tmp_path: Path):
    report = _init(server, tmp_path / "secrets")

    assert report.created_database and report.credentials_applicable
    assert report.version == 0  # a new database has no schema version yet
    assert report.migration is not None and report.migration.created
    assert report.application is not None and report.application.created
    assert report.application.username == f"{server.app_prefix}_v0"
    for secret in (report.migration.secret_name, report.application.secret_name):
        assert stat.S_IMODE(Path(secret).stat().st_mode) == 0o600

    migrator = _login(report.migration.secret_name)
    app_db = _login(report.application.secret_name)
    try:
        with migrator.connect() as conn:  # the migration role runs DDL
            conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
            conn.commit()
        with app_db.connect(autocommit=True) as conn:  # the application role does not
            with pytest.raises(DBAPIError, match="denied"):
                conn.exec_driver_sql("CREATE TABLE intruder (id INTEGER)")
            with pytest.raises(DBAPIError, match="denied"):
                conn.exec_driver_sql(f"CREATE DATABASE {server.database}_other")
    finally:
        migrator.dispose()
        app_db.dispose()


#: How each server names the character set of a database's text, and what db init must give.
_CHARSET = {
    "postgresql": (
        "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = :n",
        "UTF8",
    ),
    "mysql": (
        "SELECT default_character_set_name FROM information_schema.schemata WHERE schema_name = :n",
        "utf8mb4",
    ),
}


def test_init_creates_the_database_as_the_test_suite_does_with_utf8_text(
    server: Server, tmp_path: Path
):
    _init(server, tmp_path / "secrets")

    query, expected = _CHARSET[server.admin.url.dialect]
    with server.admin.connect() as conn:
        charset = conn.execute(text(query), {"n": server.database}).scalar_one()
    assert charset == expected  # MySQL's server default (latin1 on older ones) is not enough


def test_a_second_init_changes_nothing_and_a_migrated_database_gets_its_version_role(
    server: Server, tmp_path: Path
):
    secrets = tmp_path / "secrets"
    first = _init(server, secrets)
    contents = {p.name: p.read_text() for p in secrets.iterdir()}

    second = _init(server, secrets)

    assert not second.created_database
    assert second.migration is not None and not second.migration.created
    assert second.application is not None and not second.application.created
    assert first.application is not None
    assert second.application.secret_name == first.application.secret_name
    assert {p.name: p.read_text() for p in secrets.iterdir()} == contents

    migrator = _login(second.migration.secret_name)
    try:
        with migrator.connect() as conn:  # the migration role brings the schema to version 5
            conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
            VersionTable().create(conn)
            VersionTable().write(conn, 5, dirty=False)
            conn.commit()
    finally:
        migrator.dispose()

    third = _init(server, secrets)

    assert third.version == 5
    assert third.application is not None and third.application.created
    app_db = _login(third.application.secret_name)
    try:
        with app_db.connect() as conn:
            conn.exec_driver_sql("INSERT INTO orders (id) VALUES (1)")
            conn.commit()
    finally:
        app_db.dispose()


def test_the_cli_prints_where_the_secrets_are_and_no_password(server: Server, tmp_path: Path):
    secrets = tmp_path / "secrets"
    args = [
        "db", "init", "--admin-url", server.admin_url, "--database", server.database,
        "--migration-user", server.migration_user, "--app-prefix", server.app_prefix,
        "--secrets-dir", str(secrets),
    ]  # fmt: skip
    runner = CliRunner()

    first = runner.invoke(app, [*args, "--json"])
    second = runner.invoke(app, args)

    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert data["created_database"] is True
    assert data["application"] == {
        "version": 0,
        "secret": str(secrets / f"{server.database.replace('_', '-')}-v0"),
        "created": True,
    }
    assert second.exit_code == 0, second.output
    assert "exists" in second.output and "kept" in second.output
    for path in secrets.iterdir():
        password = Database.from_url(path.read_text().strip()).url.url.password
        assert password and password not in first.output + second.output
    assert server.migration_user not in first.output + second.output


def test_a_bad_role_name_is_a_usage_error_that_changes_nothing(server: Server, tmp_path: Path):
    result = CliRunner().invoke(
        app,
        [
            "db", "init", "--admin-url", server.admin_url, "--database", server.database,
            "--migration-user", "Robert'); DROP", "--secrets-dir", str(tmp_path / "s"),
        ],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "not allowed" in result.output
    assert not (tmp_path / "s").exists()
    with server.admin.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_on_sqlite_init_creates_the_file_and_says_credentials_do_not_apply(tmp_path: Path):
    path = tmp_path / "data" / "metadb.sqlite"
    args = ["db", "init", "--admin-url", "sqlite://", "--database", str(path)]
    args += ["--secrets-dir", str(tmp_path / "secrets")]

    first = CliRunner().invoke(app, args)
    second = CliRunner().invoke(app, [*args, "--json"])

    assert first.exit_code == 0, first.output
    assert path.is_file()
    assert "created" in first.output and "not applicable" in first.output
    assert json.loads(second.output) == {
        "database": str(path),
        "dialect": "sqlite",
        "created_database": False,
        "credentials_applicable": False,
        "version": None,
        "migration": None,
        "application": None,
    }
    assert not (tmp_path / "secrets").exists()
