"""Artifacts, executions and contexts: one set of routes, made once per kind.

=====================================================  ===========================================
``GET  /api/v1/{kinds}``                               one page: filter_query, order_by, is_asc,
                                                       limit, page_token -> items, next_page_token
``POST /api/v1/{kinds}``                               put a batch: nodes with an id are updated
``GET  /api/v1/{kinds}/{id}``                          one node
``PUT  /api/v1/{kinds}/{id}``                          update one node; returns it as stored
``GET  /api/v1/{kinds}:by_id?id=..``                   several nodes by id
``GET  /api/v1/{kinds}:by_external_id?external_id=..``  several nodes by external id
``GET  /api/v1/{kinds}:by_type?type_name=..``          every node of a type (and version)
``GET  /api/v1/{kinds}:by_type_and_name?..``           the node of a type and name
``GET  /api/v1/artifacts:by_uri?uri=..``               artifacts at a uri
=====================================================  ===========================================

Annotations are not postponed here, for the reason given in :mod:`.store_types`.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from metadb.api.deps import StoreDep
from metadb.api.errors import ERROR_RESPONSES
from metadb.errors import InvalidArgumentError, NotFoundError
from metadb.store.metadata_store import MetadataStore
from metadb.wire import store as s
from metadb.wire.fields import ID_MAX, Id, Name, Text


@dataclass(frozen=True)
class NodeRoutes:
    """What differs between the kinds: names and models."""

    kind: str
    wire: Any
    list_wire: Any
    page_wire: Any
    put_request: Any
    put_response: Any

    @property
    def plural(self) -> str:
        return f"{self.kind}s"

    def call(self, store: MetadataStore, name: str) -> Any:
        return getattr(store, name.format(kind=self.kind, kinds=self.plural))


KINDS = (
    NodeRoutes("artifact", s.Artifact, s.ArtifactList, s.ArtifactPage, s.PutArtifactsRequest,
               s.PutArtifactsResponse),
    NodeRoutes("execution", s.Execution, s.ExecutionList, s.ExecutionPage,
               s.PutExecutionsRequest, s.PutExecutionsResponse),
    NodeRoutes("context", s.Context, s.ContextList, s.ContextPage, s.PutContextsRequest,
               s.PutContextsResponse),
)  # fmt: skip

TypeName = Annotated[Name, Query(description="the type's name")]
TypeVersion = Annotated[Name | None, Query(description="the type's version; none if absent")]


def node_router(k: NodeRoutes) -> APIRouter:
    """The routes of one kind of node."""
    router = APIRouter(prefix="/api/v1", tags=[k.plural], responses=ERROR_RESPONSES)
    kind, kinds, wire, list_wire = k.kind, k.plural, k.wire, k.list_wire
    id_path = Annotated[
        int, Path(alias=f"{kind}_id", ge=1, le=ID_MAX, description=f"the {kind}'s id")
    ]

    def items(nodes: list[Any]) -> Any:
        return list_wire(items=[wire.from_entity(n) for n in nodes])

    def one(store: MetadataStore, node_id: int) -> Any:
        found = k.call(store, "get_{kinds}_by_id")([node_id])
        if not found:
            raise NotFoundError(f"no {kind} with id {node_id}")
        return wire.from_entity(found[0])

    @router.get(f"/{kinds}", response_model=k.page_wire, operation_id=f"list_{kinds}",
                summary=f"One page of {kinds}")  # fmt: skip
    def list_page(store: StoreDep, query: Annotated[s.PageQuery, Query()]) -> Any:
        page = k.call(store, "list_{kinds}")(query.to_options())
        return k.page_wire(
            items=[wire.from_entity(n) for n in page.items], next_page_token=page.next_page_token
        )

    @router.post(f"/{kinds}", response_model=k.put_response, operation_id=f"put_{kinds}",
                 summary=f"Put {kinds}: insert those without id, update the others")  # fmt: skip
    def put(body: k.put_request, store: StoreDep) -> Any:  # type: ignore[name-defined]
        nodes = [n.to_entity() for n in getattr(body, kinds)]
        return k.put_response(**{f"{kind}_ids": k.call(store, "put_{kinds}")(nodes)})

    @router.get(f"/{kinds}:by_id", response_model=list_wire, operation_id=f"get_{kinds}_by_id",
                summary=f"{kinds} by id")  # fmt: skip
    def by_ids(store: StoreDep, ids: Annotated[list[Id], Query(alias="id")]) -> Any:
        return items(k.call(store, "get_{kinds}_by_id")(ids))

    @router.get(f"/{kinds}:by_external_id", response_model=list_wire,
                operation_id=f"get_{kinds}_by_external_ids",
                summary=f"{kinds} by external id")  # fmt: skip
    def by_external_ids(
        store: StoreDep, external_ids: Annotated[list[Name], Query(alias="external_id")]
    ) -> Any:
        return items(k.call(store, "get_{kinds}_by_external_ids")(external_ids))

    @router.get(f"/{kinds}:by_type", response_model=list_wire, operation_id=f"get_{kinds}_by_type",
                summary=f"Every {kind} of a type, in order, up to limit")  # fmt: skip
    def by_type(
        store: StoreDep,
        type_name: TypeName,
        query: Annotated[s.OrderQuery, Query()],
        type_version: TypeVersion = None,
    ) -> Any:
        method = k.call(store, "get_{kinds}_by_type")
        return items(method(type_name, type_version, query.to_options()))

    @router.get(f"/{kinds}:by_type_and_name", response_model=wire,
                operation_id=f"get_{kind}_by_type_and_name",
                summary=f"The {kind} of a type and name")  # fmt: skip
    def by_type_and_name(
        store: StoreDep,
        type_name: TypeName,
        name: Annotated[Name, Query(description=f"the {kind}'s name")],
        type_version: TypeVersion = None,
    ) -> Any:
        found = k.call(store, "get_{kind}_by_type_and_name")(type_name, name, type_version)
        if found is None:
            version = f" version {type_version!r}" if type_version is not None else ""
            raise NotFoundError(f"no {kind} named {name!r} of type {type_name!r}{version}")
        return wire.from_entity(found)

    if kind == "artifact":

        @router.get("/artifacts:by_uri", response_model=list_wire,
                    operation_id="get_artifacts_by_uri", summary="Artifacts at a uri")  # fmt: skip
        def by_uri(store: StoreDep, uri: Annotated[Text, Query()]) -> Any:
            return items(store.get_artifacts_by_uri(uri))

    @router.get(f"/{kinds}/{{{kind}_id}}", response_model=wire, operation_id=f"get_{kind}",
                summary=f"One {kind}")  # fmt: skip
    def get_one(store: StoreDep, node_id: id_path) -> Any:
        return one(store, node_id)

    @router.put(f"/{kinds}/{{{kind}_id}}", response_model=wire, operation_id=f"update_{kind}",
                summary=f"Update one {kind} (its properties are replaced)")  # fmt: skip
    def update(node_id: id_path, body: wire, store: StoreDep) -> Any:  # type: ignore[valid-type]
        given: Any = body
        if given.id is not None and given.id != node_id:
            raise InvalidArgumentError(
                f"the body's id {given.id} differs from the path's {kind} id {node_id}"
            )
        one(store, node_id)  # 404 rather than the store's 400 for an unknown id
        node = given.to_entity()
        node.id = node_id
        k.call(store, "put_{kinds}")([node])
        return one(store, node_id)

    return router


router = APIRouter()
for _kind in KINDS:
    router.include_router(node_router(_kind))
