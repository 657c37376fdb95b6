"""What the server does before and after a handler: the token before the body, the body limit
without buffering, and a 500 that closes the connection and logs no SQL or data."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from metadb.api import ServeSettings, create_app
from metadb.client import Client
from metadb.db import Database
from metadb.errors import ServerResponseError
from metadb.store import Artifact, ArtifactType
from tests.api.conftest import running_server

LIMIT = 1000
TOKEN = "guard-t0ken"
SECRET = "s3cret-uri-of-a-user"


def _exchange(base_url: str, *parts: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    """Send ``parts`` over a raw connection and read the answer until the server closes it.
    What is not sent (the rest of a declared body) never is: an answer proves the server did
    not wait for it."""
    where = urlsplit(base_url)
    with socket.create_connection((where.hostname, where.port), timeout=15) as sock:
        for part in parts:
            sock.sendall(part)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def _post_head(path: str, *, length: int | None = None, token: str | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.fixture
def guarded(database_url: str) -> Iterator[str]:
    """A live server with a token and a body limit of :data:`LIMIT` bytes."""
    settings = ServeSettings(
        database_url=database_url, auth_token=TOKEN, max_body_bytes=LIMIT, run_backfills=False
    )
    with running_server(settings) as base_url:
        yield base_url


def test_an_unauthenticated_huge_body_is_refused_at_once_with_401(guarded: str) -> None:
    status, headers, body = _exchange(guarded, _post_head("/api/v1/runs", length=10**9))
    assert status == 401
    assert body["code"] == "unauthenticated"
    assert headers["connection"] == "close"
    assert headers["www-authenticate"].startswith("Bearer")


def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(guarded: str) -> None:
    head = _post_head("/api/v1/runs", length=10**9, token=TOKEN)
    status, headers, body = _exchange(guarded, head)
    assert status == 413
    assert body["code"] == "body_too_large"
    assert f"limit of {LIMIT} bytes" in str(body["message"])
    assert headers["connection"] == "close"


def test_a_chunked_body_is_counted_as_it_streams(guarded: str) -> None:
    # Three chunks pass the limit; the last chunk (which ends the body) is never sent.
    chunks = [_chunk(b'{"name": "' + b"x" * 400)] * 3
    status, headers, body = _exchange(guarded, _post_head("/api/v1/runs", token=TOKEN), *chunks)
    assert status == 413
    assert body["code"] == "body_too_large"
    assert f"limit of {LIMIT} bytes" in str(body["message"])
    assert headers["connection"] == "close"


def test_bodies_within_the_limit_are_served(guarded: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = httpx.post(f"{guarded}/api/v1/runs", json={"name": "r" * 200}, headers=auth)
    assert created.status_code == 201, created.text
    streamed = httpx.post(
        f"{guarded}/api/v1/runs",
        content=iter([b'{"name": ', b'"streamed"}']),
        headers={**auth, "content-type": "application/json"},
    )
    assert streamed.status_code == 201, streamed.text


def _drop_artifact_table(database_url: str) -> None:
    db = Database.from_url(database_url)
    try:
        with db.connect() as conn, conn.begin():
            [name] = [t for t in inspect(conn).get_table_names() if t.lower() == "artifact"]
            conn.execute(text(f"DROP TABLE {conn.dialect.identifier_preparer.quote(name)}"))
    finally:
        db.dispose()


def test_a_500_closes_the_connection_and_the_clients_next_call_works(
    live_server: str, database_url: str
) -> None:
    with Client(live_server) as remote:
        type_id = remote.put_artifact_type(ArtifactType(name="Dataset"))
        _drop_artifact_table(database_url)
        with pytest.raises(ServerResponseError) as raised:
            remote.put_artifacts([Artifact(type_id=type_id, uri=SECRET)])
        assert raised.value.status == 500
        assert SECRET not in str(raised.value)
        assert [t.name for t in remote.get_artifact_types()] == ["Dataset"]
    answer = httpx.post(
        f"{live_server}/api/v1/artifacts",
        json={"artifacts": [{"type_id": type_id, "uri": SECRET}]},
    )
    assert answer.status_code == 500
    assert answer.headers["connection"] == "close"
    assert answer.json()["code"] == "internal"


def test_a_500_logs_the_class_and_place_but_no_sql_or_data(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="metadb")
    # No background backfills: they would write beside the DROP and log errors of their own.
    settings = ServeSettings(database_url=database_url, run_backfills=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        _a_500_logs_no_sql(api, database_url, caplog)


def _a_500_logs_no_sql(
    api: TestClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    type_id = api.post(
        "/api/v1/artifact_types", json={"artifact_type": {"name": "Dataset"}}
    ).json()["type_id"]
    _drop_artifact_table(database_url)
    response = api.post(
        "/api/v1/artifacts", json={"artifacts": [{"type_id": type_id, "uri": SECRET}]}
    )
    assert response.status_code == 500
    assert response.headers["connection"] == "close"
    [line] = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = line.getMessage()
    assert "POST /api/v1/artifacts failed: metadb.errors.StatementError from " in message
    assert "metadb --debug serve" in message
    assert line.exc_info is None
    for leak in (SECRET, "[SQL", "INSERT", "SELECT"):
        assert leak not in caplog.text, leak


def test_with_debug_a_500_logs_the_traceback_but_never_the_bind_parameters(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="metadb")
    settings = ServeSettings(database_url=database_url, debug=True, run_backfills=False)
    with TestClient(create_app(settings)) as api:
        type_id = api.post(
            "/api/v1/artifact_types", json={"artifact_type": {"name": "Dataset"}}
        ).json()["type_id"]
        _drop_artifact_table(database_url)
        response = api.post(
            "/api/v1/artifacts", json={"artifacts": [{"type_id": type_id, "uri": SECRET}]}
        )
    assert response.status_code == 500
    [line] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert line.exc_info is not None
    assert "Traceback" in caplog.text and "[SQL: " in caplog.text
    assert "[SQL parameters hidden due to hide_parameters=True]" in caplog.text
    assert SECRET not in caplog.text


def test_an_exception_no_handler_takes_is_a_500_that_stops_at_the_app(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(ServeSettings(database_url=database_url, run_backfills=False))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"SELECT * FROM t WHERE uri = '{SECRET}'")

    # raise_server_exceptions stays on: an exception that escaped the app would fail here.
    with TestClient(app) as api:
        response = api.get("/boom")
        assert response.status_code == 500
        assert response.json()["code"] == "internal"
        assert response.headers["connection"] == "close"
        assert api.get("/healthz").status_code == 200
    assert "GET /boom failed: RuntimeError at tests.api.test_request_guards:" in caplog.text
    assert "Traceback" not in caplog.text
    assert SECRET not in caplog.text
