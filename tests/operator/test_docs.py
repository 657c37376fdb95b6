"""docs/operator.md's example, run as written: its files, its command, its output."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from metadb.operator.resources import DatabaseMigration, ManagedDatabase
from tests.migrate.conftest import metadb_executable

DOC = Path(__file__).resolve().parents[2] / "docs" / "operator.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text()) if lang == language]


def _files() -> dict[str, str]:
    """The example's files: blocks whose first line is a comment naming the file."""
    files = {}
    for language, marker in (("yaml", "# "), ("sql", "-- ")):
        for body in _blocks(language):
            first, _, rest = body.partition("\n")
            if first.startswith(marker + "ops/"):
                files[first[len(marker) :].strip()] = body if language == "yaml" else rest
    return files


def test_every_yaml_example_is_a_valid_resource():
    files = _files()
    assert {"ops/shop.yaml", "ops/chain.yaml"} <= files.keys()
    kinds = []
    for name in ("ops/shop.yaml", "ops/chain.yaml"):
        for document in yaml.safe_load_all(files[name]):
            model = ManagedDatabase if document["kind"] == "ManagedDatabase" else DatabaseMigration
            kinds.append(model.model_validate(document).kind)
    assert kinds == ["ManagedDatabase", "DatabaseMigration", "DatabaseMigration"]


def test_the_one_machine_example_runs_as_documented(tmp_path: Path):
    for name, text in _files().items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (console,) = [b for b in _blocks("console") if "--resources ops --once" in b]
    command, *rest = console.splitlines()
    expected = [line for line in rest if not line.startswith("$")][:3]

    done = subprocess.run(
        [metadb_executable(), *command.removeprefix("$ metadb ").split()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected
    status = yaml.safe_load((tmp_path / "ops" / "shop.status.yaml").read_text())["status"]
    assert status["currentVersion"] == 2
    assert status["credentials"]["applicable"] is False  # SQLite
    assert status["hints"]["undeclaredTables"] == []
