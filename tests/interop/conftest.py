"""ml-metadata in a separate environment, to prove interoperability against the real thing.

ml-metadata 1.17.1 ships wheels for CPython 3.9-3.11 only and needs protobuf < 5, so it gets a
virtual environment of its own (cached under ~/.cache/metadb-tests, or METADB_TEST_CACHE) and
tests talk to it through small scripts run with that interpreter. Where it cannot be installed
the interop tests skip, saying why.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

MLMD_VERSION = "1.17.1"
_PYTHONS = ("python3.11", "python3.10", "python3.9")


def _base_python() -> str | None:
    if sys.version_info[:2] in ((3, 9), (3, 10), (3, 11)):
        return sys.executable
    for name in _PYTHONS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _cache_dir() -> Path:
    root = os.environ.get("METADB_TEST_CACHE") or Path.home() / ".cache" / "metadb-tests"
    return Path(root) / f"ml-metadata-{MLMD_VERSION}"


@pytest.fixture(scope="session")
def mlmd_python() -> Path:
    """The interpreter of a virtual environment that has ml-metadata installed."""
    base = _base_python()
    if base is None:
        pytest.skip(f"ml-metadata {MLMD_VERSION} needs CPython 3.9-3.11; none found on PATH")
    venv = _cache_dir()
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one xdist worker installs, the others wait
        if _importable(python):
            return python
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [base, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", f"ml-metadata=={MLMD_VERSION}"],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                pytest.skip(
                    f"ml-metadata {MLMD_VERSION} cannot be installed here: {' | '.join(tail)}"
                )
        if not _importable(python):
            pytest.skip(f"ml-metadata {MLMD_VERSION} installed but does not import")
    return python


def _importable(python: Path) -> bool:
    if not python.exists():
        return False
    probe = [str(python), "-c", "import ml_metadata.metadata_store"]
    return subprocess.run(probe, capture_output=True, timeout=120).returncode == 0


def run_mlmd(python: Path, script: str, **arguments: Any) -> Any:
    """Run ``script`` with ml-metadata's interpreter. The script reads ``ARGS`` (a dict) and
    assigns ``RESULT``, which comes back through JSON."""
    program = (
        "import json, sys\nARGS = json.loads(sys.argv[1])\nRESULT = None\n"
        + textwrap.dedent(script)
        + "\nprint('@@RESULT@@' + json.dumps(RESULT, default=str))\n"
    )
    done = subprocess.run(
        [str(python), "-c", program, json.dumps(arguments)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise AssertionError(f"ml-metadata script failed:\n{done.stderr[-4000:]}")
    marker = done.stdout.rfind("@@RESULT@@")
    return json.loads(done.stdout[marker + len("@@RESULT@@") :])


def mlmd_connection_config(url: str) -> dict[str, Any]:
    """The fields of ml-metadata's ConnectionConfig for one of the tests' database URLs."""
    from metadb.db import parse_database_url

    parsed = parse_database_url(url).url
    if parsed.get_backend_name() == "sqlite":
        return {"sqlite": {"filename_uri": parsed.database, "connection_mode": 3}}
    if parsed.get_backend_name() == "mysql":
        config = {"host": parsed.host, "port": parsed.port or 3306, "database": parsed.database}
        config["user"] = parsed.username
        if parsed.password:
            config["password"] = parsed.password
        return {"mysql": config}
    config = {"host": parsed.host, "port": str(parsed.port or 5432), "dbname": parsed.database}
    config["user"] = parsed.username
    if parsed.password:
        config["password"] = parsed.password
    return {"postgresql": config}


#: Opens ml-metadata's store on ARGS["config"] (a ConnectionConfig as a dict) as ``store``.
OPEN_STORE = """
from google.protobuf import json_format
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb
config = json_format.ParseDict(ARGS["config"], pb.ConnectionConfig())
store = metadata_store.MetadataStore(config)
"""
