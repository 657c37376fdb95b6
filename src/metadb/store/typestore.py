"""Artifact, execution and context types: the Type, TypeProperty and ParentType rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select

from metadb.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from metadb.store.model import (
    SYSTEM_TYPE_NAMES,
    AnyType,
    ArtifactType,
    ContextType,
    ExecutionType,
    PropertyType,
    SystemType,
    TypeKind,
)
from metadb.store.tables import MlmdTables

T = TypeVar("T", ArtifactType, ExecutionType, ContextType)

_CLASSES: dict[TypeKind, type[Any]] = {
    TypeKind.ARTIFACT: ArtifactType,
    TypeKind.EXECUTION: ExecutionType,
    TypeKind.CONTEXT: ContextType,
}
_SYSTEM_IDS = {int(t) for t in SystemType}


class TypeStore:
    def __init__(self, tables: MlmdTables) -> None:
        self.t = tables

    def put(
        self, conn: Connection, new: AnyType, *, can_add_fields: bool, can_omit_fields: bool
    ) -> int:
        """Insert ``new``, or return the id of the stored type with its name and version,
        after checking (and with ``can_add_fields``, extending) its properties.

        No unique key covers a type's name, so this look-up-then-insert is safe only while
        the transaction holds the type's named lock (:func:`metadb.store.session.type_lock`),
        as :class:`~metadb.store.metadata_store.MetadataStore` does.
        """
        if not new.name:
            raise InvalidArgumentError("a type needs a name")
        for name, kind in new.properties.items():
            if PropertyType(kind) == PropertyType.UNKNOWN:
                raise InvalidArgumentError(f"property {name!r} of type {new.name!r} has no type")
        stored = self._find(conn, new.kind, new.name, new.version)
        if stored is None:
            return self._insert(conn, new)
        added = {n: k for n, k in new.properties.items() if n not in stored.properties}
        for name, kind in new.properties.items():
            if name in stored.properties and stored.properties[name] != kind:
                raise AlreadyExistsError(
                    f"type {new.name!r} exists with property {name!r} of type "
                    f"{stored.properties[name].name}, not {PropertyType(kind).name}"
                )
        if added and not can_add_fields:
            raise AlreadyExistsError(
                f"type {new.name!r} exists without properties {sorted(added)}; pass "
                "can_add_fields=True to add them"
            )
        omitted = set(stored.properties) - set(new.properties)
        if omitted and not can_omit_fields:
            raise AlreadyExistsError(
                f"type {new.name!r} exists with properties {sorted(omitted)} that the given type "
                "omits; pass can_omit_fields=True to allow that"
            )
        assert stored.id is not None
        if added:
            conn.execute(
                insert(self.t.type_property),
                [{"type_id": stored.id, "name": n, "data_type": int(k)} for n, k in added.items()],
            )
        return stored.id

    def _insert(self, conn: Connection, new: AnyType) -> int:
        values: dict[str, Any] = {
            "name": new.name,
            "version": new.version,
            "type_kind": int(new.kind),
            "description": new.description,
            "external_id": new.external_id,
        }
        if isinstance(new, ExecutionType):
            values.update(input_type=new.input_type, output_type=new.output_type)
        if new.external_id is not None and self._by_external_id(conn, new.external_id):
            raise AlreadyExistsError(f"a type with external_id {new.external_id!r} exists")
        key = conn.execute(insert(self.t.type).values(values)).inserted_primary_key
        assert key is not None
        type_id = int(key[0])
        if new.properties:
            conn.execute(
                insert(self.t.type_property),
                [
                    {"type_id": type_id, "name": n, "data_type": int(k)}
                    for n, k in new.properties.items()
                ],
            )
        if new.base_type is not None:
            conn.execute(
                insert(self.t.parent_type).values(
                    type_id=type_id, parent_type_id=int(new.base_type)
                )
            )
        return type_id

    def get(self, conn: Connection, kind: TypeKind, name: str, version: str | None) -> AnyType:
        found = self._find(conn, kind, name, version)
        if found is None:
            suffix = f" version {version!r}" if version is not None else ""
            raise NotFoundError(f"no {kind.name.lower()} type named {name!r}{suffix}")
        return found

    def all(self, conn: Connection, kind: TypeKind) -> list[AnyType]:
        query = select(self.t.type).where(
            self.t.type.c.type_kind == int(kind),
            self.t.type.c.name.not_in(list(SYSTEM_TYPE_NAMES.values())),
        )
        return self._load(conn, query.order_by(self.t.type.c.id))

    def by_ids(self, conn: Connection, kind: TypeKind, ids: Sequence[int]) -> list[AnyType]:
        if not ids:
            return []
        c = self.t.type.c
        query = select(self.t.type).where(c.type_kind == int(kind), c.id.in_(list(ids)))
        return self._load(conn, query.order_by(c.id))

    def of_any_kind(self, conn: Connection, ids: Sequence[int]) -> list[AnyType]:
        """Types with the given ids, whatever their kind (three queries in all)."""
        if not ids:
            return []
        c = self.t.type.c
        return self._load(conn, select(self.t.type).where(c.id.in_(list(ids))).order_by(c.id))

    def by_external_ids(
        self, conn: Connection, kind: TypeKind, external_ids: Sequence[str]
    ) -> list[AnyType]:
        if not external_ids:
            return []
        c = self.t.type.c
        query = select(self.t.type).where(
            c.type_kind == int(kind), c.external_id.in_(list(external_ids))
        )
        return self._load(conn, query.order_by(c.id))

    def declared(
        self, conn: Connection, kind: TypeKind, type_ids: Iterable[int]
    ) -> dict[int, dict[str, PropertyType]]:
        """For each existing type id of ``kind``: its declared properties.

        Raises:
            NotFoundError: a type id does not exist or is of another kind.
        """
        wanted = sorted(set(type_ids))
        c = self.t.type.c
        found = {
            int(r.id)
            for r in conn.execute(select(c.id).where(c.id.in_(wanted), c.type_kind == int(kind)))
        }
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFoundError(f"no {kind.name.lower()} type with id {missing[0]}")
        declared: dict[int, dict[str, PropertyType]] = {i: {} for i in wanted}
        tp = self.t.type_property.c
        for row in conn.execute(select(tp.type_id, tp.name, tp.data_type).where(
            tp.type_id.in_(wanted)
        )):  # fmt: skip
            declared[int(row.type_id)][row.name] = PropertyType(row.data_type or 0)
        return declared

    def _find(
        self, conn: Connection, kind: TypeKind, name: str, version: str | None
    ) -> AnyType | None:
        c = self.t.type.c
        query = select(self.t.type).where(c.type_kind == int(kind), c.name == name)
        query = query.where(c.version.is_(None) if version is None else c.version == version)
        found = self._load(conn, query.order_by(c.id).limit(1))
        return found[0] if found else None

    def _by_external_id(self, conn: Connection, external_id: str) -> bool:
        c = self.t.type.c
        return conn.execute(select(c.id).where(c.external_id == external_id)).first() is not None

    def _load(self, conn: Connection, query: Any) -> list[AnyType]:
        rows = conn.execute(query).all()
        if not rows:
            return []
        ids = [int(r.id) for r in rows]
        properties: dict[int, dict[str, PropertyType]] = defaultdict(dict)
        tp = self.t.type_property.c
        for p in conn.execute(select(tp.type_id, tp.name, tp.data_type).where(
            tp.type_id.in_(ids)
        )):  # fmt: skip
            properties[int(p.type_id)][p.name] = PropertyType(p.data_type or 0)
        pt = self.t.parent_type.c
        bases = {
            int(r.type_id): int(r.parent_type_id)
            for r in conn.execute(select(pt.type_id, pt.parent_type_id).where(pt.type_id.in_(ids)))
        }
        result: list[AnyType] = []
        for r in rows:
            cls = _CLASSES[TypeKind(r.type_kind)]
            base = bases.get(int(r.id))
            item = cls(
                name=r.name,
                properties=dict(sorted(properties[int(r.id)].items())),
                version=r.version,
                description=r.description,
                external_id=r.external_id,
                base_type=SystemType(base) if base in _SYSTEM_IDS else None,
                id=int(r.id),
            )
            if isinstance(item, ExecutionType):
                item.input_type, item.output_type = r.input_type, r.output_type
            result.append(item)
        return result
