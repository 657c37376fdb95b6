"""``metadb serve`` as a real process: start, answer, stop on SIGTERM; start-up failures are
one message and a documented exit code, never a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from metadb.db import parse_database_url
from metadb.migrate.source import load_source
from tests.api.conftest import _free_port
from tests.migrate.conftest import metadb_executable

STARTUP_SECONDS = 60


@contextmanager
def serving(
    *args: str, env: dict[str, str] | None = None, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run ``metadb serve ARGS --port P`` until it answers /healthz; stop it afterwards."""
    port = _free_port()
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [metadb_executable(), "serve", *args, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, **(env or {})},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [metadb_executable(), "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_serve_starts_on_sqlite_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.sqlite'}"
    log = tmp_path / "serve.log"
    with serving("--database", url, log=log) as (process, base):
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        created = httpx.post(f"{base}/api/v1/runs", json={"name": "r"})
        assert created.status_code == 201
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    text = log.read_text()
    assert "GET /readyz 200" in text
    assert "POST /api/v1/runs 201" in text
    assert "Application shutdown complete" in text
    assert "Traceback" not in text


def test_no_migrate_on_an_old_schema_refuses_to_start_naming_the_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    result = _run("--database", url, "--no-migrate", "--port", str(_free_port()))
    assert result.returncode == 3, result.stderr
    assert "not current" in result.stderr
    assert "metadb migrate up --database" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_up_failures_are_one_message_with_the_documented_exit_code(
    tmp_path: Path,
) -> None:
    bad_url = _run("--database", "nonsense", "--port", str(_free_port()))
    assert bad_url.returncode == 2
    assert "cannot use database" in bad_url.stderr

    unreachable = _run(
        "--database", "postgresql://u:hunter2@127.0.0.1:1/x", "--port", str(_free_port())
    )
    assert unreachable.returncode == 1
    assert "cannot connect" in unreachable.stderr
    assert "hunter2" not in unreachable.stderr

    wrong_store = _run("--datastore-type", "mlmd")
    assert wrong_store.returncode == 2
    assert "embedmd" in wrong_store.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        url = f"sqlite:///{tmp_path / 'x.sqlite'}"
        in_use = _run("--database", url, "--port", str(port))
    assert in_use.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in in_use.stderr
    for result in (bad_url, unreachable, wrong_store, in_use):
        assert "Traceback" not in result.stderr


def test_the_token_comes_from_the_environment_and_is_never_printed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'auth.sqlite'}"
    token = "env-t0ken-123"
    log = tmp_path / "serve.log"
    with serving(
        "--database", url, "--log-level", "debug", env={"METADB_AUTH_TOKEN": token}, log=log
    ) as (process, base):
        assert httpx.get(f"{base}/readyz").status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/readyz", headers=headers).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    assert token not in log.read_text()


def _embedmd_dsn(backend: str, database_url: str) -> str:
    url = parse_database_url(database_url).url
    if backend == "mysql":  # a Go MySQL DSN, as the model registry's deployments give it
        user = url.username or "root"
        return f"{user}@tcp({url.host}:{url.port or 3306})/{url.database}?parseTime=True&loc=Local"
    return f"host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_model_registry_flags_serve_the_embedmd_database(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    args = (
        "--datastore-type",
        "embedmd",
        "--embedmd-database-type",
        backend,
        "--embedmd-database-dsn",
        _embedmd_dsn(backend, database_url),
        "--hostname",
        "127.0.0.1",
    )
    with serving(*args, log=tmp_path / "serve.log") as (process, base):
        latest = load_source(None, backend).versions[-1]
        assert httpx.get(f"{base}/readyz").json()["version"] == latest
        assert httpx.get(f"{base}/api/v1/runs").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def test_an_empty_or_blank_token_refuses_to_start_saying_what_to_set(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'blank.sqlite'}"
    empty_file = tmp_path / "empty-token"
    empty_file.write_text("\n")
    refusals = {
        "--auth-token": _run("--database", url, "--auth-token", ""),
        "METADB_AUTH_TOKEN": _run("--database", url, env={"METADB_AUTH_TOKEN": " "}),
        str(empty_file): _run("--database", url, "--auth-token-file", str(empty_file)),
    }
    for source, result in refusals.items():
        assert result.returncode == 2, result.stderr
        assert f"{source} is empty or only whitespace" in result.stderr
        assert "--auth-token-file" in result.stderr
        assert "Traceback" not in result.stderr
    missing = _run("--database", url, "--auth-token-file", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "cannot read the auth token file" in missing.stderr
    assert not (tmp_path / "blank.sqlite").exists()  # refused before the database was opened


def test_the_token_file_and_the_body_limit_flag(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'file.sqlite'}"
    token = "file-t0ken-456"
    token_file = tmp_path / "token"
    token_file.write_bytes(f"{token}\r\n".encode())
    log = tmp_path / "serve.log"
    args = ("--database", url, "--auth-token-file", str(token_file), "--max-body-bytes", "100")
    with serving(*args, "--log-level", "debug", log=log) as (process, base):
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/readyz").status_code == 401
        assert httpx.get(f"{base}/readyz", headers=headers).status_code == 200
        small = httpx.post(f"{base}/api/v1/runs", json={"name": "r"}, headers=headers)
        assert small.status_code == 201
        large = httpx.post(f"{base}/api/v1/runs", json={"name": "r" * 200}, headers=headers)
        assert large.status_code == 413
        assert "limit of 100 bytes" in large.json()["message"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert token not in log.read_text()
