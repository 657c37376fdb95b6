"""Migration safety hints: check pending migrations against the live database before they run.

Each pending statement is parsed (sqlglot, in the database's dialect) into schema operations;
the rules in :mod:`metadb.hints.rules` look at each operation with cheap live facts about its
table (estimated size, sampled write rate, long transactions, bounded data checks) and report
what will fail (errors) or lock and be slow (warnings), with the evidence and a safer way.

Example::

    from metadb.hints import HintSettings, check_pending
    from metadb.migrate import MigrateConfig

    report = check_pending(MigrateConfig(database="sqlite:///app.db", source="migrations"))
    if report.errors:
        raise SystemExit(1)

:func:`migrate_up` is ``metadb migrate up``: the check, then :func:`metadb.migrate.up`, which
it refuses on error findings; :func:`migrate_plan` is ``metadb migrate plan`` with each
statement's findings. This package imports :mod:`metadb.migrate`; that one never imports this.
"""

from __future__ import annotations

from metadb.config import HintSettings
from metadb.hints.commands import (
    check_pending,
    migrate_plan,
    migrate_up,
    preflight,
    refuse_on_errors,
    rule_ids,
)
from metadb.hints.report import TIMED_OUT, Finding, HintReport
from metadb.hints.rules import RULES, Rule

__all__ = [
    "RULES",
    "TIMED_OUT",
    "Finding",
    "HintReport",
    "HintSettings",
    "Rule",
    "check_pending",
    "migrate_plan",
    "migrate_up",
    "preflight",
    "refuse_on_errors",
    "rule_ids",
]
