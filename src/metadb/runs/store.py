"""``RunStore``: pipeline runs, their annotations, metrics and tasks, and run search.

Every public call is one transaction (:class:`~metadb.store.session.StoreSession`, which also
translates database errors, and runs a write again, whole, when it loses a race to another
writer: a deadlock, a lock wait that gave up). Writes to a run's annotations, metrics or tasks
first update the run's ``updated_at_ms``: that checks the run exists and takes its row lock,
so concurrent writers of one run take turns and the delete-then-insert upserts below never
collide.

Example::

    runs = metadb.runs.connect("postgresql://metadb:pw@db/metadb")
    run = runs.create_run("nightly-42", created_by="ana", annotations={"team": "vision"})
    runs.log_metrics(run.id, {"accuracy": 0.93})
    page = runs.search_runs({"value_equals": {"key": "team", "value": "vision"}},
                            sort="metric:accuracy desc", limit=50)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, select, update

from metadb.clock import now_ms
from metadb.db.database import Database
from metadb.errors import NotFoundError
from metadb.paging import DEFAULT_LIMIT, check_limit
from metadb.runs import checks as check
from metadb.runs import query as q
from metadb.runs import system
from metadb.runs import tables as t
from metadb.runs.filters import parse_filter
from metadb.runs.model import TERMINAL_STATES, Run, RunPage, Task
from metadb.runs.rows import annotations_of, load_runs, metrics_of, task_by_id, tasks_of
from metadb.store.session import StoreSession, insert_returning_ids, insert_rows

_ANNOTATION_COLUMNS = ("run_id", "annotation_key", "annotation_value")
_METRIC_COLUMNS = ("run_id", "name", "value")
_INSERT_ANNOTATIONS = t.annotation.insert()
_INSERT_METRICS = t.metric.insert()


class RunStore:
    """Pipeline runs on one database. Constructing it does no I/O; open one with
    :func:`metadb.runs.connect`, which also brings the schema up to date.
    ``statement_timeout`` is :func:`metadb.connect`'s (seconds; None: the URL's, else 30)."""

    def __init__(self, db: Database, *, statement_timeout: float | None = None) -> None:
        self._db = db
        self._session = StoreSession(db, statement_timeout=statement_timeout)

    @property
    def database(self) -> Database:
        """The :class:`~metadb.db.Database` the run store works on (its URL, dialect, engine)."""
        return self._db

    def close(self) -> None:
        """Release the connection pool."""
        self._db.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        name: str,
        *,
        pipeline_name: str | None = None,
        created_by: str | None = None,
        state: str = "PENDING",
        pipeline_spec: str | Mapping[str, Any] | None = None,
        extra_data: Any = None,
        mlmd_context_id: int | None = None,
        annotations: Mapping[str, str] | None = None,
        created_at_ms: int | None = None,
        finished_at_ms: int | None = None,
    ) -> Run:
        """Create a run with its annotations and the two system annotations, in one transaction.

        ``pipeline_name`` defaults to the system rule's (extra data's ``pipeline_name``, else the
        spec's ``name``); the ``system/pipeline_run.*`` annotations always follow that rule
        (:mod:`metadb.runs.system`), as the backfill of older runs does. ``created_at_ms``
        defaults to now and ``finished_at_ms`` to now for a terminal state (give them to import
        historical runs). A spec given as a mapping is stored
        as its JSON text.

        Raises:
            InvalidArgumentError: an empty or over-long name, an unknown state, an annotation
                key starting with ``system/``, a key or value over 255 characters, extra data
                that is not JSON.

        Example::

            run = store.create_run("train-7", created_by="ana", state="RUNNING",
                                   extra_data={"pipeline_name": "train"},
                                   annotations={"team": "vision"})
        """
        check.text("name", name, required=True)
        check.text("pipeline_name", pipeline_name)
        check.text("created_by", created_by)
        check.state(state)
        spec = check.spec_text(pipeline_spec)
        check.json_value(extra_data)
        check.optional_id("mlmd_context_id", mlmd_context_id)
        user = dict(annotations or {})
        check.annotation_map(user)
        check.millis("created_at_ms", created_at_ms)
        check.millis("finished_at_ms", finished_at_ms)
        stamp = now_ms()
        created = stamp if created_at_ms is None else created_at_ms
        if pipeline_name is None:
            derived = system.pipeline_name(extra_data, spec)
            pipeline_name = None if derived is None else system.clip(derived)
        row: dict[str, Any] = {
            "name": name,
            "pipeline_name": pipeline_name,
            "created_by": created_by,
            "state": state,
            "created_at_ms": created,
            "updated_at_ms": max(stamp, created),
            "finished_at_ms": (
                finished_at_ms
                if finished_at_ms is not None
                else (stamp if state in TERMINAL_STATES else None)
            ),
            "pipeline_spec": spec,
            "mlmd_context_id": mlmd_context_id,
        }
        if extra_data is not None:  # left out, not JSON 'null': absent extra data is SQL NULL
            row["extra_data"] = extra_data
        all_annotations = {
            **user,
            **system.system_annotations(
                created_by=created_by, extra_data=extra_data, pipeline_spec=spec
            ),
        }

        def create(conn: Connection) -> Run:
            [run_id] = insert_returning_ids(conn, t.run, [row])
            rows = [(run_id, k, v) for k, v in all_annotations.items()]
            insert_rows(conn, _INSERT_ANNOTATIONS, _ANNOTATION_COLUMNS, rows)
            return load_runs(conn, [run_id], full=True)[0]

        return self._session.run(create, doing="create_run")

    def get_run(self, run_id: int, *, full: bool = False) -> Run:
        """The run with its annotations, metrics and tasks; its spec only with ``full``.

        Raises:
            NotFoundError: no run has this id.
        """
        with self._session.read() as conn:
            found = load_runs(conn, [run_id], full=full)
        if not found:
            raise NotFoundError(f"no run with id {run_id}")
        return found[0]

    def update_run_state(
        self, run_id: int, state: str, *, finished_at_ms: int | None = None
    ) -> Run:
        """Set the run's state. Its finished time becomes ``finished_at_ms`` if given, else now
        for a terminal state (SUCCEEDED, FAILED, CANCELED, SKIPPED) and null for any other
        (a retried run is not finished).

        Raises:
            InvalidArgumentError: an unknown state.
            NotFoundError: no run has this id.
        """
        check.state(state)
        stamp = now_ms()
        if finished_at_ms is None:
            finished: int | None = stamp if state in TERMINAL_STATES else None
        else:
            finished = check.millis("finished_at_ms", finished_at_ms)
        statement = (
            update(t.run)
            .where(t.run.c.id == run_id)
            .values(state=state, finished_at_ms=finished, updated_at_ms=stamp)
        )

        def set_state(conn: Connection) -> Run:
            if conn.execute(statement).rowcount == 0:
                raise NotFoundError(f"no run with id {run_id}")
            return load_runs(conn, [run_id], full=False)[0]

        return self._session.run(set_state, doing="update_run_state")

    def delete_run(self, run_id: int) -> None:
        """Delete the run with its annotations, metrics and tasks.

        Raises:
            NotFoundError: no run has this id.
        """

        def delete_all(conn: Connection) -> None:
            if conn.execute(delete(t.run).where(t.run.c.id == run_id)).rowcount == 0:
                raise NotFoundError(f"no run with id {run_id}")
            for table in (t.annotation, t.metric, t.task):
                conn.execute(delete(table).where(table.c.run_id == run_id))

        self._session.run(delete_all, doing="delete_run")

    # -- annotations and metrics -------------------------------------------------------------

    def set_annotations(self, run_id: int, annotations: Mapping[str, str]) -> dict[str, str]:
        """Set (insert or replace) annotations of the run; return all of its annotations. An
        empty mapping changes nothing (the run's update time included).

        Raises:
            InvalidArgumentError: a key starting with ``system/`` (those are metadb's), an
                empty key, a key or value over 255 characters (characters, not bytes).
            NotFoundError: no run has this id.

        Example::

            store.set_annotations(run.id, {"team": "vision", "owner": "日本"})
        """
        values = dict(annotations)
        check.annotation_map(values)

        def upsert(conn: Connection) -> dict[str, str]:
            if not values:
                self._require(conn, run_id)
                return annotations_of(conn, [run_id]).get(run_id, {})
            self._touch(conn, run_id)
            a = t.annotation.c
            keys = a.annotation_key.in_(list(values))
            conn.execute(delete(t.annotation).where(a.run_id == run_id, keys))
            rows = [(run_id, k, v) for k, v in values.items()]
            insert_rows(conn, _INSERT_ANNOTATIONS, _ANNOTATION_COLUMNS, rows)
            return annotations_of(conn, [run_id]).get(run_id, {})

        return self._session.run(upsert, doing="set_annotations")

    def delete_annotation(self, run_id: int, key: str) -> None:
        """Delete one annotation of the run.

        Raises:
            InvalidArgumentError: a ``system/`` key (every run keeps those).
            NotFoundError: no run has this id, or the run has no annotation ``key``.
        """
        check.user_key(key)
        a = t.annotation.c
        statement = delete(t.annotation).where(a.run_id == run_id, a.annotation_key == key)

        def delete_one(conn: Connection) -> None:
            self._touch(conn, run_id)
            if conn.execute(statement).rowcount == 0:
                raise NotFoundError(f"run {run_id} has no annotation {key!r}")

        self._session.run(delete_one, doing="delete_annotation")

    def log_metrics(self, run_id: int, metrics: Mapping[str, float]) -> dict[str, float]:
        """Set (insert or replace) metrics of the run; return all of its metrics. An empty
        mapping changes nothing.

        Raises:
            InvalidArgumentError: an empty or over-long name, a value that is not a finite
                number.
            NotFoundError: no run has this id.

        Example::

            store.log_metrics(run.id, {"accuracy": 0.93, "loss": 0.21})
        """
        values = dict(metrics)
        check.metrics(values)

        def upsert(conn: Connection) -> dict[str, float]:
            if not values:
                self._require(conn, run_id)
                return metrics_of(conn, [run_id]).get(run_id, {})
            self._touch(conn, run_id)
            m = t.metric.c
            conn.execute(delete(t.metric).where(m.run_id == run_id, m.name.in_(list(values))))
            rows = [(run_id, k, float(v)) for k, v in values.items()]
            insert_rows(conn, _INSERT_METRICS, _METRIC_COLUMNS, rows)
            return metrics_of(conn, [run_id]).get(run_id, {})

        return self._session.run(upsert, doing="log_metrics")

    # -- tasks -------------------------------------------------------------------------------

    def add_task(
        self,
        run_id: int,
        name: str,
        *,
        state: str = "PENDING",
        started_at_ms: int | None = None,
        finished_at_ms: int | None = None,
        mlmd_execution_id: int | None = None,
    ) -> Task:
        """Add a task to the run.

        Raises:
            InvalidArgumentError: an empty or over-long name, an unknown state.
            NotFoundError: no run has this id.
        """
        check.text("task name", name, required=True)
        check.state(state)
        check.optional_id("mlmd_execution_id", mlmd_execution_id)
        row = {
            "run_id": run_id,
            "name": name,
            "state": state,
            "started_at_ms": check.millis("started_at_ms", started_at_ms),
            "finished_at_ms": check.millis("finished_at_ms", finished_at_ms),
            "mlmd_execution_id": mlmd_execution_id,
        }

        def add(conn: Connection) -> Task:
            self._touch(conn, run_id)
            [task_id] = insert_returning_ids(conn, t.task, [row])
            return task_by_id(conn, task_id)

        return self._session.run(add, doing="add_task")

    def update_task(
        self,
        task_id: int,
        *,
        state: str | None = None,
        started_at_ms: int | None = None,
        finished_at_ms: int | None = None,
        mlmd_execution_id: int | None = None,
    ) -> Task:
        """Change the given fields of a task (None leaves a field as it is). A task moved to a
        terminal state without ``finished_at_ms`` and without a finished time gets now.

        Raises:
            InvalidArgumentError: an unknown state.
            NotFoundError: no task has this id.
        """
        if state is not None:
            check.state(state)
        check.optional_id("mlmd_execution_id", mlmd_execution_id)
        changes: dict[str, Any] = {
            key: value
            for key, value in (
                ("state", state),
                ("started_at_ms", check.millis("started_at_ms", started_at_ms)),
                ("finished_at_ms", check.millis("finished_at_ms", finished_at_ms)),
                ("mlmd_execution_id", mlmd_execution_id),
            )
            if value is not None
        }

        def change(conn: Connection) -> Task:
            task = task_by_id(conn, task_id)
            self._touch(conn, task.run_id)
            values = dict(changes)  # a retried try starts from the caller's changes
            if state in TERMINAL_STATES and finished_at_ms is None and task.finished_at_ms is None:
                values["finished_at_ms"] = now_ms()
            if values:
                conn.execute(update(t.task).where(t.task.c.id == task_id).values(**values))
            return task_by_id(conn, task_id)

        return self._session.run(change, doing="update_task")

    def list_tasks(self, run_id: int) -> list[Task]:
        """The run's tasks in the order they were added.

        Raises:
            NotFoundError: no run has this id.
        """
        with self._session.read() as conn:
            self._require(conn, run_id)
            return tasks_of(conn, [run_id]).get(run_id, [])

    # -- search ------------------------------------------------------------------------------

    def search_runs(
        self,
        filter: Mapping[str, Any] | str | None = None,
        *,
        sort: str = "created_at desc",
        limit: int = DEFAULT_LIMIT,
        page_token: str | None = None,
        with_total: bool = False,
        full: bool = False,
    ) -> RunPage:
        """One page of at most ``limit`` runs matching ``filter`` (see
        :mod:`metadb.runs.filters`), in ``sort`` order: ``created_at``, ``name`` or
        ``metric:<name>``, then ``asc`` or ``desc``; ties are broken by id. With a metric sort,
        runs without the metric come after all runs with it (in both directions), by id.

        Pass the page's ``next_page_token`` as ``page_token`` for the next page, with the same
        filter and sort (the limit may change). ``total_size`` is counted only with
        ``with_total``. Specs are returned only with ``full``. Paging follows
        :mod:`metadb.paging` (default 20 runs, at most 1000).

        Raises:
            InvalidArgumentError: a malformed filter (the message names the bad node's path),
                an unknown sort, a limit that is not an integer from 1 to 1000, a damaged
                token or one made for another listing, filter or sort.

        Example::

            page = store.search_runs(
                {"and": [{"value_equals": {"key": "team", "value": "vision"}},
                         {"metric": {"name": "accuracy", "op": ">=", "value": 0.9}}]},
                sort="metric:accuracy desc", limit=50)
            more = store.search_runs(..., page_token=page.next_page_token)
        """
        node = parse_filter(dict(filter) if isinstance(filter, Mapping) else filter)
        order = q.Sort.parse(sort)
        size = check_limit(limit)
        tokens = q.page_tokens(node, order)
        cursor = q.read_token(tokens, page_token, order)
        with self._session.read() as conn:
            rows = q.page_rows(conn, node=node, sort=order, cursor=cursor, limit=size + 1)
            token = None
            if len(rows) > size:
                rows = rows[:size]
                token = q.make_token(tokens, q.cursor_after(rows[-1]))
            runs = load_runs(conn, [row[0] for row in rows], full=full)
            total = q.count(conn, node) if with_total else None
        return RunPage(runs, token, total)

    # -- internals ---------------------------------------------------------------------------

    def _require(self, conn: Connection, run_id: int) -> None:
        if conn.execute(select(t.run.c.id).where(t.run.c.id == run_id)).first() is None:
            raise NotFoundError(f"no run with id {run_id}")

    def _touch(self, conn: Connection, run_id: int) -> None:
        """Bump the run's update time: checks that it exists and locks its row."""
        statement = update(t.run).where(t.run.c.id == run_id).values(updated_at_ms=now_ms())
        if conn.execute(statement).rowcount == 0:
            raise NotFoundError(f"no run with id {run_id}")
