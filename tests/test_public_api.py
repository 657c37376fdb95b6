"""The public API is what ``__all__`` says; changing it is a deliberate act, made here too."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC = {
    "metadb": {
        "AlreadyExistsError", "AuthenticationError", "ChangedMigrationError", "ConfigError",
        "Database", "DatabaseError", "DatabaseURL", "DatabaseUnreachableError",
        "DirtyDatabaseError", "FailedPreconditionError", "InvalidArgumentError",
        "IrreversibleMigrationError", "LockTimeoutError", "MetadataStore", "MetadbError",
        "MigrationError", "MigrationFailedError", "MissingMigrationError", "NotFoundError",
        "NothingToResumeError", "SourceError", "StatementError", "StoreError",
        "UnsupportedDatabaseError", "VersionNotFoundError", "__version__", "connect",
        "parse_database_url",
    },
    "metadb.api": {"ServeSettings", "create_app"},
    "metadb.client": {"Client"},
    "metadb.hints": {
        "Finding", "HintReport", "HintSettings", "RULES", "Rule", "TIMED_OUT", "check_pending",
        "migrate_plan", "migrate_up", "preflight", "refuse_on_errors", "rule_ids",
    },
    "metadb.migrate": {
        "HistoryRow", "MigrateConfig", "Migration", "MigrationFile", "MigrationRunner",
        "MigrationReport", "MigrationSource", "MigrationStatus", "Plan", "PlannedStatement",
        "PlannedStep", "Preflight", "StatementHint", "Status", "StepResult", "VersionState",
        "baseline", "create", "down", "force", "goto", "history", "load_source", "plan",
        "resume", "status", "up", "version",
    },
    "metadb.backfill": {
        "Backfill", "BackfillFailedError", "BackfillReporter", "BackfillResult",
        "BackfillRunner", "BackfillState", "BackgroundBackfills", "Batch", "BatchInfo",
        "BackfillReport", "BatchSizing", "RetryPolicy", "SYSTEM_BACKFILLS", "UnknownBackfillError",
        "Verification", "backfill_status", "key_range", "keyset_range", "list_backfills",
        "run_backfills", "start_pending_backfills_in_background", "verify_backfills",
    },
    "metadb.operator": {
        "Credential", "DatabaseMigration", "FileSecretSink", "InitReport",
        "KubernetesSecretSink", "LocalOperator", "ManagedDatabase", "OperatorMetrics",
        "ReconcileContext", "ReconcileResult", "RevokeOutcome", "SecretSink",
        "VersionCredentials", "crds", "credentials_for", "init_database", "reconcile",
    },
    "metadb.paging": {
        "DEFAULT_LIMIT", "MAX_LIMIT", "TOKEN_MAX_CHARS", "TOKEN_VERSION", "PageTokens",
        "check_limit", "check_total", "damaged_token", "walk_pages",
    },
    "metadb.runs": {
        "MAX_PAGE_SIZE", "STATES", "TERMINAL_STATES", "Run", "RunPage", "RunStore", "Task",
        "connect", "parse_filter",
    },
    "metadb.store": {
        "Artifact", "ArtifactState", "ArtifactType", "Association", "Attribution", "Context",
        "ContextType", "Event", "EventType", "Execution", "ExecutionState", "ExecutionType",
        "LineageDirection", "LineageGraph", "LineageSubgraphQueryOptions", "ListOptions",
        "MetadataStore", "Page", "ParentContext", "PropertyType", "ProtoValue", "SystemType",
        "connect",
    },
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_lists_exactly_the_public_names_and_each_exists(module_name: str):
    module = importlib.import_module(module_name)

    assert set(module.__all__) == PUBLIC[module_name]
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_every_error_class_is_exported_from_metadb_errors():
    import metadb.errors as errors

    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.MetadbError)
    }
    assert defined == set(errors.__all__)


def _public_methods(cls: type) -> dict[str, object]:
    found = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, property):
            found[name] = attr.fget
        elif inspect.isfunction(attr):
            found[name] = attr
    return found


@pytest.mark.parametrize(
    "cls_path",
    ["metadb.store.MetadataStore", "metadb.runs.RunStore", "metadb.client.Client"],
)
def test_every_public_method_of_the_stores_and_the_client_has_a_docstring(cls_path: str):
    module_name, _, name = cls_path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), name)

    methods = _public_methods(cls)
    undocumented = sorted(
        n for n, f in methods.items() if not (getattr(f, "__doc__", "") or "").strip()
    )

    assert len(methods) > 10
    assert undocumented == []
