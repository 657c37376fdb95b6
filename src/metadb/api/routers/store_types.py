"""Artifact, execution and context types: one set of routes, made once per kind.

================================================  =========================================
``GET  /api/v1/{kind}_types``                     every type of the kind (system types hidden)
``POST /api/v1/{kind}_types``                     put a type (insert, or the stored one's id)
``GET  /api/v1/{kind}_types/{type_id}``           one type
``GET  /api/v1/{kind}_types:by_id?id=..``         several types by id
``GET  /api/v1/{kind}_types:by_external_id?..``   several types by external id
``GET  /api/v1/{kind}_types:by_name?name=..``     the type of a name (and version)
================================================  =========================================

This module does not postpone annotations (no ``from __future__ import annotations``): the
handlers are closures over the kind's models, and FastAPI reads a handler's annotations as
objects when the route is registered; postponed, they would name variables it cannot see.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from metadb.api.deps import StoreDep
from metadb.api.errors import ERROR_RESPONSES
from metadb.errors import NotFoundError
from metadb.store.metadata_store import MetadataStore
from metadb.wire import store as s
from metadb.wire.fields import ID_MAX, Id, Name

TypeIdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="the type's id")]


@dataclass(frozen=True)
class TypeRoutes:
    """What differs between the kinds: names and models."""

    kind: str
    wire: Any
    list_wire: Any
    put_request: Any
    field: str

    @property
    def plural(self) -> str:
        return f"{self.kind}_types"

    def method(self, store: MetadataStore, suffix: str = "") -> Any:
        return getattr(store, f"get_{self.plural}{suffix}")


KINDS = (
    TypeRoutes("artifact", s.ArtifactType, s.ArtifactTypeList, s.PutArtifactTypeRequest,
               "artifact_type"),
    TypeRoutes("execution", s.ExecutionType, s.ExecutionTypeList, s.PutExecutionTypeRequest,
               "execution_type"),
    TypeRoutes("context", s.ContextType, s.ContextTypeList, s.PutContextTypeRequest,
               "context_type"),
)  # fmt: skip


def type_router(k: TypeRoutes) -> APIRouter:
    """The routes of one kind of type."""
    router = APIRouter(prefix="/api/v1", tags=["types"], responses=ERROR_RESPONSES)
    plural, wire, list_wire = k.plural, k.wire, k.list_wire

    def items(types: list[Any]) -> Any:
        return list_wire(items=[wire.from_entity(t) for t in types])

    @router.get(f"/{plural}", response_model=list_wire, operation_id=f"get_{plural}",
                summary=f"Every {k.kind} type")  # fmt: skip
    def get_all(store: StoreDep) -> Any:
        return items(k.method(store)())

    @router.post(f"/{plural}", response_model=s.PutTypeResponse, operation_id=f"put_{k.field}",
                 summary=f"Put a {k.kind} type: insert it, or get the stored one's id")  # fmt: skip
    def put(body: k.put_request, store: StoreDep) -> Any:  # type: ignore[name-defined]
        type_id = getattr(store, f"put_{k.field}")(
            getattr(body, k.field).to_entity(),
            can_add_fields=body.can_add_fields,
            can_omit_fields=body.can_omit_fields,
        )
        return s.PutTypeResponse(type_id=type_id)

    @router.get(f"/{plural}:by_id", response_model=list_wire,
                operation_id=f"get_{plural}_by_id", summary=f"{k.kind} types by id")  # fmt: skip
    def by_ids(store: StoreDep, ids: Annotated[list[Id], Query(alias="id")]) -> Any:
        return items(k.method(store, "_by_id")(ids))

    @router.get(f"/{plural}:by_external_id", response_model=list_wire,
                operation_id=f"get_{plural}_by_external_ids",
                summary=f"{k.kind} types by external id")  # fmt: skip
    def by_external_ids(
        store: StoreDep, external_ids: Annotated[list[Name], Query(alias="external_id")]
    ) -> Any:
        return items(k.method(store, "_by_external_ids")(external_ids))

    @router.get(f"/{plural}:by_name", response_model=wire, operation_id=f"get_{k.field}",
                summary=f"The {k.kind} type of a name and version")  # fmt: skip
    def by_name(
        store: StoreDep,
        name: Annotated[Name, Query()],
        version: Annotated[Name | None, Query()] = None,
    ) -> Any:
        return wire.from_entity(getattr(store, f"get_{k.field}")(name, version))

    @router.get(f"/{plural}/{{type_id}}", response_model=wire,
                operation_id=f"get_{k.field}_by_id", summary=f"One {k.kind} type")  # fmt: skip
    def get_one(store: StoreDep, type_id: TypeIdPath) -> Any:
        found = k.method(store, "_by_id")([type_id])
        if not found:
            raise NotFoundError(f"no {k.kind} type with id {type_id}")
        return wire.from_entity(found[0])

    return router


router = APIRouter()
for _kind in KINDS:
    router.include_router(type_router(_kind))
