"""The lineage subgraph: a breadth-first walk over events from nodes picked by a filter_query.

One query per hop fetches the events of the whole frontier (artifacts and executions together),
so a walk of N hops costs N round trips however wide it gets. Direction follows the event type:
downstream goes from an artifact to the executions that read it (input events) and from an
execution to the artifacts it wrote (output events); upstream the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import BindParameter, Connection, bindparam, select

from metadb.errors import InvalidArgumentError
from metadb.store.filter_query import compile_filter
from metadb.store.model import EventType, LineageDirection, LineageSubgraphQueryOptions
from metadb.store.tables import MlmdTables

INPUTS = frozenset({EventType.INPUT, EventType.DECLARED_INPUT, EventType.INTERNAL_INPUT})
OUTPUTS = frozenset(
    {
        EventType.OUTPUT,
        EventType.DECLARED_OUTPUT,
        EventType.INTERNAL_OUTPUT,
        EventType.PENDING_OUTPUT,
    }
)
_CHUNK = 500
#: ml-metadata starts a walk from at most this many nodes, those with the lowest ids, however
#: many the filter matches; metadb does the same so that both return the same subgraph.
MAX_STARTING_NODES = 101


class LineageWalker:
    def __init__(self, tables: MlmdTables) -> None:
        self.t = tables
        ev = tables.event.c
        # Built once: a hop is one execution of a cached statement, whatever the frontier.
        ids: BindParameter[int] = bindparam("ids", expanding=True)
        types: BindParameter[int] = bindparam("types", expanding=True)
        self._executions_of = select(ev.execution_id).where(
            ev.artifact_id.in_(ids), ev.type.in_(types)
        )
        self._artifacts_of = select(ev.artifact_id).where(
            ev.execution_id.in_(ids), ev.type.in_(types)
        )

    def walk(
        self, conn: Connection, options: LineageSubgraphQueryOptions
    ) -> tuple[set[int], set[int]]:
        """The ids of the artifacts and executions in the subgraph."""
        if (options.starting_artifacts is None) == (options.starting_executions is None):
            raise InvalidArgumentError(
                "give exactly one of starting_artifacts and starting_executions (a filter_query)"
            )
        if options.max_num_hops is not None and options.max_num_hops < 0:
            raise InvalidArgumentError("max_num_hops must not be negative")
        direction = LineageDirection(options.direction)
        if direction == LineageDirection.DIRECTION_UNSPECIFIED:
            direction = LineageDirection.BIDIRECTIONAL
        artifacts: set[int] = set()
        executions: set[int] = set()
        if options.starting_artifacts is not None:
            artifacts = self._starting(conn, "artifact", options.starting_artifacts)
        else:
            executions = self._starting(conn, "execution", options.starting_executions or "")
        seen_a, seen_e = set(artifacts), set(executions)
        excluded_a: set[int] = set()
        excluded_e: set[int] = set()
        frontier_a, frontier_e = set(artifacts), set(executions)
        hops = 0
        while (frontier_a or frontier_e) and (
            options.max_num_hops is None or hops < options.max_num_hops
        ):
            hops += 1
            new_e, new_a = self._step(conn, frontier_a, frontier_e, direction)
            new_e -= seen_e
            new_a -= seen_a
            seen_e |= new_e
            seen_a |= new_a
            stop_a = self._ending(conn, "artifact", options.ending_artifacts, new_a)
            stop_e = self._ending(conn, "execution", options.ending_executions, new_e)
            if not options.include_ending_nodes:
                excluded_a |= stop_a
                excluded_e |= stop_e
            frontier_a, frontier_e = new_a - stop_a, new_e - stop_e
        return seen_a - excluded_a, seen_e - excluded_e

    def _step(
        self,
        conn: Connection,
        artifacts: set[int],
        executions: set[int],
        direction: LineageDirection,
    ) -> tuple[set[int], set[int]]:
        """Executions reached from ``artifacts`` and artifacts reached from ``executions``."""
        down = direction in (LineageDirection.DOWNSTREAM, LineageDirection.BIDIRECTIONAL)
        up = direction in (LineageDirection.UPSTREAM, LineageDirection.BIDIRECTIONAL)
        # From an artifact, downstream follows the events where it was read (inputs) and
        # upstream those where it was written (outputs); from an execution the other way round.
        from_artifacts = (INPUTS if down else frozenset()) | (OUTPUTS if up else frozenset())
        from_executions = (OUTPUTS if down else frozenset()) | (INPUTS if up else frozenset())
        reached_e: set[int] = set()
        reached_a: set[int] = set()
        for chunk in _chunks(artifacts):
            rows = conn.execute(
                self._executions_of, {"ids": chunk, "types": _codes(from_artifacts)}
            )
            reached_e.update(r[0] for r in rows)
        for chunk in _chunks(executions):
            rows = conn.execute(
                self._artifacts_of, {"ids": chunk, "types": _codes(from_executions)}
            )
            reached_a.update(r[0] for r in rows)
        return reached_e, reached_a

    def _starting(self, conn: Connection, kind: str, query: str) -> set[int]:
        node = self.t.nodes(kind).node
        statement = select(node.c.id).where(compile_filter(query, kind=kind, tables=self.t))
        statement = statement.order_by(node.c.id).limit(MAX_STARTING_NODES)
        return {int(r[0]) for r in conn.execute(statement)}

    def _matching(self, conn: Connection, kind: str, query: str, among: set[int]) -> set[int]:
        node = self.t.nodes(kind).node
        statement = select(node.c.id).where(compile_filter(query, kind=kind, tables=self.t))
        found: set[int] = set()
        for chunk in _chunks(among):
            found |= {int(r[0]) for r in conn.execute(statement.where(node.c.id.in_(chunk)))}
        return found

    def _ending(self, conn: Connection, kind: str, query: str | None, new: set[int]) -> set[int]:
        if query is None or not new:
            return set()
        return self._matching(conn, kind, query, new)

    def context_ids(self, conn: Connection, artifacts: set[int], executions: set[int]) -> set[int]:
        found: set[int] = set()
        at, asn = self.t.attribution.c, self.t.association.c
        for chunk in _chunks(artifacts):
            found |= {int(r[0]) for r in conn.execute(
                select(at.context_id).where(at.artifact_id.in_(chunk)))}  # fmt: skip
        for chunk in _chunks(executions):
            found |= {int(r[0]) for r in conn.execute(
                select(asn.context_id).where(asn.execution_id.in_(chunk)))}  # fmt: skip
        return found


def _codes(kinds: frozenset[EventType]) -> list[int]:
    return sorted(int(kind) for kind in kinds)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]
