"""Running the API: :func:`serve`, the library function behind ``metadb serve``.

Start-up happens in an order that makes every failure a typed error before anything listens:
bind the port, then open the database (migrate, or check the schema), then hand both to
uvicorn. SIGTERM and SIGINT stop the server gracefully (requests in flight finish, the pool is
closed) and :func:`serve` then returns normally.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from metadb.api.app import create_app
from metadb.api.resources import open_resources
from metadb.api.settings import ServeSettings
from metadb.config import LOG_LEVELS
from metadb.errors import ConfigError

log = logging.getLogger("metadb.api")


def serve(
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    log_level: str = "info",
) -> None:
    """Serve the API on ``host:port`` until SIGTERM or SIGINT. Logging is the caller's to
    configure (``metadb serve`` sends it to stderr); requests log to ``metadb.api.access``.

    Raises:
        ConfigError: the address cannot be listened on (in use, not local), a bad log level.
        and the errors of :func:`metadb.api.resources.open_resources` (bad URL, unreachable
        database, a schema that is not current with ``migrate=False``, a failed migration).

    Example::

        serve(ServeSettings(database_url="sqlite:///metadb.sqlite"), port=8080)
    """
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    listener = _listen(host, port)
    try:
        resources = open_resources(settings)
        app = create_app(settings, resources=resources)
        config = uvicorn.Config(
            app,
            log_config=None,  # the caller's logging; uvicorn's own would add colours and handlers
            log_level=log_level,
            access_log=False,  # metadb.api.access logs each request once, without the query
            server_header=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        bound_host, bound_port = listener.getsockname()[:2]
        log.info("metadb API listening on http://%s:%s", _url_host(bound_host), bound_port)
        try:
            with _signals_end_the_server():
                server.run(sockets=[listener])
        finally:
            resources.close()  # the lifespan closes it too; this covers a failed start
    finally:
        listener.close()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"cannot listen on {host}:{port}: {reason}. Stop the process that uses the port or "
            "choose another with --port (and check --host names an address of this machine)"
        ) from exc
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@contextmanager
def _signals_end_the_server() -> Iterator[None]:
    """Keep SIGTERM and SIGINT from killing the process after uvicorn's graceful stop.

    uvicorn handles both while it runs, then re-raises the signal it caught once it has
    stopped; with Python's default handlers that kills the process (SIGTERM) or raises
    KeyboardInterrupt (SIGINT). These handlers take the re-raised signal, so that the stop is
    an ordinary return and exit code 0.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(signum: int, frame: object) -> None:
    log.debug("signal %s after the server stopped", signum)
