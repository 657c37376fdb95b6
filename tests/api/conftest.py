"""Fixtures for the REST API: the real app on a fresh database of each backend.

``api`` drives the app in-process (Starlette's TestClient, lifespan included); ``live_server``
runs it under uvicorn on a free loopback port, for the client and anything that needs real HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

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
    with running_server(serve_settings) as base_url:
        yield base_url


@contextmanager
def running_server(settings: ServeSettings) -> Iterator[str]:
    """Serve ``create_app(settings)`` with uvicorn in a thread; yield its base URL."""
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
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


TOKEN = "t0ken-for-tests"


@pytest.fixture
def authed_api(database_url: str) -> Iterator[TestClient]:
    """The app with bearer auth on (token :data:`TOKEN`); requests carry no token by default."""
    settings = ServeSettings(database_url=database_url, auth_token=TOKEN)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


class TcpProxy:
    """A loopback TCP forwarder to a database server, to take the database "down" and bring
    it back as a restart would: :meth:`stop` closes the port and every open connection,
    :meth:`start` listens again on the same port. The database itself is never touched."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                # shutdown() wakes the thread blocked in accept(); close() alone does not.
                with suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
