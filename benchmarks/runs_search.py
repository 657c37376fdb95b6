"""Run search and listing at scale: metadb against the GROUP-BY-every-column shape and MLflow.

    .venv/bin/python benchmarks/runs_search.py [--runs 100000] [--databases sqlite,postgresql,mysql]
        [--postgres-url URL] [--mysql-url URL] [--mlflow-python PATH | --no-mlflow]

N runs, each with a 20 KB pipeline spec, 5 annotations (the two system ones, team, env,
dataset) and 3 metrics (accuracy, loss, f1), are bulk-loaded (executemany, batches of 1,000)
into each database. Then two searches are timed at page 1 and page 50 (20 runs a page):

* list:     every run, newest first (``created_at desc``);
* filtered: ``team = team-3 AND metric loss < 0.5`` (about 5% of the runs), by
            ``metric:accuracy desc``.

Each is timed (median of 5, warm) as metadb's ``RunStore.search_runs`` and as (a) the query shape
KFP's ListRuns had: runs LEFT JOINed to their annotations and, one layer out, to their metrics,
GROUP BY every run column (the 20 KB spec included) with the children aggregated into strings,
keyset-paginated on the same sort; the same filter, the same page ids (checked). (b) MLflow's
``SqlAlchemyStore.search_runs`` on SQLite with equivalent runs (the spec as three params, the
annotations as tags), in its own virtual environment (``--mlflow-python``; by default one is made
under ~/.cache with ``pip install mlflow``; if that fails the output says so). The ratio columns
are the other's time over metadb's: above 1 means metadb is faster.

PostgreSQL and MySQL are used when their admin URLs are given (``--postgres-url``/``--mysql-url``,
else METADB_TEST_POSTGRES_URL/METADB_TEST_MYSQL_URL) and reachable; a database
``metadb_bench_runs`` is created there and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PAGE = 20
DEEP_PAGE = 50
BATCH = 1000
REPEATS = 5
SPEC_BYTES = 20 * 1024
TEAMS = 20
BASE_MS = 1_700_000_000_000
STATES = ("SUCCEEDED", "FAILED", "RUNNING", "CANCELED")
MLFLOW_STATUS = {"SUCCEEDED": "FINISHED", "FAILED": "FAILED", "RUNNING": "RUNNING",
                 "CANCELED": "KILLED"}  # fmt: skip
FILTER = {"and": [{"value_equals": {"key": "team", "value": "team-3"}},
                  {"metric": {"name": "loss", "op": "<", "value": 0.5}}]}  # fmt: skip
TAGS = (("mlflow.user", "user"), ("mlflow.runName", "name"), ("team", "team"), ("env", "env"),
        ("dataset", "dataset"))  # fmt: skip
MLFLOW_FILTER = "tags.team = 'team-3' and metrics.loss < 0.5"
DEFAULT_MLFLOW_VENV = Path.home() / ".cache" / "metadb-bench" / "mlflow-venv"
ANALYZE = {
    "sqlite": "ANALYZE",
    "postgresql": "VACUUM ANALYZE",
    "mysql": "ANALYZE TABLE metadb_run, metadb_run_annotation, metadb_run_metric",
}
#: The baseline can take minutes a page; it is stopped after this many seconds.
BASELINE_LIMIT = 60
STATEMENT_TIMEOUT = {
    "postgresql": f"SET statement_timeout = '{BASELINE_LIMIT}s'",
    "mysql": f"SET SESSION max_statement_time = {BASELINE_LIMIT}",  # MariaDB's name
}
SEARCHES = {
    "list": {"filter": None, "sort": "created_at desc"},
    "filtered, metric-sorted": {"filter": FILTER, "sort": "metric:accuracy desc"},
}


# -- the data (both sides; no metadb import here) --------------------------------------------


def generated_runs(n: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of runs 1..n: the same values on every side, from a fixed seed."""
    rng = random.Random(42)
    pool = [os.urandom(SPEC_BYTES // 2).hex() for _ in range(64)]
    for start in range(1, n + 1, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, n + 1)):
            created = BASE_MS + (i // 3) * 1000  # three runs per second: ties on created_at
            state = STATES[i % len(STATES)]
            batch.append({
                "id": i,
                "name": f"run-{i:07d}",
                "pipeline": f"pipeline-{i % 50}",
                "user": f"user-{i % 37}@example.com",
                "state": state,
                "created": created,
                "finished": created + 60_000 if state != "RUNNING" else None,
                "spec": f'{{"name": "pipeline-{i % 50}", "run": {i}, "blob": "'
                        + pool[i % 64][: SPEC_BYTES - 64] + '"}',
                "team": f"team-{rng.randrange(TEAMS)}",
                "env": rng.choice(("prod", "dev", "staging")),
                "dataset": f"ds-{rng.randrange(1000)}",
                "accuracy": round(rng.random(), 4),  # 4 digits: ties on the sort metric
                "loss": rng.random(),
                "f1": rng.random(),
            })  # fmt: skip
        yield batch


def timed(action: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Median seconds of ``repeats`` calls (one call if the first takes over 3 s)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
        if times[0] > 3:
            break
    return statistics.median(times)


# -- metadb ----------------------------------------------------------------------------------


def load_metadb(url: str, n: int) -> float:
    from metadb.db import Database
    from metadb.runs import connect
    from metadb.runs import tables as t
    from metadb.runs.system import CREATED_BY, NAME
    from metadb.store.session import insert_rows

    connect(url).close()  # migrate
    db = Database.from_url(url)
    run_cols = ("id", "name", "pipeline_name", "created_by", "state", "created_at_ms",
                "updated_at_ms", "finished_at_ms", "pipeline_spec", "extra_data")  # fmt: skip
    ann_cols = ("run_id", "annotation_key", "annotation_value")
    met_cols = ("run_id", "name", "value")
    statements = (t.run.insert(), t.annotation.insert(), t.metric.insert())
    start = time.perf_counter()
    for batch in generated_runs(n):
        runs, annotations, metrics = [], [], []
        for r in batch:
            extra = json.dumps({"pipeline_name": r["pipeline"], "namespace": "kubeflow"})
            runs.append((r["id"], r["name"], r["pipeline"], r["user"], r["state"], r["created"],
                         r["created"], r["finished"], r["spec"], extra))  # fmt: skip
            annotations += [(r["id"], CREATED_BY, r["user"]), (r["id"], NAME, r["pipeline"]),
                            (r["id"], "team", r["team"]), (r["id"], "env", r["env"]),
                            (r["id"], "dataset", r["dataset"])]  # fmt: skip
            metrics += [(r["id"], m, r[m]) for m in ("accuracy", "loss", "f1")]
        with db.connect() as conn, conn.begin():
            for statement, columns, rows in zip(
                statements,
                (run_cols, ann_cols, met_cols),
                (runs, annotations, metrics),
                strict=True,
            ):
                insert_rows(conn, statement, columns, rows)
    with db.connect(autocommit=True) as conn:  # what autovacuum and ANALYZE would do in time
        conn.exec_driver_sql(ANALYZE[db.url.dialect])
    db.dispose()
    return time.perf_counter() - start


def group_by_shape(search: dict[str, Any], after: Any | None) -> Any:
    """KFP's old ListRuns shape: two LEFT JOIN layers, each grouping by every run column."""
    from sqlalchemy import String, and_, case, cast, func, or_, select

    from metadb.runs import tables as t
    from metadb.runs.filters import parse_filter
    from metadb.runs.query import where

    run, ann, met = t.run, t.annotation, t.metric
    node = parse_filter(search["filter"])
    inner = (
        select(*run.c, func.aggregate_strings(
            ann.c.annotation_key + "=" + ann.c.annotation_value, ";").label("annotations"))
        .select_from(run.outerjoin(ann, ann.c.run_id == run.c.id))
        .group_by(*run.c)
    )  # fmt: skip
    if node is not None:
        inner = inner.where(where(node))
    metric_sort = search["sort"].startswith("metric:")
    if after is not None and not metric_sort:
        value, last = after
        c = run.c.created_at_ms
        inner = inner.where(or_(c < value, and_(c == value, run.c.id < last)))
    sub = inner.subquery()
    sort_value = func.max(case((met.c.name == "accuracy", met.c.value))).label("sort_value")
    outer = (
        select(*sub.c, func.aggregate_strings(
            met.c.name + "=" + cast(met.c.value, String(32)), ";"
        ).label("metrics"), sort_value)
        .select_from(sub.outerjoin(met, met.c.run_id == sub.c.id))
        .group_by(*sub.c)
    )  # fmt: skip
    if metric_sort:
        if after is not None:
            value, last = after
            outer = outer.having(
                or_(sort_value < value, and_(sort_value == value, sub.c.id < last))
            )
        outer = outer.order_by(sort_value.desc(), sub.c.id.desc())
    else:
        outer = outer.order_by(sub.c.created_at_ms.desc(), sub.c.id.desc())
    return outer.limit(PAGE)


def time_baseline(db: Any, query: Any, expected_ids: list[int]) -> float:
    """Seconds the baseline takes for one page (checked to be metadb's page); inf when it
    was stopped after BASELINE_LIMIT seconds."""
    from sqlalchemy.exc import DBAPIError

    with db.connect() as conn:
        if db.url.dialect in STATEMENT_TIMEOUT:
            conn.exec_driver_sql(STATEMENT_TIMEOUT[db.url.dialect])
        start = time.perf_counter()
        try:
            got = [int(row.id) for row in conn.execute(query)]
        except DBAPIError:
            return float("inf")
        first = time.perf_counter() - start
        assert got == expected_ids, (got, expected_ids)
        return first if first > 3 else timed(lambda: conn.execute(query).all())


def measure_metadb(url: str) -> dict[str, float]:
    from metadb.runs import connect

    times: dict[str, float] = {}
    with connect(url, migrate=False) as store:
        for label, search in SEARCHES.items():

            def page(token: str | None, s: dict[str, Any] = search) -> Any:
                return store.search_runs(s["filter"], sort=s["sort"], limit=PAGE,
                                         page_token=token)  # fmt: skip

            first = previous = page(None)
            for _ in range(DEEP_PAGE - 2):
                if previous.next_page_token is None:
                    raise SystemExit(f"{label}: fewer than {DEEP_PAGE} pages; use more --runs")
                previous = page(previous.next_page_token)
            token = previous.next_page_token
            last = previous.items[-1]  # the baseline's keyset starts after the same run
            sort_value = last.metrics["accuracy"] if "metric" in search["sort"] else None
            before = (sort_value if sort_value is not None else last.created_at_ms, last.id)
            deep = page(token)
            times[f"metadb {label} p1"] = timed(lambda: page(None))
            times[f"metadb {label} p{DEEP_PAGE}"] = timed(lambda t=token: page(t))
            for name, after, expected in (("p1", None, first), (f"p{DEEP_PAGE}", before, deep)):
                query = group_by_shape(search, after)
                ids = [r.id for r in expected.items]
                times[f"group-by {label} {name}"] = time_baseline(store.database, query, ids)
    return times


# -- MLflow (runs in its own environment: ``--side mlflow``) --------------------------------


def mlflow_side(n: int, workdir: Path) -> dict[str, float]:
    import sqlite3

    from mlflow.entities import ViewType
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path = workdir / "mlflow.sqlite"
    store = SqlAlchemyStore(f"sqlite:///{path}", str(workdir / "artifacts"))
    experiment = store.create_experiment("bench")
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    for batch in generated_runs(n):
        runs, tags, params, metrics = [], [], [], []
        for r in batch:
            uuid = f"{r['id']:032x}"
            runs.append((uuid, r["name"], "LOCAL", "bench", "main", r["user"],
                         MLFLOW_STATUS[r["state"]], r["created"], r["finished"], "v1", "active",
                         f"/artifacts/{uuid}", int(experiment)))  # fmt: skip
            tags += [(k, r[v], uuid) for k, v in TAGS]
            spec = r["spec"]
            params += [(f"spec.{i}", spec[i * 8000 : (i + 1) * 8000], uuid) for i in range(3)]
            metrics += [(m, r[m], r["created"], 0, 0, uuid) for m in ("accuracy", "loss", "f1")]
        conn.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, "
                         "entry_point_name, user_id, status, start_time, end_time, "
                         "source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES "
                         "(?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)  # fmt: skip
        conn.executemany('INSERT INTO tags ("key", value, run_uuid) VALUES (?,?,?)', tags)
        conn.executemany('INSERT INTO params ("key", value, run_uuid) VALUES (?,?,?)', params)
        for table in ("metrics", "latest_metrics"):
            conn.executemany(f'INSERT INTO {table} ("key", value, timestamp, step, is_nan, '
                             "run_uuid) VALUES (?,?,?,?,?,?)", metrics)  # fmt: skip
        conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    times = {"load": time.perf_counter() - start}
    searches = {"list": (None, ["attributes.start_time DESC"]),
                "filtered, metric-sorted": (MLFLOW_FILTER, ["metrics.accuracy DESC"])}  # fmt: skip
    for label, (filter_string, order_by) in searches.items():

        def page(token: str | None, f: Any = filter_string, o: Any = order_by) -> Any:
            return store.search_runs([experiment], f, ViewType.ACTIVE_ONLY, max_results=PAGE,
                                     order_by=o, page_token=token)  # fmt: skip

        token = None
        for _ in range(DEEP_PAGE - 1):
            token = page(token).token
        times[f"mlflow {label} p1"] = timed(lambda: page(None))
        times[f"mlflow {label} p{DEEP_PAGE}"] = timed(lambda t=token: page(t))
    return times


def run_mlflow(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, float] | None, str]:
    python = args.mlflow_python
    if python is None:
        python = DEFAULT_MLFLOW_VENV / "bin" / "python"
        if not python.exists():
            try:
                subprocess.run([sys.executable, "-m", "venv", str(DEFAULT_MLFLOW_VENV)],
                               check=True, capture_output=True, timeout=120)  # fmt: skip
                subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow"],
                               check=True, capture_output=True, timeout=900)  # fmt: skip
            except (subprocess.SubprocessError, OSError) as exc:
                return None, f"MLflow not measured: 'pip install mlflow' failed ({exc})"
    done = subprocess.run(
        [str(python), __file__, "--side", "mlflow", "--runs", str(args.runs),
         "--workdir", str(workdir)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return None, f"MLflow not measured: its run failed:\n{done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), "MLflow measured on SQLite"


# -- driver ----------------------------------------------------------------------------------


def bench_databases(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    """(backend, url) of each database to measure, created fresh and dropped afterwards."""
    from metadb.db import Database
    from metadb.errors import DatabaseError

    for backend in args.databases.split(","):
        if backend == "sqlite":
            yield backend, f"sqlite:///{workdir / 'metadb.sqlite'}"
            continue
        admin_url = getattr(args, f"{backend.replace('postgresql', 'postgres')}_url")
        if not admin_url:
            print(f"{backend}: skipped (no admin URL)")
            continue
        admin = Database.from_url(admin_url)
        try:
            for step in (admin.dialect.drop_database, admin.dialect.create_database):
                with admin.connect(autocommit=True) as conn:
                    step(conn, "metadb_bench_runs")
        except DatabaseError as exc:
            print(f"{backend}: skipped ({exc})")
            continue
        try:
            url = admin.url.with_database("metadb_bench_runs").url
            yield backend, url.render_as_string(hide_password=False)
        finally:
            if not args.keep:
                with admin.connect(autocommit=True) as conn:
                    admin.dialect.drop_database(conn, "metadb_bench_runs")
            admin.dispose()


def report(backend: str, times: dict[str, float], mlflow: dict[str, float] | None) -> None:
    print(f"\n{backend}: page latency in ms (ratio = other / metadb)")
    header = f"{'search':<28}{'page':>6}{'metadb':>10}{'group-by':>11}{'ratio':>8}"
    if mlflow:
        header += f"{'mlflow':>10}{'ratio':>8}"
    print(header)
    for label in SEARCHES:
        for page in ("p1", f"p{DEEP_PAGE}"):
            ours = times[f"metadb {label} {page}"]
            theirs = times[f"group-by {label} {page}"]
            line = f"{label:<28}{page:>6}{ours * 1e3:>10.2f}"
            if theirs == float("inf"):  # stopped: the ratio is a lower bound
                line += f"{f'>{BASELINE_LIMIT} s':>11}{f'>{BASELINE_LIMIT / ours:.0f}':>7}x"
            else:
                line += f"{theirs * 1e3:>11.1f}{theirs / ours:>7.0f}x"
            if mlflow:
                other = mlflow[f"mlflow {label} {page}"]
                line += f"{other * 1e3:>10.1f}{other / ours:>7.0f}x"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgresql,mysql")
    parser.add_argument("--postgres-url", default=os.environ.get("METADB_TEST_POSTGRES_URL"))
    parser.add_argument("--mysql-url", default=os.environ.get("METADB_TEST_MYSQL_URL"))
    parser.add_argument("--mlflow-python", type=Path, default=None)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the server databases.")
    parser.add_argument("--side", choices=["metadb", "mlflow"], default="metadb")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.side == "mlflow":
        print(json.dumps(mlflow_side(args.runs, args.workdir)))
        return
    print(f"{args.runs} runs, {SPEC_BYTES // 1024} KB spec, 5 annotations, 3 metrics each; "
          f"{PAGE} runs a page; median of {REPEATS}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="metadb-runs-bench-") as tmp:
        workdir = Path(tmp)
        mlflow, note = (None, "MLflow not measured (--no-mlflow)")
        if not args.no_mlflow:
            mlflow, note = run_mlflow(args, workdir)
            if mlflow:
                print(f"mlflow (sqlite): loaded in {mlflow['load']:.1f} s")
        for backend, url in bench_databases(args, workdir):
            load = load_metadb(url, args.runs)
            print(f"{backend}: loaded in {load:.1f} s")
            times = measure_metadb(url)
            report(backend, times, mlflow if backend == "sqlite" else None)
        print(f"\n{note}")


if __name__ == "__main__":
    main()
