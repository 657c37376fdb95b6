"""The migration engine stands alone: :mod:`metadb.hints` builds on it, never the reverse, and
its configuration comes from its caller, never from the environment behind the caller."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import metadb.migrate
from metadb import migrate
from metadb.config import HintSettings, load_settings
from metadb.errors import ConfigError
from tests.migrate.conftest import PORTABLE, WriteSource, config, table_names

MIGRATE_PACKAGE = Path(metadb.migrate.__file__).parent


def _imported_modules(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            modules.append(node.module)
            modules.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("path", sorted(MIGRATE_PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_the_migration_engine_imports_nothing_from_the_hints_engine(path: Path) -> None:
    hints_imports = [
        m for m in _imported_modules(path) if m == "metadb.hints" or m.startswith("metadb.hints.")
    ]

    assert hints_imports == [], f"{path.name} imports {hints_imports}"


@pytest.mark.parametrize("path", sorted(MIGRATE_PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_the_migration_engine_never_reads_the_environment(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    assert "os.environ" not in text and "getenv" not in text and "load_settings" not in text


def test_a_refusing_preflight_stops_up_before_anything_changes(
    database_url: str, write_source: WriteSource
) -> None:
    cfg = config(database_url, write_source(PORTABLE))
    seen: list[int | None] = []

    def refuse(given: migrate.MigrateConfig, *, steps: int | None) -> None:
        seen.append(steps)
        assert given is cfg
        raise ConfigError("refused by the preflight")

    with pytest.raises(ConfigError, match="refused by the preflight"):
        migrate.up(cfg, 2, preflight=refuse)

    assert seen == [2]
    assert "schema_migrations" not in table_names(database_url)
    assert migrate.up(cfg, preflight=lambda given, *, steps: None).version_after == 3


def test_hint_thresholds_come_in_on_the_config_not_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METADB_HINTS_LARGE_TABLE_ROWS", "10")

    from_environment = migrate.MigrateConfig.from_settings(load_settings())

    assert from_environment.hint_settings.large_table_rows == 10
    assert migrate.MigrateConfig().hint_settings == HintSettings()
