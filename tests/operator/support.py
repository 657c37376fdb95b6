"""Helpers for the operator tests: a migration source per dialect, resources, a context."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metadb.db import Database
from metadb.operator.credentials import credentials_for
from metadb.operator.local import FileSecretResolver
from metadb.operator.metrics import OperatorMetrics
from metadb.operator.reconcile import ReconcileContext, ReconcileResult, reconcile
from metadb.operator.resources import DatabaseMigration, ManagedDatabase, ManagedDatabaseSpec
from metadb.operator.secrets import FileSecretSink

ID_COLUMN = {
    "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "id SERIAL PRIMARY KEY",
    "mysql": "id INTEGER AUTO_INCREMENT PRIMARY KEY",
}

#: version -> (up, down), the same on every dialect except the id column of v1.
MIGRATIONS: dict[int, tuple[str, str]] = {
    1: ("CREATE TABLE items ({id}, name VARCHAR(100));", "DROP TABLE items;"),
    2: ("ALTER TABLE items ADD COLUMN price INTEGER;", "ALTER TABLE items DROP COLUMN price;"),
    3: (
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, item_id INTEGER);",
        "DROP TABLE orders;",
    ),
}


def write_source(
    root: Path, migrations: dict[int, tuple[str, str]] | None = None, *, names: str = "step"
) -> Path:
    """A golang-migrate source with one directory per dialect under ``root``."""
    for dialect, id_column in ID_COLUMN.items():
        directory = root / dialect
        directory.mkdir(parents=True, exist_ok=True)
        for version, (up, down) in (migrations or MIGRATIONS).items():
            stem = f"{version:06d}_{names}{version}"
            (directory / f"{stem}.up.sql").write_text(up.format(id=id_column) + "\n")
            (directory / f"{stem}.down.sql").write_text(down + "\n")
    return root


def resource(
    url: str, source: Path, *, name: str = "shop", prefix: str | None = None, **spec: Any
) -> ManagedDatabase:
    """A ManagedDatabase of ``url`` (no secret needed: test servers take no password)."""
    body: dict[str, Any] = {
        "connection": {"url": url},
        "migrations": {"source": str(source), "lockTimeout": 10},
        "hints": {"enabled": False},
        "credentials": {"usernamePrefix": prefix or f"t{uuid.uuid4().hex[:8]}_app"},
    }
    for key, value in spec.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return ManagedDatabase.model_validate(
        {
            "apiVersion": "metadb.io/v1alpha1",
            "kind": "ManagedDatabase",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": body,
        }
    )


@dataclass
class Operator:
    """Reconciles a resource again and again, carrying its status like a cluster would."""

    secrets: Path
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    migrations: list[DatabaseMigration] = field(default_factory=list)
    pushgateway: str | None = None

    def context(self) -> ReconcileContext:
        return ReconcileContext(
            metrics=self.metrics,
            resolve_secret=FileSecretResolver(self.secrets),
            secret_sink=FileSecretSink(self.secrets),
            migrations=self.migrations,
            pushgateway=self.pushgateway,
            backoff_base=1.0,
        )

    def reconcile(
        self, db: ManagedDatabase, **spec: Any
    ) -> tuple[ManagedDatabase, ReconcileResult]:
        """One pass over ``db`` with ``spec`` changes applied; the new resource carries the
        returned status."""
        if spec:
            merged = {**db.spec.model_dump(), **spec}
            db = db.model_copy(update={"spec": ManagedDatabaseSpec.model_validate(merged)})
        result = reconcile(db, context=self.context())
        return db.model_copy(update={"status": result.status}), result


def cleanup_roles(url: str, db: ManagedDatabase, secrets: Path) -> None:
    """Drop the login roles a test made (roles outlive the test's database)."""
    database = Database.from_url(url)
    try:
        creds = credentials_for(
            database,
            prefix=db.spec.credentials.username_prefix,
            sink=FileSecretSink(secrets),
            database_name=db.name,
        )
        if creds.applicable:
            for version in creds.existing_versions():
                creds.revoke(version, kill_sessions=True)
    finally:
        database.dispose()


def version_of(url: str) -> int | None:
    from metadb import migrate

    # The resources' migrations are a --source: golang-migrate's schema_migrations.
    return migrate.version(migrate.MigrateConfig(database=url, table="schema_migrations")).version


def condition(result: ReconcileResult, type_: str) -> tuple[str, str]:
    found = result.status.condition(type_)  # type: ignore[arg-type]
    assert found is not None, f"no {type_} condition"
    return found.status, found.reason


def iter_lines(text: str) -> Iterator[str]:
    yield from (line for line in text.splitlines() if line and not line.startswith("#"))


def chain(
    *links: tuple[int, int | None], revisions: dict[int, str] | None = None
) -> list[DatabaseMigration]:
    """DatabaseMigrations linking ``(version, previous)`` pairs."""
    return [
        DatabaseMigration.model_validate(
            {
                "kind": "DatabaseMigration",
                "metadata": {"name": f"v{version}"},
                "spec": {
                    "version": version,
                    "previous": previous,
                    "revision": (revisions or {}).get(version),
                },
            }
        )
        for version, previous in links
    ]
