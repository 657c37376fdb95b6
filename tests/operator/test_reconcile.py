"""The control loop against real databases: each test tells one story of the issue."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from metadb import migrate
from metadb.db import Database
from metadb.errors import PermanentError, TemporaryError
from metadb.operator.resources import ManagedDatabase

from .support import (
    MIGRATIONS,
    Operator,
    chain,
    cleanup_roles,
    condition,
    resource,
    version_of,
    write_source,
)


@dataclass
class Env:
    url: str
    backend: str
    source: Path
    secrets: Path
    prefix: str
    operator: Operator

    def resource(self, **spec: Any) -> ManagedDatabase:
        return resource(self.url, self.source, prefix=self.prefix, **spec)


@pytest.fixture
def env(database_url: str, backend: str, tmp_path: Path) -> Iterator[Env]:
    secrets = tmp_path / "secrets"
    prefix = f"t{uuid.uuid4().hex[:8]}_app"
    environment = Env(
        database_url,
        backend,
        write_source(tmp_path / "migrations"),
        secrets,
        prefix,
        Operator(secrets),
    )
    yield environment
    cleanup_roles(database_url, environment.resource(), secrets)


def _roles(env: Env) -> list[int]:
    from metadb.operator.credentials import credentials_for
    from metadb.operator.secrets import FileSecretSink

    db = Database.from_url(env.url)
    try:
        return credentials_for(
            db, prefix=env.prefix, sink=FileSecretSink(env.secrets), database_name="shop"
        ).existing_versions()
    finally:
        db.dispose()


def test_an_unmanaged_database_is_brought_to_v1(env: Env):
    db, result = env.operator.reconcile(env.resource(desiredVersion=1))

    assert result.error is None
    assert version_of(env.url) == 1
    assert result.status.current_version == 1
    assert [s.version for s in result.steps] == [1]
    assert condition(result, "Ready") == ("True", "AtDesiredVersion")
    assert condition(result, "Blocked") == ("False", "NotBlocked")
    assert result.status.last_migration is not None
    assert result.status.last_migration.result == "succeeded"
    credentials = result.status.credentials
    assert credentials is not None
    if env.backend == "sqlite":
        assert not credentials.applicable
        assert "not applicable" in credentials.message
    else:
        assert credentials.active_versions == [1]
    # A second pass finds nothing to do.
    _, again = env.operator.reconcile(db)
    assert again.steps == [] and again.error is None


@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
def test_v1_to_v2_creates_the_credentials_of_v2(env: Env):
    db, _ = env.operator.reconcile(env.resource(desiredVersion=1))
    db, result = env.operator.reconcile(db, desired_version=2)

    assert result.error is None
    assert version_of(env.url) == 2
    credentials = result.status.credentials
    assert credentials is not None and credentials.active_versions == [1, 2]
    secret = Path(credentials.secrets["2"])
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    app = Database.from_url(secret.read_text().strip())
    try:
        with app.connect() as conn:  # the application logs in as v2 and uses v2's column
            conn.execute(text("INSERT INTO items (name, price) VALUES ('pen', 3)"))
            conn.commit()
    finally:
        app.dispose()
    assert any(e.reason == "CredentialsCreated" for e in result.events)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
def test_v2_to_v3_revokes_v1_once_no_session_uses_it(env: Env):
    db, _ = env.operator.reconcile(env.resource(desiredVersion=1))
    db, result = env.operator.reconcile(db, desired_version=2)
    assert result.status.credentials is not None
    v1_url = Path(result.status.credentials.secrets["1"]).read_text().strip()
    session = Database.from_url(v1_url)
    conn = session.engine.connect()
    conn.execute(text("SELECT count(*) FROM items")).scalar()
    try:
        db, result = env.operator.reconcile(db, desired_version=3)
        assert version_of(env.url) == 3
        credentials = result.status.credentials
        assert credentials is not None
        assert [w.version for w in credentials.waiting] == [1]
        assert credentials.waiting[0].sessions >= 1
        assert 1 in credentials.active_versions
        ready = result.status.condition("Ready")
        assert ready is not None and ready.status == "True" and "waiting" in ready.message
        assert result.requeue_after is not None
    finally:
        conn.close()
        session.dispose()

    db, result = env.operator.reconcile(db)
    credentials = result.status.credentials
    assert credentials is not None
    assert credentials.waiting == []
    assert credentials.active_versions == [2, 3]
    assert not Path(env.secrets / "shop-v1").exists()
    assert any(e.reason == "CredentialsRevoked" for e in result.events)


def test_read_only_mode_changes_nothing(env: Env):
    db, _ = env.operator.reconcile(env.resource(desiredVersion=1))
    roles_before = _roles(env) if env.backend != "sqlite" else []

    db, result = env.operator.reconcile(db, desired_version=3, read_only=True)

    assert version_of(env.url) == 1
    assert result.steps == []
    assert condition(result, "Blocked") == ("True", "ReadOnly")
    blocked = result.status.condition("Blocked")
    assert blocked is not None and "1 -> 2 -> 3" in blocked.message
    assert result.status.pending == [2, 3]
    if env.backend != "sqlite":
        assert _roles(env) == roles_before


def test_a_desired_version_older_than_the_current_one_blocks(env: Env):
    db, _ = env.operator.reconcile(env.resource(desiredVersion=3))
    db, result = env.operator.reconcile(db, desired_version=1)

    assert version_of(env.url) == 3
    assert condition(result, "Blocked") == ("True", "DowngradeNotAllowed")
    assert condition(result, "Ready")[0] == "False"

    db, result = env.operator.reconcile(db, desired_version=1, allow_downgrade=True)
    assert result.error is None
    assert [(s.direction, s.version) for s in result.steps] == [("down", 3), ("down", 2)]
    assert version_of(env.url) == 1
    assert condition(result, "Ready") == ("True", "AtDesiredVersion")


def test_an_unreachable_database_is_a_temporary_error_with_backoff(env: Env, tmp_path: Path):
    unreachable = {
        "sqlite": f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}",
        "postgresql": "postgresql://postgres@127.0.0.1:1/test",
        "mysql": "mysql://root@127.0.0.1:1/test",
    }[env.backend]
    db = resource(unreachable, env.source, desiredVersion=1)

    db, first = env.operator.reconcile(db)
    assert isinstance(first.error, TemporaryError)
    assert first.error.reason == "DatabaseUnreachable"
    assert first.status.errors[-1].temporary
    assert condition(first, "Ready") == ("False", "DatabaseUnreachable")
    _, second = env.operator.reconcile(db)
    assert second.requeue_after is not None and first.requeue_after is not None
    assert second.requeue_after == 2 * first.requeue_after
    assert second.status.consecutive_failures == 2


def test_a_failed_migration_is_not_rolled_back_and_waits_for_the_spec(env: Env, tmp_path: Path):
    broken = write_source(
        tmp_path / "broken",
        {**MIGRATIONS, 2: ("ALTER TABLE no_such_table ADD COLUMN x INTEGER;", "SELECT 1;")},
    )
    db, _ = env.operator.reconcile(resource(env.url, broken, prefix=env.prefix, desiredVersion=1))

    db, result = env.operator.reconcile(db, desired_version=2)
    assert isinstance(result.error, PermanentError)
    assert result.error.reason == "MigrationFailed"
    state = migrate.version(migrate.MigrateConfig(database=env.url, source=broken))
    # Left as the failure left it: rolled back where DDL is transactional, dirty on MySQL.
    expected = (2, True) if env.backend == "mysql" else (1, False)
    assert (state.version, state.dirty) == expected
    assert result.status.last_migration is not None
    assert result.status.last_migration.result == "failed"
    assert "no_such_table" in result.status.last_migration.message
    assert any(e.reason == "MigrationFailed" and e.type == "Warning" for e in result.events)
    failed = env.operator.metrics.registry.get_sample_value(
        "metadb_operator_migrations_total",
        {"database": "shop", "direction": "up", "result": "failed"},
    )
    assert failed == 1

    failed_at = env.operator.metrics.registry.get_sample_value(
        "metadb_operator_migration_last_failure_timestamp_seconds", {"database": "shop"}
    )
    assert failed_at is not None and failed_at > 0

    db, again = env.operator.reconcile(db)  # same spec: nothing is retried
    assert again.steps == [] and len(again.status.errors) == 1
    assert again.waiting_for_spec is not None and "no_such_table" in again.waiting_for_spec
    assert failed == env.operator.metrics.registry.get_sample_value(
        "metadb_operator_migrations_total",
        {"database": "shop", "direction": "up", "result": "failed"},
    )


def test_a_database_restored_from_a_backup_is_brought_forward(env: Env):
    db, _ = env.operator.reconcile(env.resource(desiredVersion=3))
    migrate.down(migrate.MigrateConfig(database=env.url, source=env.source), 2)  # the "restore"
    assert version_of(env.url) == 1

    db, result = env.operator.reconcile(db)
    assert version_of(env.url) == 3
    assert [s.version for s in result.steps] == [2, 3]
    assert any(e.reason == "VersionWentBack" for e in result.events)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
def test_credentials_above_a_restored_version_are_reported_not_dropped(env: Env):
    db, _ = env.operator.reconcile(env.resource(desiredVersion=1))
    db, _ = env.operator.reconcile(db, desired_version=2)
    migrate.down(migrate.MigrateConfig(database=env.url, source=env.source), 1)

    db, result = env.operator.reconcile(db, desired_version=1)
    credentials = result.status.credentials
    assert credentials is not None and credentials.above_current == [2]
    assert condition(result, "Degraded") == ("True", "CredentialsAboveCurrentVersion")
    assert _roles(env) == [1, 2]


def test_a_missing_link_in_the_chain_blocks_and_names_it(env: Env):
    env.operator.migrations = chain((1, None), (3, 2))
    _, result = env.operator.reconcile(env.resource(desiredVersion=3))
    assert condition(result, "Blocked") == ("True", "MissingLink")
    blocked = result.status.condition("Blocked")
    assert blocked is not None and "version 2 (the previous of version 3)" in blocked.message
    assert version_of(env.url) is None


def test_the_links_are_walked_when_complete(env: Env):
    env.operator.migrations = chain((1, None), (2, 1), (3, 2))
    _, result = env.operator.reconcile(env.resource())  # no desiredVersion: the head
    assert result.status.desired_version == 3
    assert [s.version for s in result.steps] == [1, 2, 3]
