"""What an import costs: the client and ``import metadb`` load neither the server nor SQLAlchemy.

A program that only talks to ``metadb serve`` installs metadb for its client; importing it must
not drag in FastAPI, the ORM, the database drivers or the CLI. Each check runs in a fresh
interpreter, since this test process has long since imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: The server, the database layer, the CLI and the operator: none is the client's business.
HEAVY = (
    "fastapi", "starlette", "uvicorn", "prometheus_client", "sqlalchemy", "psycopg", "pymysql",
    "sqlglot", "typer", "rich", "yaml", "kopf",
)  # fmt: skip


def _loaded_after(code: str) -> set[str]:
    """The top-level packages of ``HEAVY`` in ``sys.modules`` after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])} & set(HEAVY)


def _loaded_by_httpx() -> set[str]:
    """What httpx itself loads: it imports its command line (click, rich) whenever they are
    installed (encode/httpx#3547), and metadb's CLI installs rich. Not metadb's to avoid."""
    loaded = _loaded_after("import httpx")
    assert loaded <= {"rich"}, f"httpx now loads {sorted(loaded)}; see whether the client can"
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "import metadb.client",
        "import metadb.client; metadb.client.Client('http://127.0.0.1:1').close()",
        "from metadb.client import Client; from metadb.store import Artifact, ListOptions",
        "from metadb.runs import Run, RunPage, MAX_PAGE_SIZE",
        "import metadb.wire.store, metadb.wire.lineage, metadb.wire.runs, metadb.wire.ops",
    ],
)
def test_the_client_and_the_wire_models_load_no_server_and_no_database_layer(code: str):
    assert _loaded_after(code) - _loaded_by_httpx() == set()


def test_import_metadb_alone_loads_nothing_heavy():
    assert _loaded_after("import metadb") == set()


def test_the_store_still_opens_through_the_lazy_names(tmp_path):
    code = (
        "import metadb\n"
        f"store = metadb.connect('sqlite:///{tmp_path / 'm.sqlite'}')\n"
        "assert isinstance(store, metadb.MetadataStore)\n"
        "store.close()"
    )

    assert "sqlalchemy" in _loaded_after(code)


def test_lazy_names_are_the_defining_modules_objects():
    import metadb
    import metadb.runs
    import metadb.store
    from metadb.runs.connect import connect as connect_runs
    from metadb.runs.store import RunStore
    from metadb.store.connect import connect
    from metadb.store.metadata_store import MetadataStore

    # Importing a submodule named like the function (store/connect.py) must not shadow it.
    assert metadb.connect is connect and metadb.store.connect is connect
    assert metadb.runs.connect is connect_runs
    assert metadb.MetadataStore is MetadataStore and metadb.store.MetadataStore is MetadataStore
    assert metadb.runs.RunStore is RunStore
    assert {"connect", "MetadataStore", "Database"} <= set(dir(metadb))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        metadb.nothing  # noqa: B018
