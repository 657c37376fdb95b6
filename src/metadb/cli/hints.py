"""``metadb hints ...``: check pending migrations against the live database (for CI)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from metadb import hints as hints_lib
from metadb.cli.exitcodes import NEEDS_ATTENTION
from metadb.cli.options import TARGET, Json, MigrateOptions, migrate_options
from metadb.cli.output import Output
from metadb.hints import Finding
from metadb.migrate import StatementHint

app = typer.Typer(
    help="Migration safety hints: what pending migrations will break or block.",
    no_args_is_help=True,
)


def render_finding(finding: Finding, *, indent: str = "") -> list[str]:
    """Lines (Rich markup) for one finding, as ``hints check`` and ``migrate plan`` show it."""
    style = "bold red" if finding.severity == "error" else "yellow"
    numbers = ", ".join(
        f"{k}={v}" for k, v in finding.evidence.items() if v is not None and k != "transactions"
    )
    lines = [
        f"{indent}[{style}]{finding.severity}[/] [bold]{finding.rule_id}[/]: "
        f"{escape(finding.message)}"
    ]
    if numbers:
        lines.append(f"{indent}  evidence: {escape(numbers)}")
    for holder in finding.evidence.get("transactions", []):
        lines.append(f"{indent}  transaction: {escape(str(holder))}")
    if finding.safer:
        lines.append(f"{indent}  safer: {escape(finding.safer)}")
    return lines


def hint_comment(finding: StatementHint) -> list[str]:
    """SQL comment lines for one finding, for ``migrate plan`` (its output stays valid SQL)."""
    numbers = ", ".join(
        f"{k}={v}" for k, v in finding.evidence.items() if v is not None and k != "transactions"
    )
    lines = [f"-- HINT {finding.severity} {finding.rule_id}: {finding.message}"]
    if numbers:
        lines.append(f"--   evidence: {numbers}")
    if finding.safer:
        lines.append(f"--   safer: {finding.safer}")
    return [line.replace("\n", " ") for line in lines]


@app.command()
@migrate_options(*TARGET)
def check(
    target: Annotated[
        int | None, typer.Option("--target", help="Check only migrations up to this version.")
    ] = None,
    *,
    options: MigrateOptions,
) -> None:
    """Check the pending migrations against the live database. Exit 3 on errors."""
    out = options.output()
    config = options.config()
    report = out.run(lambda: hints_lib.check_pending(config, target=target))
    if out.json:
        out.emit_json(report.as_dict())
    else:
        for finding in report.findings:
            out.say(f"{finding.path}:{finding.line}")
            for line in render_finding(finding, indent="  "):
                out.say(line)
        for skipped in report.skipped:
            out.say(f"[dim]skipped {escape(skipped.path)}: {escape(skipped.reason)}[/]")
        out.say(
            f"{report.statements} statement(s) checked in {report.duration_ms} ms: "
            f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        )
    if report.errors:
        raise typer.Exit(NEEDS_ATTENTION)


@app.command("rules")
def rules_(json: Json = False) -> None:
    """List every rule with its id and severity."""
    out = Output(json=json)
    rows = [{"id": r.id, "severity": r.severity, "title": r.title} for r in hints_lib.RULES]
    if out.json:
        out.emit_json(rows)
        return
    for row in rows:
        out.say(f"{row['id']:<36} {row['severity']:<8} {escape(row['title'])}")
