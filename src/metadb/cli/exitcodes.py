"""The documented exit codes of every ``metadb`` command, assigned in one table.

====  ==============================================================================
code  meaning
====  ==============================================================================
0     success
1     failed: a statement failed, the server is unreachable, the source is malformed
2     usage: bad arguments (a malformed filter, sort, page token or value given to a
      command, an unknown backfill), an unsupported database URL
3     needs attention: dirty database, changed or missing files, unsupported MLMD schema,
      a down step below the adopted ml-metadata schema without --force,
      a schema not current where metadb may not migrate it (serve --no-migrate),
      hint errors in pending migrations (hints check, migrate up)
4     lock timeout: another run held the migration lock too long, or a migration statement
      gave up waiting for a table lock on every attempt
====  ==============================================================================
"""

from __future__ import annotations

from metadb.errors import (
    BelowAdoptedBaselineError,
    ChangedMigrationError,
    ConfigError,
    DirtyDatabaseError,
    HintsFailedError,
    InvalidArgumentError,
    LockTimeoutError,
    MissingMigrationError,
    SchemaOutOfDateError,
    TableLockTimeoutError,
    UnsupportedSchemaError,
)

OK, FAILED, USAGE, NEEDS_ATTENTION, LOCK_TIMEOUT = 0, 1, 2, 3, 4

EXIT_CODES: dict[type[BaseException], int] = {
    ConfigError: USAGE,
    # Raised for a caller's malformed input; from the CLI that input is the command line.
    InvalidArgumentError: USAGE,
    DirtyDatabaseError: NEEDS_ATTENTION,
    ChangedMigrationError: NEEDS_ATTENTION,
    MissingMigrationError: NEEDS_ATTENTION,
    UnsupportedSchemaError: NEEDS_ATTENTION,
    BelowAdoptedBaselineError: NEEDS_ATTENTION,
    SchemaOutOfDateError: NEEDS_ATTENTION,
    HintsFailedError: NEEDS_ATTENTION,
    LockTimeoutError: LOCK_TIMEOUT,
    TableLockTimeoutError: LOCK_TIMEOUT,
}


def exit_code_for(exc: BaseException) -> int:
    """The exit code of the most specific class in ``EXIT_CODES`` that ``exc`` is; else 1."""
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return FAILED
