"""The documented exit codes of every ``metadb`` command.

Each error class carries its code as ``exit_code`` (:mod:`metadb.errors`); this module names
the values and reads them.

====  ==============================================================================
code  meaning
====  ==============================================================================
0     success
1     failed: a statement failed, the server is unreachable, the source is malformed
2     usage: bad arguments (a malformed filter, sort, page token or value given to a
      command, an unknown backfill), an unsupported database URL
3     needs attention: dirty database, changed or missing files, unsupported MLMD schema,
      a down step below the adopted ml-metadata schema without --force,
      a schema not current where metadb may not migrate it (serve --no-migrate, the
      ``runs`` commands),
      hint errors in pending migrations (hints check, migrate up)
4     lock timeout: another run held the migration lock too long, or a migration statement
      gave up waiting for a table lock on every attempt
====  ==============================================================================
"""

from __future__ import annotations

from metadb.errors import (
    EXIT_FAILED,
    EXIT_LOCK_TIMEOUT,
    EXIT_NEEDS_ATTENTION,
    EXIT_USAGE,
    MetadbError,
)

OK = 0
FAILED, USAGE, NEEDS_ATTENTION, LOCK_TIMEOUT = (
    EXIT_FAILED,
    EXIT_USAGE,
    EXIT_NEEDS_ATTENTION,
    EXIT_LOCK_TIMEOUT,
)


def exit_code_for(exc: BaseException) -> int:
    """The exit code ``exc`` carries (``exit_code`` of metadb's errors); 1 for anything else.

    Example::

        exit_code_for(DirtyDatabaseError(...))  # 3: NEEDS_ATTENTION
    """
    return exc.exit_code if isinstance(exc, MetadbError) else FAILED
