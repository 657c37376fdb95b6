"""``metadb operator ...``: run the operator from YAML files or on Kubernetes; print the CRDs."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Annotated

import typer

from metadb.cli.exitcodes import FAILED
from metadb.cli.options import Json
from metadb.cli.output import Output
from metadb.errors import ConfigError
from metadb.operator.local import LocalOperator, Outcome
from metadb.operator.metrics import OperatorMetrics
from metadb.operator.resources import crd_yaml, crds_yaml
from metadb.operator.resources import crds as generated_crds

app = typer.Typer(
    help="Keep databases at a desired schema version (YAML files or Kubernetes).",
    no_args_is_help=True,
)
DEFAULT_METRICS_PORT = 9090


def _say(out: Output, outcome: Outcome) -> None:
    status = outcome.result.status
    ready = status.condition("Ready")
    state = f"{ready.reason}" if ready is not None else "unknown"
    line = f"{outcome.name}: version {status.current_version} (desired {status.desired_version})"
    line += f", {state}"
    for step in outcome.result.steps:
        out.say(f"  {outcome.name}: {step.direction} {step.version}")
    out.say(line)
    if outcome.result.error is not None:
        out.say(f"  error: {outcome.result.error}")
    elif outcome.result.waiting_for_spec is not None:
        out.say(f"  waiting for the spec to change after: {outcome.result.waiting_for_spec}")
    elif ready is not None and ready.status != "True" and ready.message:
        out.say(f"  {ready.message}")


@app.command()
def run(
    ctx: typer.Context,
    resources: Annotated[
        Path | None,
        typer.Option("--resources", "-r", help="Directory of ManagedDatabase YAML files."),
    ] = None,
    kubernetes: Annotated[
        bool, typer.Option("--kubernetes", help="Run as a Kubernetes operator (kopf).")
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between passes.", min=0.1)
    ] = 30.0,
    secrets: Annotated[
        Path | None,
        typer.Option("--secrets", help="Secrets directory [default: RESOURCES/secrets]."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            help=f"Serve /metrics on this port [default {DEFAULT_METRICS_PORT}; none with --once].",
        ),
    ] = None,
    metrics_addr: Annotated[
        str, typer.Option("--metrics-addr", help="Address to serve /metrics on.")
    ] = "0.0.0.0",
    pushgateway: Annotated[
        str | None,
        typer.Option("--pushgateway", help="Push metrics here after each migration step."),
    ] = None,
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="With --kubernetes: watch only these."),
    ] = None,
    json: Json = False,
) -> None:
    """Reconcile ManagedDatabases: from --resources DIR (status written beside each file), or
    on Kubernetes. Exits 1 after --once when a database ended in an error or still waits
    for its spec to change after a permanent one."""
    out = Output(json=json, debug=bool(ctx.obj and ctx.obj.get("debug")))
    if (resources is None) == (not kubernetes):
        out.run(lambda: _fail("give exactly one of --resources DIR and --kubernetes"))
    if not json:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    metrics = OperatorMetrics()
    port = metrics_port if metrics_port is not None else (None if once else DEFAULT_METRICS_PORT)
    server = metrics.serve(port=port, addr=metrics_addr) if port is not None else None
    try:
        if kubernetes:
            from metadb.operator import kubernetes as k8s  # imports kopf

            k8s.run(metrics=metrics, namespaces=list(namespace or []), pushgateway=pushgateway)
            return
        assert resources is not None
        operator = LocalOperator(
            resources=resources, metrics=metrics, secrets=secrets, pushgateway=pushgateway
        )
        if not once:
            out.say(f"reconciling {resources} every {interval:g}s; Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                operator.run_forever(interval=interval)
            return
        outcomes = out.run(operator.run_once)
        if json:
            out.emit_json({"databases": [o.as_dict() for o in outcomes]})
        else:
            for outcome in outcomes:
                _say(out, outcome)
        if any(o.result.error is not None or o.result.waiting_for_spec for o in outcomes):
            raise typer.Exit(FAILED)
    finally:
        if server is not None:
            server.shutdown()


def _fail(message: str) -> None:
    raise ConfigError(message)


@app.command()
def crds(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write all CRDs to this file.")
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="Write one file per CRD here (deploy/base/crds)."),
    ] = None,
) -> None:
    """Print the CustomResourceDefinitions of ManagedDatabase and DatabaseMigration."""
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        for crd in generated_crds():
            (output_dir / f"{crd['metadata']['name']}.yaml").write_text(crd_yaml(crd))
        return
    text = crds_yaml()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
