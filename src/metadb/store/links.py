"""Edges between nodes: events (with paths), attributions, associations, parent contexts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, bindparam, select

from metadb.clock import now_ms
from metadb.db.dialect import Dialect
from metadb.errors import AlreadyExistsError, InvalidArgumentError
from metadb.store.model import Association, Attribution, Event, EventType, ParentContext
from metadb.store.session import insert_returning_ids, insert_rows
from metadb.store.tables import MlmdTables

_CHUNK = 500
_EVENT_TYPES = {int(kind): kind for kind in EventType}
_STEP_COLUMNS = ("event_id", "is_index_step", "step_index", "step_key")


class LinkStore:
    def __init__(self, tables: MlmdTables, dialect: Dialect) -> None:
        self.t = tables
        self.dialect = dialect
        self._insert_steps = tables.event_path.insert()
        self._insert_attributions = dialect.insert_ignoring_duplicates(tables.attribution)
        self._insert_associations = dialect.insert_ignoring_duplicates(tables.association)
        ev, path = tables.event.c, tables.event_path.c
        with_paths = select(
            ev.id, ev.artifact_id, ev.execution_id, ev.type, ev.milliseconds_since_epoch,
            path.is_index_step, path.step_index, path.step_key,
        ).outerjoin(tables.event_path, path.event_id == ev.id)  # fmt: skip
        #: Built once: the ids are bound per call (an expanding IN), not coerced into a new
        #: statement each time.
        self._events_by = {
            column: with_paths.where(ev[column].in_(bindparam("ids", expanding=True)))
            for column in ("artifact_id", "execution_id")
        }

    # -- events ------------------------------------------------------------------------------

    def put_events(self, conn: Connection, events: Sequence[Event]) -> None:
        """Insert events (never update). Their artifact and execution must exist."""
        for event in events:
            if event.artifact_id is None or event.execution_id is None:
                raise InvalidArgumentError("an event needs an artifact_id and an execution_id")
            if EventType(event.type) == EventType.UNKNOWN:
                raise InvalidArgumentError("an event needs a type other than UNKNOWN")
        self._require(conn, self.t.artifact.node, {e.artifact_id for e in events}, "artifact")  # type: ignore[misc]
        self._require(conn, self.t.execution.node, {e.execution_id for e in events}, "execution")  # type: ignore[misc]
        keys = {(e.artifact_id, e.execution_id, int(e.type)) for e in events}
        if len(keys) < len(events):
            raise AlreadyExistsError("the same event (artifact, execution, type) is given twice")
        ev = self.t.event.c
        # Two plain INs and a check here bind a third of the parameters of a tuple IN.
        candidates = conn.execute(
            select(ev.artifact_id, ev.execution_id, ev.type).where(
                ev.execution_id.in_(sorted({key[1] for key in keys})),
                ev.artifact_id.in_(sorted({key[0] for key in keys})),
            )
        )
        existing = next((row for row in candidates if tuple(row) in keys), None)
        if existing is not None:
            raise AlreadyExistsError(
                f"event exists: artifact {existing[0]}, execution {existing[1]}, "
                f"type {EventType(existing[2]).name}"
            )
        stamp = now_ms()
        ids = insert_returning_ids(
            conn,
            self.t.event,
            [
                {
                    "artifact_id": e.artifact_id,
                    "execution_id": e.execution_id,
                    "type": int(e.type),
                    "milliseconds_since_epoch": e.milliseconds_since_epoch or stamp,
                }
                for e in events
            ],
        )
        steps = [
            (event_id, True, step, None) if isinstance(step, int) else (event_id, False, None, step)
            for event_id, event in zip(ids, events, strict=True)
            for step in event.path
        ]
        insert_rows(conn, self._insert_steps, _STEP_COLUMNS, steps)

    def events(self, conn: Connection, column: str, ids: Sequence[int]) -> list[Event]:
        """Events whose ``column`` (artifact_id or execution_id) is one of ``ids``, by id.

        One query brings each event with its path steps (EventPath has no order column: steps
        come back in the order they were stored, as in ml-metadata).
        """
        query = self._events_by[column]
        events: dict[int, Event] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            rows = conn.execute(query, {"ids": chunk}).all()
            for event_id, artifact, execution, kind, ms, is_index, index, key in rows:
                event = events.get(event_id)
                if event is None:
                    event = Event(artifact, execution, _EVENT_TYPES[kind], [], ms)
                    events[event_id] = event
                if is_index is not None:
                    event.path.append(index if is_index else key)
        return [events[event_id] for event_id in sorted(events)]

    # -- attributions and associations -------------------------------------------------------

    def put_links(
        self,
        conn: Connection,
        attributions: Sequence[Attribution],
        associations: Sequence[Association],
    ) -> None:
        """Insert the links that do not exist yet; existing ones are silently kept."""
        self._require(
            conn,
            self.t.context.node,
            {a.context_id for a in attributions} | {a.context_id for a in associations},
            "context",
        )
        self._require(conn, self.t.artifact.node, {a.artifact_id for a in attributions}, "artifact")
        self._require(
            conn, self.t.execution.node, {a.execution_id for a in associations}, "execution"
        )
        if attributions:
            rows = [(a.context_id, a.artifact_id) for a in attributions]
            insert_rows(conn, self._insert_attributions, ("context_id", "artifact_id"), rows)
        if associations:
            rows = [(a.context_id, a.execution_id) for a in associations]
            insert_rows(conn, self._insert_associations, ("context_id", "execution_id"), rows)

    # -- parent contexts ---------------------------------------------------------------------

    def put_parent_contexts(self, conn: Connection, links: Sequence[ParentContext]) -> None:
        """Insert child -> parent links; a link that would close a cycle is refused."""
        ids = {i for link in links for i in (link.child_id, link.parent_id)}
        self._require(conn, self.t.context.node, ids, "context")
        pc = self.t.parent_context.c
        for link in links:
            if link.child_id == link.parent_id:
                raise InvalidArgumentError(f"context {link.child_id} cannot be its own parent")
            exists = conn.execute(
                select(pc.context_id).where(
                    pc.context_id == link.child_id, pc.parent_context_id == link.parent_id
                )
            ).first()
            if exists is not None:
                raise AlreadyExistsError(
                    f"context {link.parent_id} is already a parent of context {link.child_id}"
                )
            if link.child_id in self._ancestors(conn, link.parent_id):
                raise InvalidArgumentError(
                    f"making context {link.parent_id} a parent of context {link.child_id} would "
                    "close a cycle of parent contexts"
                )
            conn.execute(
                self.t.parent_context.insert().values(
                    context_id=link.child_id, parent_context_id=link.parent_id
                )
            )

    def _ancestors(self, conn: Connection, context_id: int) -> set[int]:
        pc = self.t.parent_context.c
        seen: set[int] = set()
        frontier = {context_id}
        while frontier:
            rows = conn.execute(
                select(pc.parent_context_id).where(pc.context_id.in_(sorted(frontier)))
            )
            frontier = {int(r[0]) for r in rows} - seen
            seen |= frontier
        return seen

    def related_contexts(self, conn: Connection, context_id: int, *, parents: bool) -> list[int]:
        pc = self.t.parent_context.c
        mine, theirs = (pc.context_id, pc.parent_context_id)
        if not parents:
            mine, theirs = theirs, mine
        return [int(r[0]) for r in conn.execute(select(theirs).where(mine == context_id))]

    # -- helpers -----------------------------------------------------------------------------

    def _require(self, conn: Connection, table: Table, ids: set[int], what: str) -> None:
        wanted = sorted(ids)
        found: set[int] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found |= {
                int(r[0]) for r in conn.execute(select(table.c.id).where(table.c.id.in_(chunk)))
            }
        missing = [i for i in wanted if i not in found]
        if missing:
            raise InvalidArgumentError(f"no {what} with id {missing[0]}")
