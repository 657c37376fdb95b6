"""Artifacts, executions and contexts: one implementation, parametrised by the node kind.

Writes are batched: one multi-row INSERT ... RETURNING for the nodes (row by row on MySQL, which
has no RETURNING) and one for all their property rows. Reads fetch the page of nodes first, then
the property rows of just those nodes. Lists are keyset-paginated on (order column, id).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Sequence
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

from metadb.errors import InvalidArgumentError
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
from metadb.store.values import VALUE_COLUMNS, ValueCodec

MAX_PAGE = 100
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
_ENUMS = {"state": ArtifactState, "last_known_state": ExecutionState}


def now_ms() -> int:
    return int(time.time() * 1000)


class NodeStore:
    def __init__(self, kind: str, tables: MlmdTables, types: TypeStore, codec: ValueCodec) -> None:
        self.spec = SPECS[kind]
        self.tables = tables
        self.t: NodeTables = tables.nodes(kind)
        self.types = types
        self.codec = codec
        self._insert_properties = self.t.properties.insert()
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
        """The base query: the node columns (the type's name is added by :meth:`load`)."""
        return select(self.t.node)

    def load(self, conn: Connection, query: Select[Any]) -> list[Any]:
        """Run ``query`` (built on :meth:`select`) and return entities with their properties.

        Rows are streamed into entities and property rows into the entities' dicts, so that
        only the entities stay alive, and the cyclic garbage collector is paused meanwhile
        (see :mod:`metadb.store.gcpause`).
        """
        with gc_paused():
            return self._load(conn, query)

    def _load(self, conn: Connection, query: Select[Any]) -> list[Any]:
        entities: dict[int, Any] = {}
        for part in conn.execute(query).partitions(2000):
            for row in part:
                entity = self._entity(row)
                entities[entity.id] = entity
        if not entities:
            return []
        names, declared = self._types_of(conn, {e.type_id for e in entities.values()})
        for entity in entities.values():
            entity.type = names.get(entity.type_id)
        p = self.t.properties.c
        owner = p[self.t.owner]
        batch = select(owner, p.name, p.is_custom_property, *(p[c] for c in VALUE_COLUMNS))
        if len(entities) > _CHUNK:
            # A large result: one query joined on the node query, not thousands of bound ids.
            ids = query.with_only_columns(self.t.node.c.id, maintain_column_froms=True)
            batch = batch.where(owner.in_(ids.order_by(None)))
        else:
            batch = batch.where(owner.in_(list(entities)))
        decode = self.codec.decode_values
        for part in conn.execute(batch).partitions(2000):
            for row in part:
                entity, name, is_custom = entities[row[0]], row[1], row[2]
                if is_custom:
                    entity.custom_properties[name] = decode(row, None, 3)
                else:
                    entity.properties[name] = decode(row, declared[entity.type_id].get(name), 3)
        return list(entities.values())

    def _entity(self, r: Any) -> Any:
        """An entity, without its properties yet, from a row of :meth:`select`."""
        entity = self.spec.entity(
            id=r.id,
            type_id=r.type_id,
            name=r.name,
            external_id=r.external_id,
            properties={},
            custom_properties={},
            create_time_since_epoch=r.create_time_since_epoch,
            last_update_time_since_epoch=r.last_update_time_since_epoch,
        )
        for attr in self.spec.extra:
            value = getattr(r, attr)
            setattr(
                entity, attr, _ENUMS[attr](value) if attr in _ENUMS and value is not None else value
            )
        return entity

    def _types_of(
        self, conn: Connection, type_ids: set[int]
    ) -> tuple[dict[int, str], dict[int, dict[str, PropertyType]]]:
        """The names and declared properties of the given types, in one query."""
        ty, tp = self.tables.type, self.tables.type_property
        query = (
            select(ty.c.id, ty.c.name, tp.c.name, tp.c.data_type)
            .outerjoin(tp, tp.c.type_id == ty.c.id)
            .where(ty.c.id.in_(sorted(type_ids)))
        )
        names: dict[int, str] = {}
        declared: dict[int, dict[str, PropertyType]] = defaultdict(dict)
        for type_id, type_name, property_name, data_type in conn.execute(query):
            names[type_id] = type_name
            if property_name is not None:
                declared[type_id][property_name] = PropertyType(data_type or 0)
        return names, declared

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
        """One page in the options' order, after the options' page token (keyset, no OFFSET)."""
        if options.order_by not in _ORDER_COLUMNS:
            raise InvalidArgumentError(
                f"order_by must be one of {sorted(_ORDER_COLUMNS)}, not {options.order_by!r}"
            )
        limit = options.limit if options.limit and options.limit > 0 else 20
        limit = min(limit, MAX_PAGE)
        node = self.t.node
        column = node.c[_ORDER_COLUMNS[options.order_by]]
        query = self.select().where(*where)
        if options.filter_query:
            from metadb.store.filter_query import compile_filter

            query = query.where(
                compile_filter(options.filter_query, kind=self.spec.kind, tables=self.tables)
            )
        fingerprint = _fingerprint(options)
        if options.next_page_token:
            value, last_id = _read_token(options.next_page_token, fingerprint)
            if options.is_asc:
                query = query.where(or_(column > value, and_(column == value, node.c.id > last_id)))
            else:
                query = query.where(or_(column < value, and_(column == value, node.c.id < last_id)))
        order = (
            (column.asc(), node.c.id.asc()) if options.is_asc else (column.desc(), node.c.id.desc())
        )
        query = query.order_by(*order).limit(limit + 1)
        items = self.load(conn, query)
        token = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            token = _make_token(getattr(last, _attr(options.order_by)), last.id, fingerprint)
        return Page(items, token)


def _attr(order_by: str) -> str:
    return {"id": "id", "create_time": "create_time_since_epoch",
            "last_update_time": "last_update_time_since_epoch"}[order_by]  # fmt: skip


def _fingerprint(options: ListOptions) -> str:
    basis = f"{options.order_by}|{options.is_asc}|{options.filter_query or ''}"
    return hashlib.sha256(basis.encode()).hexdigest()[:12]


def _make_token(value: int, last_id: int, fingerprint: str) -> str:
    raw = json.dumps([value, last_id, fingerprint], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _read_token(token: str, fingerprint: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, last_id, seen = json.loads(raw)
        if seen != fingerprint:
            raise ValueError("fingerprint")
        return int(value), int(last_id)
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(
            "next_page_token is not valid for this listing: it is damaged, or was made with "
            "another order_by, is_asc or filter_query"
        ) from exc
