"""The client's errors, from a real server's answers: every one built with its facts, and a path
the server does not serve told apart from a missing node."""

from __future__ import annotations

import httpx
import pytest

from metadb.api import ServeSettings
from metadb.client import Client
from metadb.client._http import HttpTransport
from metadb.db import parse_database_url
from metadb.errors import (
    DatabaseUnreachableError,
    NotFoundError,
    ServerResponseError,
    ServerUnreachableError,
)
from tests.api.conftest import TcpProxy, running_server


def test_a_path_the_server_does_not_serve_is_a_version_mismatch_not_a_missing_node(
    live_server: str,
) -> None:
    transport = HttpTransport(live_server)
    try:
        with pytest.raises(ServerResponseError) as raised:
            transport.request("GET", "/api/v1/artifacts:by_colour", params={"colour": "red"})
        assert (raised.value.status, raised.value.server_code) == (404, "route_not_found")
        assert "does not serve GET /api/v1/artifacts:by_colour" in str(raised.value)
        assert "version" in str(raised.value)
        with pytest.raises(NotFoundError, match="12345"):
            transport.request("GET", "/api/v1/artifact_types/12345")
    finally:
        transport.close()
    with Client(live_server) as remote, pytest.raises(NotFoundError):
        remote.get_run(12345)


def test_an_older_servers_unknown_path_is_not_read_as_a_missing_node() -> None:
    # Servers before route_not_found answered Starlette's words under the store's code.
    def older_server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"code": "not_found", "message": "Not Found"})

    http = httpx.Client(transport=httpx.MockTransport(older_server))
    with Client("http://older", http=http) as remote, pytest.raises(ServerResponseError) as raised:
        remote.get_artifact_types()
    assert raised.value.server_code == "route_not_found"
    assert "does not serve GET /api/v1/artifact_types" in str(raised.value)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_the_servers_database_down_is_a_database_unreachable_error_with_its_facts(
    database_url: str, backend: str
) -> None:
    real = parse_database_url(database_url).url
    proxy = TcpProxy((real.host or "127.0.0.1", int(real.port or 0)))
    proxy.start()
    through = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        settings = ServeSettings(database_url=through, run_backfills=False)
        with running_server(settings) as base_url, Client(base_url) as remote:
            assert remote.get_artifact_types() == []
            proxy.stop()
            with pytest.raises(DatabaseUnreachableError) as raised:
                remote.get_artifact_types()
    finally:
        proxy.stop()
    error = raised.value
    assert not isinstance(error, ServerUnreachableError)
    assert (error.url, error.from_server) == (base_url, True)
    assert error.detail.startswith("cannot connect to ")
    assert str(error).startswith(f"the metadb server at {base_url} cannot reach its database: ")
