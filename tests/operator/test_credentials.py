"""Per-version credentials against real servers: the roles log in, do DML and nothing more,
survive a second ensure, wait for their sessions, and never show a password.

Roles are server-wide, so each test uses a prefix with a random suffix and drops its roles
afterwards (the ``creds`` fixture).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import DBAPIError

from metadb.db import Database, parse_database_url
from metadb.errors import (
    AuthenticationError,
    ConfigError,
    CredentialError,
    CredentialsNotApplicableError,
    DatabaseError,
)
from metadb.migrate.tables import VersionTable
from metadb.operator.credentials import RevokeOutcome, VersionCredentials, credentials_for
from metadb.operator.secrets import FileSecretSink, pods_referencing, secret_body, secret_name
from tests.conftest import fresh_database

ROLE_BACKENDS = ("postgresql", "mysql")

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(50)),
)


@pytest.fixture(params=ROLE_BACKENDS)
def admin_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An admin connection to a fresh database holding the ``items`` table."""
    urls = fresh_database(str(request.param), tmp_path)
    db = Database.from_url(next(urls))
    with db.connect() as conn:
        metadata.create_all(conn)
        VersionTable().create(conn)
        VersionTable().write(conn, 1, dirty=False)
        conn.commit()
    yield db
    db.dispose()
    next(urls, None)  # drops the database


@pytest.fixture
def creds(admin_db: Database, tmp_path: Path) -> Iterator[VersionCredentials]:
    prefix = f"t{uuid.uuid4().hex[:10]}_app"
    sink = FileSecretSink(tmp_path / "secrets")
    credentials = credentials_for(admin_db, prefix=prefix, sink=sink, database_name="shop")
    yield credentials
    for version in credentials.existing_versions():
        credentials.revoke(version, kill_sessions=True)
    assert credentials.existing_versions() == []


def refuses(url: str) -> bool:
    """Whether the server refuses to log in with ``url``."""
    db = Database.from_url(url)
    try:
        with db.connect():
            return False
    except AuthenticationError:
        return True
    finally:
        db.dispose()


def revoke_when_unused(creds: VersionCredentials, version: int) -> RevokeOutcome:
    """Call revoke until it no longer waits, as the operator does on its next passes (a closed
    session leaves the server's session list a moment after the client closed it)."""
    deadline = time.monotonic() + 10
    outcome = creds.revoke(version)
    while not outcome.revoked and time.monotonic() < deadline:
        time.sleep(0.1)
        outcome = creds.revoke(version)
    return outcome


def app_database(creds: VersionCredentials, version: int) -> Database:
    """A Database logged in with the URL from the secret of ``version``."""
    secret = creds.sink.find(database="shop", version=version)
    assert secret is not None
    return Database.from_url(Path(secret).read_text().strip())


def test_ensure_creates_a_role_that_can_do_dml_but_not_ddl(creds: VersionCredentials):
    credential = creds.ensure(1)

    assert credential.created
    assert credential.username == f"{creds.prefix}_v1"
    app = app_database(creds, 1)
    try:
        with app.connect() as conn:
            conn.execute(insert(items).values(name="a"))  # PostgreSQL: needs the sequence too
            conn.execute(items.update().values(name="b"))
            assert conn.execute(select(items.c.name)).scalars().all() == ["b"]
            conn.execute(items.delete())
            conn.commit()
            with pytest.raises(DBAPIError, match="denied"):
                conn.exec_driver_sql("CREATE TABLE intruder (id INTEGER)")
    finally:
        app.dispose()


def test_a_read_only_application_gets_select_and_narrowing_takes_the_rest_away(
    creds: VersionCredentials,
):
    creds.ensure(1)  # all four privileges
    narrowed = credentials_for(
        creds.database,
        prefix=creds.prefix,
        sink=creds.sink,
        database_name=creds.database_name,
        privileges=["select"],
    )
    narrowed.ensure(1)
    app = app_database(creds, 1)
    try:
        with app.connect() as conn:
            assert conn.execute(select(items.c.name)).scalars().all() == []
            with pytest.raises(DBAPIError, match="denied"):
                conn.execute(insert(items).values(name="a"))
    finally:
        app.dispose()


def test_privileges_other_than_data_ones_are_refused(admin_db: Database, tmp_path: Path):
    with pytest.raises(ConfigError, match="not CREATE"):
        credentials_for(
            admin_db,
            prefix="app",
            sink=FileSecretSink(tmp_path / "s"),
            database_name="x",
            privileges=["SELECT", "CREATE"],
        )


def test_the_application_reads_the_version_table_and_writes_it_only_on_mysql(
    creds: VersionCredentials,
):
    creds.ensure(1)
    app = app_database(creds, 1)
    try:
        with app.connect() as conn:
            assert conn.exec_driver_sql("SELECT version FROM schema_migrations").scalar() == 1
            if creds.database.url.dialect == "postgresql":
                with pytest.raises(DBAPIError, match="permission denied"):
                    conn.exec_driver_sql("UPDATE schema_migrations SET version = 99")
            else:  # MySQL's grant is database-wide (docs/credentials.md)
                conn.exec_driver_sql("UPDATE schema_migrations SET version = 1")
    finally:
        app.dispose()


def test_a_second_ensure_keeps_the_password_and_grants_new_tables(creds: VersionCredentials):
    first = creds.ensure(1)
    secret = Path(first.secret_name)
    url_before = secret.read_text()
    with creds.database.connect() as conn:  # a migration creates a table after the grant
        conn.exec_driver_sql("CREATE TABLE later (id INTEGER PRIMARY KEY)")
        conn.commit()

    second = creds.ensure(1)

    assert (second.created, second.secret_name) == (False, first.secret_name)
    assert secret.read_text() == url_before
    app = app_database(creds, 1)
    try:
        with app.connect() as conn:
            conn.exec_driver_sql("INSERT INTO later (id) VALUES (1)")
            conn.commit()
    finally:
        app.dispose()


def test_ensure_lets_a_role_log_in_again_after_an_interrupted_revoke(
    creds: VersionCredentials,
):
    creds.ensure(1)
    with creds.database.connect() as conn:  # revoke disabled logins, then stopped
        creds._disable_login(conn, creds.username(1))
        conn.commit()
    locked = app_database(creds, 1)
    with pytest.raises(DatabaseError), locked.connect():
        pass
    locked.dispose()

    creds.ensure(1)

    app = app_database(creds, 1)
    try:
        with app.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        app.dispose()


def test_a_role_whose_secret_was_lost_gets_a_new_password(creds: VersionCredentials):
    first = creds.ensure(1)
    old_url = Path(first.secret_name).read_text().strip()
    Path(first.secret_name).unlink()

    again = creds.ensure(1)

    new_url = Path(again.secret_name).read_text().strip()
    assert not again.created and new_url != old_url
    wrong = parse_database_url(new_url).url.set(password="wrong").render_as_string(False)
    if refuses(wrong):  # not where the server trusts every login (PostgreSQL here)
        assert refuses(old_url)
    app = app_database(creds, 1)
    try:
        with app.connect() as conn:
            assert conn.execute(select(items.c.id)).all() == []
    finally:
        app.dispose()


def test_existing_versions_lists_the_roles_of_this_prefix_only(creds: VersionCredentials):
    other = credentials_for(
        creds.database, prefix=f"{creds.prefix}_v2x", sink=creds.sink, database_name="other"
    )
    creds.ensure(3)
    creds.ensure(12)
    other.ensure(1)  # role "<prefix>_v2x_v1": same start, not one of ours
    try:
        assert creds.existing_versions() == [3, 12]
    finally:
        other.revoke(1)


def test_revoke_waits_while_a_session_uses_the_role(creds: VersionCredentials):
    credential = creds.ensure(1)
    app = app_database(creds, 1)
    try:
        with app.connect() as session:
            session.exec_driver_sql("SELECT 1")
            assert creds.sessions(1) == 1

            outcome = creds.revoke(1)

            assert (outcome.revoked, outcome.sessions) == (False, 1)
            assert outcome.message == f"waiting: 1 sessions use {credential.username}"
            assert creds.existing_versions() == [1]
            assert Path(credential.secret_name).is_file()
            session.exec_driver_sql("SELECT 1")  # still logged in
        app.dispose()  # the pool closes the session

        outcome = revoke_when_unused(creds, 1)

        assert (outcome.revoked, outcome.sessions) == (True, 0)
        assert creds.existing_versions() == []
        assert not Path(credential.secret_name).exists()
        again = Database.from_url(app.url)
        with pytest.raises(AuthenticationError), again.connect():
            pass
        again.dispose()
    finally:
        app.dispose()


def test_a_new_login_after_a_waiting_revoke_still_works(creds: VersionCredentials):
    creds.ensure(1)
    app = app_database(creds, 1)
    try:
        with app.connect() as first:
            first.exec_driver_sql("SELECT 1")
            assert not creds.revoke(1).revoked
            other = app_database(creds, 1)
            with other.connect() as second:  # logins were not left disabled
                second.exec_driver_sql("SELECT 1")
            other.dispose()
    finally:
        app.dispose()


def test_revoke_with_kill_sessions_terminates_them(creds: VersionCredentials):
    credential = creds.ensure(1)
    app = app_database(creds, 1)
    try:
        with app.connect() as session:
            session.exec_driver_sql("SELECT 1")

            outcome = creds.revoke(1, kill_sessions=True)

            assert (outcome.revoked, outcome.sessions) == (True, 1)
            with pytest.raises(DBAPIError):
                session.exec_driver_sql("SELECT 1")
        assert creds.existing_versions() == []
        assert not Path(credential.secret_name).exists()
    finally:
        app.dispose()


def test_revoking_a_version_that_has_no_role_is_a_no_op(creds: VersionCredentials):
    outcome = creds.revoke(7)

    assert outcome.revoked and outcome.sessions == 0


def test_secret_files_are_private_and_hold_the_url(creds: VersionCredentials, tmp_path: Path):
    credential = creds.ensure(2)

    path = Path(credential.secret_name)
    assert path == tmp_path / "secrets" / "shop-v2"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    url = parse_database_url(path.read_text().strip())
    assert url.url.username == credential.username
    assert url.url.password  # the password is in the file, and only there
    assert url.database == creds.database.url.database
    assert url.url.host == creds.database.url.url.host
    assert [p.name for p in path.parent.iterdir()] == ["shop-v2"]  # no temporary file left


def test_passwords_never_reach_logs_or_errors(
    creds: VersionCredentials, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # as if echo were on
    credential = creds.ensure(1)
    Path(credential.secret_name).unlink()
    creds.ensure(1)  # a new password, set with ALTER
    password = parse_database_url(Path(credential.secret_name).read_text().strip()).url.password
    creds.revoke(1)
    assert password
    assert "GRANT" in caplog.text or "pg_roles" in caplog.text  # the engine log was on

    assert password not in caplog.text
    assert "IDENTIFIED BY" not in caplog.text and "PASSWORD 'SCRAM" not in caplog.text
    assert credential.username not in "".join(r.getMessage() for r in _metadb_records(caplog))


def test_an_admin_without_the_privilege_gets_an_error_without_any_password(
    creds: VersionCredentials,
):
    creds.ensure(1)
    app_url = parse_database_url(app_database(creds, 1).url.url.render_as_string(False))
    password = app_url.url.password
    assert password
    weak = credentials_for(  # the application role itself may not create roles
        Database(app_url), prefix=creds.prefix, sink=creds.sink, database_name="shop"
    )

    with pytest.raises(CredentialError) as caught:
        weak.ensure(5)

    weak.database.dispose()
    shown = "".join(traceback.format_exception(caught.value))
    assert password not in shown
    assert "may create roles" in str(caught.value)
    assert creds.sink.find(database="shop", version=5) is None


def test_sqlite_has_no_login_roles(tmp_path: Path):
    db = Database.from_url(f"sqlite:///{tmp_path / 'x.sqlite'}")
    creds = credentials_for(
        db, prefix="app", sink=FileSecretSink(tmp_path / "s"), database_name="x"
    )

    assert creds.applicable is False
    with pytest.raises(CredentialsNotApplicableError, match="not applicable to SQLite"):
        creds.ensure(1)
    assert creds.existing_versions() == []
    assert creds.sessions(1) == 0
    outcome = creds.revoke(1)
    assert not outcome.revoked and "not applicable" in outcome.message
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("prefix", ["App", "1app", "app-x", 'a"; DROP ROLE postgres; --', "a" * 42])
def test_a_prefix_that_is_not_a_plain_name_is_refused(prefix: str, tmp_path: Path):
    db = Database.from_url("postgresql://nobody@127.0.0.1:1/none")

    with pytest.raises(ConfigError, match="not allowed"):
        credentials_for(db, prefix=prefix, sink=FileSecretSink(tmp_path), database_name="x")


# -- the Kubernetes sink's pure parts ---------------------------------------------------------


def test_the_kubernetes_secret_is_labelled_and_owned_by_the_managed_database():
    owner = {
        "apiVersion": "metadb.io/v1alpha1",
        "kind": "ManagedDatabase",
        "metadata": {"name": "shop", "uid": "1234-abcd"},
    }

    body = secret_body(
        name=secret_name("Shop_DB", 3),
        namespace="prod",
        database="Shop_DB",
        version=3,
        username="shop_app_v3",
        password="s3cret",
        url="postgresql+psycopg://shop_app_v3:s3cret@db/shop",
        owner=owner,
    )

    assert body["metadata"]["name"] == "shop-db-v3"
    assert body["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "metadb",
        "metadb.io/database": "Shop_DB",
        "metadb.io/credential": "application",
        "metadb.io/version": "3",
    }
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "metadb.io/v1alpha1",
            "kind": "ManagedDatabase",
            "name": "shop",
            "uid": "1234-abcd",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert body["stringData"] == {
        "username": "shop_app_v3",
        "password": "s3cret",
        "url": "postgresql+psycopg://shop_app_v3:s3cret@db/shop",
    }


def _pod(name: str, phase: str = "Running", **spec: object) -> k8s.V1Pod:
    containers = spec.pop("containers", [k8s.V1Container(name="app", image="shop")])
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1PodSpec(containers=containers, **spec),
        status=k8s.V1PodStatus(phase=phase),
    )


def _env_pod(name: str, secret: str) -> k8s.V1Pod:
    ref = k8s.V1SecretKeySelector(name=secret, key="url")
    source = k8s.V1EnvVarSource(secret_key_ref=ref)
    env = k8s.V1EnvVar(name="METADB_DATABASE_URL", value_from=source)
    return _pod(name, containers=[k8s.V1Container(name="app", image="shop", env=[env])])


def test_a_secret_is_in_use_while_a_running_pod_references_it_in_any_way():
    env_from = k8s.V1Container(
        name="app",
        image="shop",
        env_from=[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name="shop-v2"))],
    )
    projected = k8s.V1Volume(
        name="creds",
        projected=k8s.V1ProjectedVolumeSource(
            sources=[k8s.V1VolumeProjection(secret=k8s.V1SecretProjection(name="shop-v3"))]
        ),
    )
    volume = k8s.V1Volume(name="s", secret=k8s.V1SecretVolumeSource(secret_name="shop-v1"))
    pods = [
        _env_pod("by-env", "shop-v1"),
        _pod("by-env-from", containers=[env_from]),
        _pod("by-volume", volumes=[volume]),
        _pod("by-projection", volumes=[projected]),
        _pod("unrelated"),
    ]

    assert pods_referencing("shop-v1", pods) == ["by-env", "by-volume"]
    assert pods_referencing("shop-v2", pods) == ["by-env-from"]
    assert pods_referencing("shop-v3", pods) == ["by-projection"]
    assert pods_referencing("shop-v9", pods) == []


def test_finished_pods_and_plain_json_pods_are_understood():
    done = _env_pod("job-done", "shop-v1")
    done.status.phase = "Succeeded"
    as_json = {
        "metadata": {"name": "from-json"},
        "spec": {"initContainers": [{"envFrom": [{"secretRef": {"name": "shop-v1"}}]}]},
        "status": {"phase": "Pending"},
    }

    assert pods_referencing("shop-v1", [done, as_json]) == ["from-json"]


def _metadb_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("metadb")]


def test_secret_names_are_valid_file_and_kubernetes_names():
    assert secret_name("shop", 1) == "shop-v1"
    assert secret_name("My_Shop DB", 20240101) == "my-shop-db-v20240101"
    assert os.sep not in secret_name("../../etc/passwd", 1)


def test_the_rotation_example_in_the_docs_runs(creds: VersionCredentials):
    docs = Path(__file__).parents[2] / "docs" / "credentials.md"
    # The block may carry a doc-test marker (tests/test_docs.py) between heading and fence.
    rotation = r"## Rotation\n\n(?:<!-- doc-test:[^\n]*-->\n)?```python\n(.*?)```"
    example = re.search(rotation, docs.read_text(), re.DOTALL)
    assert example is not None
    creds.ensure(1)
    sink = creds.sink
    assert isinstance(sink, FileSecretSink)
    namespace: dict[str, object] = {
        "ADMIN_URL_OF_THE_SHOP_DATABASE": creds.database.url,
        "SECRETS_DIR": sink.directory,
    }

    exec(example[1].replace('"shop_app"', repr(creds.prefix)), namespace)

    assert namespace["outcome"] == RevokeOutcome(
        1, f"{creds.prefix}_v1", True, 0, f"revoked {creds.prefix}_v1"
    )
    assert creds.existing_versions() == [2]
    assert sorted(p.name for p in sink.directory.iterdir()) == ["shop-v2"]
    namespace["admin"].dispose()  # type: ignore[attr-defined]
