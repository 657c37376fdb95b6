"""Artifacts, executions and contexts: one implementation, parametrised by the node kind.

Writes are batched: one multi-row INSERT ... RETURNING for the nodes (row by row on MySQL, which
has no RETURNING) and one for all their property rows. Reads fetch the page of nodes first, then
the property rows of just those nodes. Lists are keyset-paginated on (order column, id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    or_,
    select,
    update,
)

from metadb.clock import now_ms
from metadb.errors import InvalidArgumentError
from metadb.paging import PageTokens, check_limit, damaged_token
from metadb.store.gcpause import gc_paused
from metadb.store.model import (
    AnyNode,
    Artifact,
    ArtifactState,
    Context,
    Execution,
    ExecutionState,
    ListOptions,
    Page,
    PropertyType,
    TypeKind,
)
from metadb.store.session import insert_returning_ids, insert_rows
from metadb.store.tables import MlmdTables, NodeTables
from metadb.store.typestore import TypeStore
from metadb.store.values import STRUCT_PREFIX, VALUE_COLUMNS, ValueCodec

_ORDER_COLUMNS = {
    "id": "id",
    "create_time": "create_time_since_epoch",
    "last_update_time": "last_update_time_since_epoch",
}
_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class KindSpec:
    kind: str
    entity: type[Any]
    type_kind: TypeKind
    #: Entity attributes stored in node columns of the same name, beyond the common ones.
    extra: tuple[str, ...]


SPECS = {
    "artifact": KindSpec("artifact", Artifact, TypeKind.ARTIFACT, ("uri", "state")),
    "execution": KindSpec("execution", Execution, TypeKind.EXECUTION, ("last_known_state",)),
    "context": KindSpec("context", Context, TypeKind.CONTEXT, ()),
}
_ENUMS: dict[str, Callable[[int], Any]] = {
    "state": ArtifactState,
    "last_known_state": ExecutionState,
}
#: The columns every node kind has, read into the entity's fields of the same names.
_BASE_FIELDS = (
    "id",
    "type_id",
    "name",
    "external_id",
    "create_time_since_epoch",
    "last_update_time_since_epoch",
)


class NodeStore:
    def __init__(self, kind: str, tables: MlmdTables, types: TypeStore, codec: ValueCodec) -> None:
        self.spec = SPECS[kind]
        self.tables = tables
        self.t: NodeTables = tables.nodes(kind)
        self.types = types
        self.codec = codec
        self._insert_properties = self.t.properties.insert()
        # An alias, so that a filter_query joining Type itself cannot clash with this join.
        self._type = tables.type.alias("node_type")
        self._property_columns = (self.t.owner, "name", "is_custom_property", *VALUE_COLUMNS)

    # -- writes ------------------------------------------------------------------------------

    def put(self, conn: Connection, nodes: Sequence[AnyNode]) -> list[int]:
        """Insert nodes without id, update (replacing properties) nodes with one."""
        for node in nodes:
            if not isinstance(node, self.spec.entity):
                raise InvalidArgumentError(
                    f"expected {self.spec.entity.__name__}, got {type(node).__name__}"
                )
            if node.type_id is None:
                raise InvalidArgumentError(f"{self.spec.kind} needs a type_id")
            if self.spec.kind == "context" and not node.name:
                raise InvalidArgumentError("a context needs a name")
            self.codec.check_node(self.spec.kind, node)
        declared = self.types.declared(conn, self.spec.type_kind, {n.type_id for n in nodes})  # type: ignore[misc]
        rows = [self._property_rows(node, declared[node.type_id]) for node in nodes]  # type: ignore[index]
        stamp = now_ms()
        new = [i for i, n in enumerate(nodes) if n.id is None]
        old = [i for i, n in enumerate(nodes) if n.id is not None]
        ids: list[int | None] = [n.id for n in nodes]
        if new:
            created = insert_returning_ids(
                conn, self.t.node, [self._node_row(nodes[i], stamp, created=True) for i in new]
            )
            for i, node_id in zip(new, created, strict=True):
                ids[i] = node_id
        if old:
            self._update(conn, [nodes[i] for i in old], stamp)
        property_rows = [(ids[i], *row) for i, node_rows in enumerate(rows) for row in node_rows]
        insert_rows(conn, self._insert_properties, self._property_columns, property_rows)
        return [int(i) for i in ids if i is not None]

    def _update(self, conn: Connection, nodes: Sequence[AnyNode], stamp: int) -> None:
        c = self.t.node.c
        wanted = [int(n.id) for n in nodes if n.id is not None]
        stored = {
            int(r.id): int(r.type_id)
            for r in conn.execute(select(c.id, c.type_id).where(c.id.in_(wanted)))
        }
        for node in nodes:
            assert node.id is not None
            if node.id not in stored:
                raise InvalidArgumentError(f"no {self.spec.kind} with id {node.id} to update")
            if stored[node.id] != node.type_id:
                raise InvalidArgumentError(
                    f"{self.spec.kind} {node.id} has type_id {stored[node.id]}, not {node.type_id}"
                )
        columns = ["name", "external_id", *self.spec.extra]
        statement = (
            update(self.t.node)
            .where(c.id == bindparam("node_id"))
            .values({col: bindparam(col) for col in [*columns, "last_update_time_since_epoch"]})
        )
        conn.execute(
            statement,
            [{"node_id": n.id, **self._node_row(n, stamp, created=False)} for n in nodes],
        )
        owner = self.t.properties.c[self.t.owner]
        conn.execute(delete(self.t.properties).where(owner.in_(wanted)))

    def _node_row(self, node: AnyNode, stamp: int, *, created: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "name": node.name,
            "external_id": node.external_id,
            "last_update_time_since_epoch": stamp,
        }
        if created:
            row["type_id"] = node.type_id
            row["create_time_since_epoch"] = stamp
        for attr in self.spec.extra:
            value = getattr(node, attr)
            row[attr] = int(value) if attr in _ENUMS and value is not None else value
        if "uri" in row and row["uri"] is None:
            row["uri"] = ""  # ml-metadata always stores a string, '' for no uri
        return row

    def _property_rows(
        self, node: AnyNode, declared: dict[str, PropertyType]
    ) -> list[tuple[Any, ...]]:
        """(name, is_custom_property, *value columns) for each property of ``node``."""
        rows = []
        for name, value in node.properties.items():
            if name not in declared:
                raise InvalidArgumentError(
                    f"property {name!r} is not declared by the {self.spec.kind}'s type "
                    f"(type_id {node.type_id}); declare it or make it a custom property"
                )
            if value is None:
                continue
            rows.append((name, False, *self.codec.encode(name, value, declared[name])))
        for name, value in node.custom_properties.items():
            if value is None:
                continue
            rows.append((name, True, *self.codec.encode(name, value, None)))
        return rows

    # -- reads -------------------------------------------------------------------------------

    def select(self) -> Select[Any]:
        """The base query: the node columns and the name of the node's type."""
        return select(self.t.node, self._type.c.name.label("type_name")).join(
            self._type, self._type.c.id == self.t.node.c.type_id
        )

    def load(self, conn: Connection, query: Select[Any], *, limited: bool = False) -> list[Any]:
        """Run ``query`` (built on :meth:`select`) and return entities with their properties.

        Rows are streamed into entities and property rows into the entities' dicts, so that
        only the entities stay alive, and the cyclic garbage collector is paused meanwhile
        (see :mod:`metadb.store.gcpause`). ``limited`` says that ``query`` has a LIMIT.
        """
        with gc_paused():
            return self._load(conn, query, limited=limited)

    def _load(self, conn: Connection, query: Select[Any], *, limited: bool) -> list[Any]:
        # A query with LIMIT (a page) reads its properties by the page's ids: ``IN (SELECT ...
        # LIMIT n)`` is refused by MariaDB, and without its ORDER BY could pick other rows.
        entities: dict[int, Any] = {}
        result = conn.execute(query)
        make = self._entity_maker(tuple(result.keys()))
        for part in result.partitions(2000):
            for row in part:
                entity = make(row)
                entities[entity.id] = entity
        if not entities:
            return []
        p = self.t.properties.c
        owner = p[self.t.owner]
        batch = select(owner, p.name, p.is_custom_property, *(p[c] for c in VALUE_COLUMNS))
        if len(entities) > _CHUNK and not limited:
            # A large result: one query joined on the node query, not thousands of bound ids.
            ids = query.with_only_columns(self.t.node.c.id, maintain_column_froms=True)
            batches = [batch.where(owner.in_(ids.order_by(None)))]
        else:
            keys = list(entities)
            batches = [
                batch.where(owner.in_(keys[i : i + _CHUNK])) for i in range(0, len(keys), _CHUNK)
            ]
        decode = self.codec.decode_values
        # A declared property's value depends on its declared type only for text that looks
        # like a struct (a STRING may hold "mlmd-struct::..."); the types are read only then.
        looks_like_struct: list[tuple[Any, str, Any]] = []
        parts = (part for b in batches for part in conn.execute(b).partitions(2000))
        for part in parts:
            for row in part:
                entity, name, is_custom = entities[row[0]], row[1], row[2]
                if is_custom:
                    entity.custom_properties[name] = decode(row, None, 3)
                elif isinstance(row[5], str) and row[5].startswith(STRUCT_PREFIX):
                    looks_like_struct.append((entity, name, row))
                else:
                    entity.properties[name] = decode(row, PropertyType.STRING, 3)
        if looks_like_struct:
            declared = self._declared(conn, {entity.type_id for entity, _, _ in looks_like_struct})
            for entity, name, row in looks_like_struct:
                entity.properties[name] = decode(row, declared[entity.type_id].get(name), 3)
        return list(entities.values())

    def _entity_maker(self, keys: tuple[str, ...]) -> Callable[[Any], Any]:
        """A function from a row with columns ``keys`` (those of :meth:`select`) to an entity,
        without its properties yet. Columns are read by position and the entity is built in
        one call: this runs once per row of every read."""
        entity = self.spec.entity
        base = [(name, keys.index(name)) for name in _BASE_FIELDS]
        base.append(("type", keys.index("type_name")))
        extra = [(attr, keys.index(attr), _ENUMS.get(attr)) for attr in self.spec.extra]

        def make(row: Any) -> Any:
            fields = {name: row[i] for name, i in base}
            for attr, i, enum in extra:
                value = row[i]
                fields[attr] = enum(value) if enum is not None and value is not None else value
            return entity(properties={}, custom_properties={}, **fields)

        return make

    def _declared(self, conn: Connection, type_ids: set[int]) -> dict[int, dict[str, PropertyType]]:
        """The declared properties of the given types, in one query."""
        tp = self.tables.type_property
        query = select(tp.c.type_id, tp.c.name, tp.c.data_type).where(
            tp.c.type_id.in_(sorted(type_ids))
        )
        declared: dict[int, dict[str, PropertyType]] = defaultdict(dict)
        for type_id, property_name, data_type in conn.execute(query):
            declared[type_id][property_name] = PropertyType(data_type or 0)
        return declared

    def by_ids(self, conn: Connection, ids: Sequence[int]) -> list[Any]:
        found: list[Any] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            found += self.load(conn, self.select().where(self.t.node.c.id.in_(chunk)))
        return sorted(found, key=lambda n: n.id)

    def page(
        self,
        conn: Connection,
        options: ListOptions,
        *,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> Page:
        """One page in the options' order, after the options' page token (keyset, no OFFSET).

        Raises:
            InvalidArgumentError: an unknown order_by, a limit outside the page policy
                (:mod:`metadb.paging`), a malformed filter_query, or a page token that is
                damaged or belongs to another listing, filter or order.
        """
        if options.order_by not in _ORDER_COLUMNS:
            raise InvalidArgumentError(
                f"order_by must be one of {sorted(_ORDER_COLUMNS)}, not {options.order_by!r}"
            )
        limit = check_limit(options.limit)
        node = self.t.node
        column = node.c[_ORDER_COLUMNS[options.order_by]]
        query = self.select().where(*where)
        if options.filter_query:
            from metadb.store.filter_query import compile_filter

            query = query.where(
                compile_filter(options.filter_query, kind=self.spec.kind, tables=self.tables)
            )
        tokens = self.page_tokens(options)
        cursor = tokens.read(options.next_page_token)
        if cursor is not None:
            value, last_id = _node_cursor(cursor)
            if options.is_asc:
                query = query.where(or_(column > value, and_(column == value, node.c.id > last_id)))
            else:
                query = query.where(or_(column < value, and_(column == value, node.c.id < last_id)))
        order = (
            (column.asc(), node.c.id.asc()) if options.is_asc else (column.desc(), node.c.id.desc())
        )
        query = query.order_by(*order).limit(limit + 1)
        items = self.load(conn, query, limited=True)
        token = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            token = tokens.make(getattr(last, _ORDER_COLUMNS[options.order_by]), last.id)
        return Page(items, token)

    def page_tokens(self, options: ListOptions) -> PageTokens:
        """The page tokens of this kind's listing in the options' filter and order."""
        order = f"{options.order_by} {'asc' if options.is_asc else 'desc'}"
        return PageTokens(f"{self.spec.kind}s", order, options.filter_query or "")


def _node_cursor(cursor: tuple[Any, ...]) -> tuple[int, int]:
    """The (order value, id) of a node listing's cursor: two integers."""
    if len(cursor) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in cursor):
        raise damaged_token()
    return int(cursor[0]), int(cursor[1])
