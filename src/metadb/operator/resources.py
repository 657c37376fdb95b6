"""The operator's two resources, ManagedDatabase and DatabaseMigration, as pydantic models.

The same models validate YAML files (``metadb operator run --resources DIR``) and Kubernetes
custom resources (group ``metadb.io``, version ``v1alpha1``), and the CRDs in ``deploy/`` are
generated from their JSON schemas by :func:`crds`. Field names are camelCase in YAML, as
Kubernetes writes them, and snake_case in Python.

Example::

    db = ManagedDatabase.model_validate(yaml.safe_load(text))
    db.spec.desired_version, db.status.current_version
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from metadb.config import DEFAULT_LOCK_TIMEOUT

GROUP = "metadb.io"
VERSION = "v1alpha1"
API_VERSION: Literal["metadb.io/v1alpha1"] = "metadb.io/v1alpha1"
#: Prometheus metric and label names.
METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class _StatusModel(BaseModel):
    # Status is written by the operator and by kopf (status.kopf); unknown fields are kept out
    # of the model but are not an error.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class SecretRef(_Model):
    """A value held in a secret: a Kubernetes Secret's key, or on one machine the file
    ``SECRETS_DIR/NAME/KEY`` (or the key of the mapping in ``SECRETS_DIR/NAME.yaml``)."""

    name: str = Field(min_length=1, description="Name of the secret.")
    key: str = Field(default="url", min_length=1, description="Key holding the value.")


class ConnectionSpec(_Model):
    """Where the database is. The admin URL normally comes from a secret (``secretRef``);
    ``url`` is for URLs without a password (SQLite files, local trust auth)."""

    secret_ref: SecretRef | None = Field(default=None, description="Secret holding the URL.")
    url: str | None = Field(default=None, description="URL without a password.")
    database_type: Literal["sqlite", "postgresql", "mysql"] | None = Field(
        default=None, description="For DSNs that do not say which database they are."
    )


class MigrationsSpec(_Model):
    """Where the migrations are (golang-migrate's directory format, as ``metadb migrate``)."""

    source: str | None = Field(
        default=None,
        description="Directory of migrations; relative to the resource file on one machine. "
        "Unset: metadb's own schema.",
    )
    table: str | None = Field(default=None, description="golang-migrate's version table.")
    lock_timeout: float = Field(
        default=DEFAULT_LOCK_TIMEOUT, gt=0, description="Seconds to wait for the lock."
    )


class VersionSpec(_Model):
    """How the current version is read."""

    reader: Literal["golang-migrate", "alembic", "sql"] = Field(
        default="golang-migrate",
        description="golang-migrate's schema_migrations, Alembic's alembic_version, or a query.",
    )
    table: str | None = Field(
        default=None, description="The version table (default schema_migrations/alembic_version)."
    )
    query: str | None = Field(
        default=None, description="For reader sql: a query returning one integer (or NULL)."
    )


class HintsSpec(_Model):
    """The migration safety hints run before migrating; an error-level finding blocks."""

    enabled: bool = True
    large_table_rows: int | None = Field(default=None, ge=0)
    heavy_writes_per_second: float | None = Field(default=None, ge=0)
    data_check_budget_seconds: float | None = Field(default=None, ge=0)
    write_sample_seconds: float | None = Field(default=None, ge=0)
    long_transaction_seconds: float | None = Field(default=None, ge=0)


Privilege = Literal["SELECT", "INSERT", "UPDATE", "DELETE"]
_ALL_PRIVILEGES: tuple[Privilege, ...] = ("SELECT", "INSERT", "UPDATE", "DELETE")


class CredentialsSpec(_Model):
    """Per-version login roles ``<prefix>_v<N>`` (PostgreSQL and MySQL)."""

    enabled: bool = True
    username_prefix: str = Field(default="app", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    privileges: list[Privilege] = Field(
        default_factory=lambda: list(_ALL_PRIVILEGES),
        min_length=1,
        description="Table privileges of the application roles (data only, never schema).",
    )
    kill_sessions: bool = Field(
        default=False, description="End sessions still using a version being revoked."
    )


class SqlMetricSpec(_Model):
    """A query whose rows become a Prometheus gauge or counter."""

    name: str = Field(pattern=METRIC_NAME)
    help: str = ""
    query: str = Field(min_length=1)
    type: Literal["gauge", "counter"] = "gauge"
    value_column: str | None = Field(
        default=None, description="Column holding the value (default: the only or last column)."
    )
    labels: list[str] = Field(
        default_factory=list, description="Columns that become labels (besides 'database')."
    )


class DataMetricsSpec(_Model):
    """The data metrics exported on every pass."""

    table_estimated_rows: bool = True
    table_next_id: bool = True
    sql_queries: list[SqlMetricSpec] = Field(default_factory=list)


class ManagedDatabaseSpec(_Model):
    connection: ConnectionSpec
    migrations: MigrationsSpec = Field(default_factory=MigrationsSpec)
    version: VersionSpec = Field(default_factory=VersionSpec)
    desired_version: int | None = Field(
        default=None, ge=0, description="The schema version to reach; unset: the newest."
    )
    allow_downgrade: bool = Field(
        default=False, description="Run down migrations when desiredVersion is below current."
    )
    read_only: bool = Field(default=False, description="Observe and report; change nothing.")
    hints: HintsSpec = Field(default_factory=HintsSpec)
    credentials: CredentialsSpec = Field(default_factory=CredentialsSpec)
    data_metrics: DataMetricsSpec = Field(default_factory=DataMetricsSpec)

    def fingerprint(self) -> str:
        """A short hash of the spec: a permanent error waits until this changes."""
        data = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:16]


ConditionType = Literal["Ready", "Migrating", "Blocked", "Degraded"]


class Condition(_StatusModel):
    type: ConditionType
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: datetime | None = None


class ErrorRecord(_StatusModel):
    time: datetime
    reason: str
    message: str
    temporary: bool


class MigrationRecord(_StatusModel):
    version: int
    direction: Literal["up", "down"]
    started: datetime
    finished: datetime | None = None
    result: Literal["running", "succeeded", "failed"]
    message: str = ""


class PendingRevocation(_StatusModel):
    version: int
    username: str
    sessions: int
    message: str = ""


class CredentialsStatus(_StatusModel):
    applicable: bool = True
    message: str = ""
    active_versions: list[int] = Field(default_factory=list)
    secrets: dict[str, str] = Field(default_factory=dict)
    waiting: list[PendingRevocation] = Field(default_factory=list)
    above_current: list[int] = Field(default_factory=list)


class HintFinding(_StatusModel):
    rule_id: str
    severity: str
    message: str
    path: str | None = None
    line: int | None = None
    table: str | None = None
    safer: str | None = None


class HintsStatus(_StatusModel):
    target: int | None = None
    errors: list[HintFinding] = Field(default_factory=list)
    warnings: list[HintFinding] = Field(default_factory=list)
    undeclared_tables: list[str] = Field(default_factory=list)


class ManagedDatabaseStatus(_StatusModel):
    current_version: int | None = None
    desired_version: int | None = None
    pending: list[int] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    errors: list[ErrorRecord] = Field(default_factory=list)
    consecutive_failures: int = 0
    last_migration: MigrationRecord | None = None
    credentials: CredentialsStatus | None = None
    hints: HintsStatus | None = None
    observed_generation: int | None = None
    spec_fingerprint: str | None = None
    last_reconciled: datetime | None = None

    def condition(self, type_: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


class ObjectMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=63)
    namespace: str | None = None
    generation: int | None = None
    uid: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class ManagedDatabase(BaseModel):
    """A database the operator keeps at a desired schema version."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    api_version: Literal["metadb.io/v1alpha1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["ManagedDatabase"] = "ManagedDatabase"
    metadata: ObjectMeta
    spec: ManagedDatabaseSpec
    status: ManagedDatabaseStatus = Field(default_factory=ManagedDatabaseStatus)

    @property
    def name(self) -> str:
        return self.metadata.name


class DeclaredHint(_Model):
    """A change the migration's author declares (dba-operator's schemaHints); metadb's own
    findings are cross-checked against these."""

    table: str
    operation: Literal[
        "addColumn", "createTable", "createIndex", "alterColumn", "dropColumn", "dropTable"
    ]
    columns: list[str] = Field(default_factory=list)
    index_type: Literal["index", "unique", "fulltext"] | None = None


class DatabaseMigrationSpec(_Model):
    version: int = Field(ge=0)
    previous: int | None = Field(default=None, ge=0, description="The version this replaces.")
    source: str | None = Field(
        default=None,
        description="Directory holding this version's files (default: the "
        "ManagedDatabase's migrations.source).",
    )
    database: str | None = Field(
        default=None, description="The ManagedDatabase this belongs to; unset: every one."
    )
    revision: str | None = Field(
        default=None, description="The Alembic revision id this version is, for reader alembic."
    )
    hints: list[DeclaredHint] = Field(default_factory=list)


class DatabaseMigration(BaseModel):
    """One version in a chain of migrations, linked to the one it replaces."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    api_version: Literal["metadb.io/v1alpha1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["DatabaseMigration"] = "DatabaseMigration"
    metadata: ObjectMeta
    spec: DatabaseMigrationSpec


def dump_status(status: ManagedDatabaseStatus) -> dict[str, Any]:
    """The status as Kubernetes and the YAML files hold it (camelCase, no nulls)."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- CRDs ---------------------------------------------------------------------------------


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pydantic JSON schema turned into a Kubernetes structural schema: ``$ref`` inlined,
    ``X | None`` as ``nullable``, ``const`` as a one-value enum, no titles, and every node typed.
    """
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    options = schema.get("anyOf")
    if options is not None:
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) != 1:
            raise ValueError(f"no structural form for anyOf {options}")
        base = {k: v for k, v in schema.items() if k != "anyOf"}
        merged = structural({**rest[0], **base}, defs)
        if len(rest) < len(options):
            merged["nullable"] = True
        return merged
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("title", "$defs"):
            continue
        if key == "default" and value is None:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            # JSON Schema's numeric form; OpenAPI 3.0 (Kubernetes) pairs a bound with a flag.
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "properties":
            out["properties"] = {k: structural(v, defs) for k, v in value.items()}
        elif key == "items":
            out["items"] = structural(value, defs)
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif value is not False:
                out["additionalProperties"] = structural(value, defs)
        else:
            out[key] = value
    if "type" not in out:
        if "enum" in out:
            out["type"] = "string" if all(isinstance(v, str) for v in out["enum"]) else "integer"
        elif "properties" in out:
            out["type"] = "object"
    if out.get("format") == "date-time" or out.get("format") == "duration":
        out["format"] = "date-time"
    return out


def _crd(
    *,
    kind: str,
    plural: str,
    short: list[str],
    spec: type[BaseModel],
    status: type[BaseModel] | None,
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": structural(spec.model_json_schema(by_alias=True)),
    }
    version: dict[str, Any] = {"name": VERSION, "served": True, "storage": True}
    if status is not None:
        status_schema = structural(status.model_json_schema(by_alias=True))
        # kopf keeps its handler progress in status.kopf: unknown status fields must survive.
        status_schema["x-kubernetes-preserve-unknown-fields"] = True
        properties["status"] = status_schema
        version["subresources"] = {"status": {}}
    version["schema"] = {
        "openAPIV3Schema": {"type": "object", "required": ["spec"], "properties": properties}
    }
    version["additionalPrinterColumns"] = columns
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short,
            },
            "versions": [version],
        },
    }


def crds() -> list[dict[str, Any]]:
    """The CustomResourceDefinitions of both resources, generated from the models."""
    return [
        _crd(
            kind="ManagedDatabase",
            plural="manageddatabases",
            short=["mdb"],
            spec=ManagedDatabaseSpec,
            status=ManagedDatabaseStatus,
            columns=[
                {"name": "Current", "type": "integer", "jsonPath": ".status.currentVersion"},
                {"name": "Desired", "type": "integer", "jsonPath": ".status.desiredVersion"},
                {
                    "name": "Ready",
                    "type": "string",
                    "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                },
                {
                    "name": "Reason",
                    "type": "string",
                    "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
                },
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            ],
        ),
        _crd(
            kind="DatabaseMigration",
            plural="databasemigrations",
            short=["dbm"],
            spec=DatabaseMigrationSpec,
            status=None,
            columns=[
                {"name": "Version", "type": "integer", "jsonPath": ".spec.version"},
                {"name": "Previous", "type": "integer", "jsonPath": ".spec.previous"},
                {"name": "Database", "type": "string", "jsonPath": ".spec.database"},
            ],
        ),
    ]


def crd_yaml(crd: dict[str, Any]) -> str:
    """One CRD as the YAML checked in under ``deploy/``."""
    header = "# Generated by 'metadb operator crds' from metadb.operator.resources; do not edit.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, width=100)


def crds_yaml() -> str:
    """Both CRDs as one multi-document YAML stream (``metadb operator crds``)."""
    return "---\n".join(crd_yaml(c) for c in crds())


__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "Condition",
    "ConnectionSpec",
    "CredentialsSpec",
    "CredentialsStatus",
    "DataMetricsSpec",
    "DatabaseMigration",
    "DatabaseMigrationSpec",
    "DeclaredHint",
    "ErrorRecord",
    "HintsSpec",
    "HintsStatus",
    "ManagedDatabase",
    "ManagedDatabaseSpec",
    "ManagedDatabaseStatus",
    "MigrationRecord",
    "MigrationsSpec",
    "SecretRef",
    "SqlMetricSpec",
    "VersionSpec",
    "crd_yaml",
    "crds",
    "crds_yaml",
    "dump_status",
    "structural",
]
