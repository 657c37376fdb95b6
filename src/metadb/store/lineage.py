"""The lineage subgraph: the nodes within ``max_num_hops`` events of those a filter_query picks.

Direction follows the event type: downstream goes from an artifact to the executions that read
it (input events) and from an execution to the artifacts it wrote (output events); upstream the
other way round. As in ml-metadata, a walk starts from at most 101 nodes (the lowest ids).

The walk is breadth first from a frontier: the nodes first reached at the walk's last hop, all
of one kind (artifacts and executions alternate). A round trip costs far more in the driver and
SQLAlchemy than a step of the walk costs in the database, so one query may walk several hops: a
recursive CTE of (is_artifact, node_id, hops) rows, the frontier at 0 hops, then the neighbours
of each row at hops + 1 while hops < the query's length; it returns each node with the fewest
hops it was reached in. A node not seen before is that many hops past the frontier (its
shortest path passes through the frontier, which holds every node at the walk's hops), and the
next frontier is the new nodes at the query's full length. A hop alone is a plain query.

Why not the whole walk in one query: UNION drops a row reached again with the same hop count,
but a walk goes back and forth, so a node at d hops comes back at d + 2, d + 4 ... and there is
no visited set in SQL to drop it. A query of L hops makes about L / 2 rows for each node within
it, and a narrow walk reaches a few nodes per hop and frontier node: about width * L**2 rows in
all. L is chosen so that this stays within :data:`HOP_BUDGET`: 11 hops per query from a single
node, one hop (no CTE) from 33 nodes on. Walks with ending filters go one hop per query, as
their ending nodes (checked when first reached) stop the walk and are left out of the result
unless include_ending_nodes; so do servers without WITH RECURSIVE (MySQL 5.7).

The CTE takes both kinds of node in one recursive SELECT, as PostgreSQL and MySQL require: it
left-joins Event twice, on artifact_id for artifact rows and on execution_id for execution rows,
so that each row meets one index lookup and the other side is NULL.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from itertools import zip_longest
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    union,
)

from metadb.db.dialect import dialect_of
from metadb.errors import InvalidArgumentError, NotFoundError
from metadb.store.filter_query import compile_filter
from metadb.store.model import EventType, LineageDirection, LineageSubgraphQueryOptions
from metadb.store.tables import MlmdTables

#: ml-metadata walks at most this many hops, whatever max_num_hops says.
MAX_NUM_HOPS = 100

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
#: A query walks about sqrt(HOP_BUDGET / frontier width) hops. Measured on SQLite, PostgreSQL
#: and MariaDB with long chains, wide starts and a grid of crossing paths: bigger budgets win on
#: narrow walks and lose more on wide ones (the grid, bidirectionally) than they win.
HOP_BUDGET = 128
#: And at most this many: well under MySQL's and MariaDB's default limit of 1000 recursions.
MAX_HOPS_PER_QUERY = 100

#: A node of the walk: (is an artifact, id).
Node = tuple[bool, int]


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
        # Attribution and Association have no index on the node column: these are scans. The
        # range test first (SQLite tests the terms in this order) turns most rows away before
        # the costlier IN test: lineage ids tend to be close together.
        at, asn = tables.attribution.c, tables.association.c
        self._contexts_of: CompoundSelect[int] = union(
            select(at.context_id).where(
                at.artifact_id.between(bindparam("artifacts_low"), bindparam("artifacts_high")),
                at.artifact_id.in_(bindparam("artifacts", expanding=True)),
            ),
            select(asn.context_id).where(
                asn.execution_id.between(bindparam("executions_low"), bindparam("executions_high")),
                asn.execution_id.in_(bindparam("executions", expanding=True)),
            ),
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
        # As in ml-metadata: at most 100 hops, also when max_num_hops is not given.
        limit = min(
            MAX_NUM_HOPS, MAX_NUM_HOPS if options.max_num_hops is None else options.max_num_hops
        )
        direction = LineageDirection(options.direction)
        if direction == LineageDirection.DIRECTION_UNSPECIFIED:
            direction = LineageDirection.BIDIRECTIONAL
        if options.starting_artifacts is not None:
            kind, query = "artifact", options.starting_artifacts
        else:
            kind, query = "execution", options.starting_executions or ""
        start = conn.execute(_starting_ids(self.t, kind, query))
        seen: set[Node] = {(kind == "artifact", int(r[0])) for r in start}
        if not seen:
            raise NotFoundError(f"no {kind} matches the starting filter_query {query!r}")
        ending = options.ending_artifacts is not None or options.ending_executions is not None
        several_hops = not ending and dialect_of(conn).has_recursive_cte(conn)
        excluded: set[Node] = set()
        frontier, hops = set(seen), 0
        if ending:  # a starting node that is an ending node is not walked from either
            stop = self._ending(conn, options, frontier)
            if not options.include_ending_nodes:
                excluded |= stop
            frontier -= stop
        while frontier and hops < limit:
            length = 1
            if several_hops:
                remaining = limit - hops
                length = _hops_per_query(len(frontier), remaining)
            reached = self._reach(conn, frontier, direction, length)
            new = {node: d for node, d in reached.items() if node not in seen}
            seen.update(new)
            hops += length
            frontier = {node for node, d in new.items() if d == length}
            if ending:
                stop = self._ending(conn, options, frontier)
                if not options.include_ending_nodes:
                    excluded |= stop
                frontier -= stop
        seen -= excluded
        return {i for a, i in seen if a}, {i for a, i in seen if not a}

    def _reach(
        self, conn: Connection, frontier: set[Node], direction: LineageDirection, length: int
    ) -> dict[Node, int]:
        """The nodes within ``length`` hops of ``frontier``, each with its fewest hops."""
        from_artifacts, from_executions = _followed(direction)
        reached: dict[Node, int] = {}
        for is_artifact in (True, False):
            for chunk in _chunks(i for a, i in frontier if a == is_artifact):
                if length == 1:
                    statement = self._executions_of if is_artifact else self._artifacts_of
                    types = from_artifacts if is_artifact else from_executions
                    rows: Iterable[tuple[int, ...]] = (
                        (not is_artifact, r[0], 1)
                        for r in conn.execute(statement, {"ids": chunk, "types": types})
                    )
                else:
                    statement = _walk_statement(self.t, is_artifact, direction)
                    rows = conn.execute(statement, {"ids": chunk, "max_hops": length})
                for to_artifact, node_id, hops in rows:
                    node = (bool(to_artifact), int(node_id))
                    reached[node] = min(hops, reached.get(node, hops))
        return reached

    def _ending(
        self, conn: Connection, options: LineageSubgraphQueryOptions, new: set[Node]
    ) -> set[Node]:
        """The nodes of ``new`` that match the ending filter of their kind."""
        stop: set[Node] = set()
        for is_artifact, kind, query in (
            (True, "artifact", options.ending_artifacts),
            (False, "execution", options.ending_executions),
        ):
            ids = {i for a, i in new if a == is_artifact}
            if query is not None and ids:
                stop |= {(is_artifact, i) for i in self._matching(conn, kind, query, ids)}
        return stop

    def _matching(self, conn: Connection, kind: str, query: str, among: set[int]) -> set[int]:
        node = self.t.nodes(kind).node
        statement = select(node.c.id).where(compile_filter(query, kind=kind, tables=self.t))
        found: set[int] = set()
        for chunk in _chunks(among):
            found |= {int(r[0]) for r in conn.execute(statement.where(node.c.id.in_(chunk)))}
        return found

    def context_ids(self, conn: Connection, artifacts: set[int], executions: set[int]) -> set[int]:
        """The contexts of the given nodes: one query per 500 artifacts and 500 executions."""
        found: set[int] = set()
        nothing: list[int] = []
        for a_chunk, e_chunk in zip_longest(
            _chunks(artifacts), _chunks(executions), fillvalue=nothing
        ):
            parameters = {**_with_range("artifacts", a_chunk), **_with_range("executions", e_chunk)}
            found.update(int(r[0]) for r in conn.execute(self._contexts_of, parameters))
        return found


def _hops_per_query(width: int, remaining: int) -> int:
    """How many hops one query walks from a frontier of ``width`` nodes: sqrt(HOP_BUDGET /
    width), so that the frontier's back and forth stays within the budget, or all the
    ``remaining`` hops if they are at most a quarter more (rather than a round trip for them)."""
    length = max(1, math.isqrt(HOP_BUDGET // width))
    if remaining <= length + length // 4:
        length = remaining
    return min(length, MAX_HOPS_PER_QUERY)


def _with_range(name: str, ids: list[int]) -> dict[str, Any]:
    """Sorted ``ids`` under ``name`` and their range under name_low and name_high."""
    return {name: ids, f"{name}_low": ids[0] if ids else 0, f"{name}_high": ids[-1] if ids else -1}


def _followed(direction: LineageDirection) -> tuple[list[int], list[int]]:
    """The event types followed from an artifact and from an execution."""
    down = direction in (LineageDirection.DOWNSTREAM, LineageDirection.BIDIRECTIONAL)
    up = direction in (LineageDirection.UPSTREAM, LineageDirection.BIDIRECTIONAL)
    # From an artifact, downstream follows the events where it was read (inputs) and
    # upstream those where it was written (outputs); from an execution the other way round.
    from_artifacts = (INPUTS if down else frozenset()) | (OUTPUTS if up else frozenset())
    from_executions = (OUTPUTS if down else frozenset()) | (INPUTS if up else frozenset())
    return _codes(from_artifacts), _codes(from_executions)


@functools.lru_cache(maxsize=256)
def _starting_ids(tables: MlmdTables, kind: str, query: str) -> Select[int]:
    """The ids of the starting nodes: the lowest MAX_STARTING_NODES that match ``query``."""
    node = tables.nodes(kind).node
    statement = select(node.c.id).where(compile_filter(query, kind=kind, tables=tables))
    return statement.order_by(node.c.id).limit(MAX_STARTING_NODES)


@functools.lru_cache(maxsize=64)
def _walk_statement(
    tables: MlmdTables, from_artifacts: bool, direction: LineageDirection
) -> Select[int, int, int]:
    """(is_artifact, node_id, fewest hops) of the nodes within ``max_hops`` hops of the
    artifacts (or executions) ``ids``: the walk of several hops in one recursive query."""
    node = tables.artifact.node if from_artifacts else tables.execution.node
    walk = (
        select(
            _number(1 if from_artifacts else 0).label("is_artifact"),
            node.c.id.label("node_id"),
            _number(0).label("hops"),
        )
        .where(node.c.id.in_(bindparam("ids", expanding=True)))
        .cte("lineage_walk", recursive=True)
    )
    types_from_artifacts, types_from_executions = _followed(direction)
    by_artifact, by_execution = (
        tables.event.alias("by_artifact"),
        tables.event.alias("by_execution"),
    )
    step = (
        select(
            _number(1) - walk.c.is_artifact,
            func.coalesce(by_artifact.c.execution_id, by_execution.c.artifact_id),
            walk.c.hops + _number(1),
        )
        .select_from(
            walk.outerjoin(
                by_artifact,
                and_(
                    walk.c.is_artifact == _number(1),
                    by_artifact.c.artifact_id == walk.c.node_id,
                    by_artifact.c.type.in_(types_from_artifacts),
                ),
            ).outerjoin(
                by_execution,
                and_(
                    walk.c.is_artifact == _number(0),
                    by_execution.c.execution_id == walk.c.node_id,
                    by_execution.c.type.in_(types_from_executions),
                ),
            )
        )
        .where(
            walk.c.hops < bindparam("max_hops", type_=Integer),
            or_(by_artifact.c.id.is_not(None), by_execution.c.id.is_not(None)),
        )
    )
    walk = walk.union(step)
    return select(walk.c.is_artifact, walk.c.node_id, func.min(walk.c.hops)).group_by(
        walk.c.is_artifact, walk.c.node_id
    )


def _number(value: int) -> ColumnElement[int]:
    """An integer written into the SQL: the CTE's column types then need no bound types."""
    return literal_column(str(value), Integer)


def _codes(kinds: frozenset[EventType]) -> list[int]:
    return sorted(int(kind) for kind in kinds)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]
