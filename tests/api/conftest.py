"""Fixtures for the REST API: the real app on a fresh database of each backend.

``api`` drives the app in-process (Starlette's TestClient, lifespan included); ``live_server``
runs it under uvicorn on a free loopback port, for the client and anything that needs real HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from metadb.api import ServeSettings, create_app


@pytest.fixture
def serve_settings(database_url: str) -> ServeSettings:
    return ServeSettings(database_url=database_url)


@pytest.fixture
def api(serve_settings: ServeSettings) -> Iterator[TestClient]:
    with TestClient(create_app(serve_settings), raise_server_exceptions=False) as client:
        yield client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live_server(serve_settings: ServeSettings) -> Iterator[str]:
    """The base URL of the app served by uvicorn in a background thread."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(serve_settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
