"""The store half of the client: :class:`MetadataStore`'s methods, over the REST API.

Each method has the store's name, signature, return type and errors, so that a program moves
between an embedded store and a server by changing the line that makes ``store``::

    store = metadb.connect("sqlite:///metadb.sqlite")        # embedded
    store = metadb.client.Client("http://metadb:8080")       # remote, same calls

Entities travel as the models of :mod:`metadb.wire.store` (the server's own), so both
sides encode property values the same way. A value the wire cannot carry (an INT beyond 64
bits, a name longer than 255 characters, text with NUL) is an InvalidArgumentError raised
before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from metadb.client._http import HttpTransport, build_request
from metadb.errors import NotFoundError
from metadb.paging import check_limit, check_total, walk_pages
from metadb.store import model as m
from metadb.wire import lineage as lin
from metadb.wire import store as s

T = TypeVar("T")


def _order_params(options: m.ListOptions | None) -> dict[str, Any]:
    if options is None:
        return {}
    return {
        "filter_query": options.filter_query or None,
        "order_by": options.order_by,
        "is_asc": options.is_asc,
        "limit": check_total(options.limit),
    }


class StoreMethods:
    """:class:`~metadb.store.MetadataStore`'s API over HTTP; mixed into ``metadb.client.Client``.

    Each method's docstring names its route and the store method whose semantics it shares;
    every method can also raise the transport's errors (``ServerUnreachableError``,
    ``TokenRejectedError``, ``ServerResponseError``: see :mod:`metadb.client`).
    """

    _http: HttpTransport

    # -- helpers -----------------------------------------------------------------------------

    def _items(self, path: str, wire: Any, params: dict[str, Any] | None = None) -> list[Any]:
        body = self._http.request("GET", f"/api/v1/{path}", params=params)
        return [item.to_entity() for item in wire.model_validate(body).items]

    def _one_or_none(self, path: str, wire: Any, params: dict[str, Any]) -> Any:
        try:
            body = self._http.request("GET", f"/api/v1/{path}", params=params)
        except NotFoundError:
            return None
        return wire.model_validate(body).to_entity()

    def _put_type(self, kind: str, wire: Any, entity: Any, add: bool, omit: bool) -> int:
        body = build_request(lambda: {
            f"{kind}_type": wire.from_entity(entity).model_dump(mode="json"),
            "can_add_fields": add,
            "can_omit_fields": omit,
        })  # fmt: skip
        answer = self._http.request("POST", f"/api/v1/{kind}_types", json=body)
        return int(answer["type_id"])

    def _get_type(self, kind: str, wire: Any, name: str, version: str | None) -> Any:
        params = {"name": name, "version": version}
        body = self._http.request("GET", f"/api/v1/{kind}_types:by_name", params=params)
        return wire.model_validate(body).to_entity()

    def _types_by(self, kind: str, wire: Any, key: str, keys: Sequence[Any]) -> list[Any]:
        if not keys:
            return []
        lookup = "by_id" if key == "id" else "by_external_id"
        return self._items(f"{kind}_types:{lookup}", wire, {key: list(keys)})

    def _put_nodes(self, kind: str, wire: Any, nodes: Sequence[Any]) -> list[int]:
        if not nodes:
            return []
        body = build_request(lambda: {f"{kind}s": [wire.from_entity(n).model_dump(mode="json")
                                            for n in nodes]})  # fmt: skip
        answer = self._http.request("POST", f"/api/v1/{kind}s", json=body)
        return [int(i) for i in answer[f"{kind}_ids"]]

    def _page(self, kind: str, page_wire: Any, options: m.ListOptions) -> m.Page:
        limit = check_limit(options.limit)  # before _order_params: a page's limit, not a total
        params = {**_order_params(options), "limit": limit, "page_token": options.next_page_token}
        body = page_wire.model_validate(
            self._http.request("GET", f"/api/v1/{kind}s", params=params)
        )
        return m.Page([n.to_entity() for n in body.items], body.next_page_token)

    def _all(self, kind: str, page_wire: Any, options: m.ListOptions | None) -> list[Any]:
        options = options or m.ListOptions()
        wanted = check_total(options.limit)

        def fetch(limit: int, token: str | None) -> m.Page:
            step = m.ListOptions(limit, options.order_by, options.is_asc,
                                 options.filter_query, token)  # fmt: skip
            return self._page(kind, page_wire, step)

        return walk_pages(fetch, limit=wanted, page_token=options.next_page_token)

    def _by_ids(self, kind: str, wire: Any, key: str, keys: Sequence[Any]) -> list[Any]:
        if not keys:
            return []
        lookup = "by_id" if key == "id" else "by_external_id"
        return self._items(f"{kind}s:{lookup}", wire, {key: list(keys)})

    def _by_type(
        self, kind: str, wire: Any, name: str, version: str | None,
        options: m.ListOptions | None,
    ) -> list[Any]:  # fmt: skip
        params = {"type_name": name, "type_version": version, **_order_params(options)}
        return self._items(f"{kind}s:by_type", wire, params)

    def _by_type_and_name(
        self, kind: str, wire: Any, type_name: str, name: str, version: str | None
    ) -> Any:
        params = {"type_name": type_name, "name": name, "type_version": version}
        return self._one_or_none(f"{kind}s:by_type_and_name", wire, params)

    # -- types -------------------------------------------------------------------------------

    def put_artifact_type(
        self, artifact_type: m.ArtifactType, *, can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> int:  # fmt: skip
        """Insert the artifact type, or return the id of the stored one
        (``POST /api/v1/artifact_types``); see :meth:`MetadataStore.put_artifact_type`.

        Raises:
            AlreadyExistsError: the stored type's properties differ (see can_add_fields,
                can_omit_fields), or the external_id is taken.
        """
        return self._put_type("artifact", s.ArtifactType, artifact_type, can_add_fields,
                              can_omit_fields)  # fmt: skip

    def put_execution_type(
        self, execution_type: m.ExecutionType, *, can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> int:  # fmt: skip
        """Insert the execution type, or return the id of the stored one
        (``POST /api/v1/execution_types``); see :meth:`MetadataStore.put_execution_type`.

        Raises:
            AlreadyExistsError: the stored type's properties differ (see can_add_fields,
                can_omit_fields), or the external_id is taken.
        """
        return self._put_type("execution", s.ExecutionType, execution_type, can_add_fields,
                              can_omit_fields)  # fmt: skip

    def put_context_type(
        self, context_type: m.ContextType, *, can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> int:  # fmt: skip
        """Insert the context type, or return the id of the stored one
        (``POST /api/v1/context_types``); see :meth:`MetadataStore.put_context_type`.

        Raises:
            AlreadyExistsError: the stored type's properties differ (see can_add_fields,
                can_omit_fields), or the external_id is taken.
        """
        return self._put_type("context", s.ContextType, context_type, can_add_fields,
                              can_omit_fields)  # fmt: skip

    def get_artifact_type(self, type_name: str, type_version: str | None = None) -> m.ArtifactType:
        """The artifact type of this name and version (``GET /api/v1/artifact_types:by_name``); see
        :meth:`MetadataStore.get_artifact_type`.

        Raises:
            NotFoundError: there is no such type.
        """
        return self._get_type("artifact", s.ArtifactType, type_name, type_version)  # type: ignore[no-any-return]

    def get_execution_type(
        self, type_name: str, type_version: str | None = None
    ) -> m.ExecutionType:
        """The execution type of this name and version (``GET /api/v1/execution_types:by_name``);
        see :meth:`MetadataStore.get_execution_type`.

        Raises:
            NotFoundError: there is no such type.
        """
        return self._get_type("execution", s.ExecutionType, type_name, type_version)  # type: ignore[no-any-return]

    def get_context_type(self, type_name: str, type_version: str | None = None) -> m.ContextType:
        """The context type of this name and version (``GET /api/v1/context_types:by_name``); see
        :meth:`MetadataStore.get_context_type`.

        Raises:
            NotFoundError: there is no such type.
        """
        return self._get_type("context", s.ContextType, type_name, type_version)  # type: ignore[no-any-return]

    def get_artifact_types(self) -> list[m.ArtifactType]:
        """Every artifact type (``GET /api/v1/artifact_types``); see
        :meth:`MetadataStore.get_artifact_types`.
        """
        return self._items("artifact_types", s.ArtifactTypeList)

    def get_execution_types(self) -> list[m.ExecutionType]:
        """Every execution type (``GET /api/v1/execution_types``); see
        :meth:`MetadataStore.get_execution_types`.
        """
        return self._items("execution_types", s.ExecutionTypeList)

    def get_context_types(self) -> list[m.ContextType]:
        """Every context type (``GET /api/v1/context_types``); see
        :meth:`MetadataStore.get_context_types`.
        """
        return self._items("context_types", s.ContextTypeList)

    def get_artifact_types_by_id(self, type_ids: Sequence[int]) -> list[m.ArtifactType]:
        """The artifact types with these ids, unknown ones skipped
        (``GET /api/v1/artifact_types:by_id``); see :meth:`MetadataStore.get_artifact_types_by_id`.
        """
        return self._types_by("artifact", s.ArtifactTypeList, "id", type_ids)

    def get_execution_types_by_id(self, type_ids: Sequence[int]) -> list[m.ExecutionType]:
        """The execution types with these ids, unknown ones skipped
        (``GET /api/v1/execution_types:by_id``); see
        :meth:`MetadataStore.get_execution_types_by_id`.
        """
        return self._types_by("execution", s.ExecutionTypeList, "id", type_ids)

    def get_context_types_by_id(self, type_ids: Sequence[int]) -> list[m.ContextType]:
        """The context types with these ids, unknown ones skipped
        (``GET /api/v1/context_types:by_id``); see :meth:`MetadataStore.get_context_types_by_id`.
        """
        return self._types_by("context", s.ContextTypeList, "id", type_ids)

    def get_artifact_types_by_external_ids(
        self, external_ids: Sequence[str]
    ) -> list[m.ArtifactType]:
        """The artifact types with these external ids, unknown ones skipped
        (``GET /api/v1/artifact_types:by_external_id``); see
        :meth:`MetadataStore.get_artifact_types_by_external_ids`.
        """
        return self._types_by("artifact", s.ArtifactTypeList, "external_id", external_ids)

    def get_execution_types_by_external_ids(
        self, external_ids: Sequence[str]
    ) -> list[m.ExecutionType]:
        """The execution types with these external ids, unknown ones skipped
        (``GET /api/v1/execution_types:by_external_id``); see
        :meth:`MetadataStore.get_execution_types_by_external_ids`.
        """
        return self._types_by("execution", s.ExecutionTypeList, "external_id", external_ids)

    def get_context_types_by_external_ids(self, external_ids: Sequence[str]) -> list[m.ContextType]:
        """The context types with these external ids, unknown ones skipped
        (``GET /api/v1/context_types:by_external_id``); see
        :meth:`MetadataStore.get_context_types_by_external_ids`.
        """
        return self._types_by("context", s.ContextTypeList, "external_id", external_ids)

    # -- nodes -------------------------------------------------------------------------------

    def put_artifacts(self, artifacts: Sequence[m.Artifact]) -> list[int]:
        """Insert artifacts without id, update those with one; their ids
        (``POST /api/v1/artifacts``); see :meth:`MetadataStore.put_artifacts`.

        Raises:
            InvalidArgumentError: a value the wire cannot carry (before sending), an undeclared
                property, a value of the wrong type, an unknown id.
            NotFoundError: a type_id is not a type of this kind.
            AlreadyExistsError: (type, name) or external_id is taken.
        """
        return self._put_nodes("artifact", s.Artifact, artifacts)

    def put_executions(self, executions: Sequence[m.Execution]) -> list[int]:
        """Insert executions without id, update those with one; their ids
        (``POST /api/v1/executions``); see :meth:`MetadataStore.put_executions`.

        Raises:
            InvalidArgumentError: a value the wire cannot carry (before sending), an undeclared
                property, a value of the wrong type, an unknown id.
            NotFoundError: a type_id is not a type of this kind.
            AlreadyExistsError: (type, name) or external_id is taken.
        """
        return self._put_nodes("execution", s.Execution, executions)

    def put_contexts(self, contexts: Sequence[m.Context]) -> list[int]:
        """Insert contexts without id, update those with one; their ids (``POST /api/v1/contexts``);
        see :meth:`MetadataStore.put_contexts`.

        Raises:
            InvalidArgumentError: a value the wire cannot carry (before sending), an undeclared
                property, a value of the wrong type, an unknown id.
            NotFoundError: a type_id is not a type of this kind.
            AlreadyExistsError: (type, name) or external_id is taken.
        """
        return self._put_nodes("context", s.Context, contexts)

    def get_artifacts(self, list_options: m.ListOptions | None = None) -> list[m.Artifact]:
        """Artifacts in the options' order and filter, fetched page by page
        (``GET /api/v1/artifacts``); see :meth:`MetadataStore.get_artifacts`.
        """
        return self._all("artifact", s.ArtifactPage, list_options)

    def get_executions(self, list_options: m.ListOptions | None = None) -> list[m.Execution]:
        """Executions in the options' order and filter, fetched page by page
        (``GET /api/v1/executions``); see :meth:`MetadataStore.get_executions`.
        """
        return self._all("execution", s.ExecutionPage, list_options)

    def get_contexts(self, list_options: m.ListOptions | None = None) -> list[m.Context]:
        """Contexts in the options' order and filter, fetched page by page
        (``GET /api/v1/contexts``); see :meth:`MetadataStore.get_contexts`.
        """
        return self._all("context", s.ContextPage, list_options)

    def list_artifacts(self, list_options: m.ListOptions) -> m.Page:
        """One page of artifacts and the token of the next (``GET /api/v1/artifacts``); see
        :meth:`MetadataStore.list_artifacts`.
        """
        return self._page("artifact", s.ArtifactPage, list_options)

    def list_executions(self, list_options: m.ListOptions) -> m.Page:
        """One page of executions and the token of the next (``GET /api/v1/executions``); see
        :meth:`MetadataStore.list_executions`.
        """
        return self._page("execution", s.ExecutionPage, list_options)

    def list_contexts(self, list_options: m.ListOptions) -> m.Page:
        """One page of contexts and the token of the next (``GET /api/v1/contexts``); see
        :meth:`MetadataStore.list_contexts`.
        """
        return self._page("context", s.ContextPage, list_options)

    def get_artifacts_by_id(self, artifact_ids: Sequence[int]) -> list[m.Artifact]:
        """The artifacts with these ids, unknown ones skipped (``GET /api/v1/artifacts:by_id``); see
        :meth:`MetadataStore.get_artifacts_by_id`.
        """
        return self._by_ids("artifact", s.ArtifactList, "id", artifact_ids)

    def get_executions_by_id(self, execution_ids: Sequence[int]) -> list[m.Execution]:
        """The executions with these ids, unknown ones skipped (``GET /api/v1/executions:by_id``);
        see :meth:`MetadataStore.get_executions_by_id`.
        """
        return self._by_ids("execution", s.ExecutionList, "id", execution_ids)

    def get_contexts_by_id(self, context_ids: Sequence[int]) -> list[m.Context]:
        """The contexts with these ids, unknown ones skipped (``GET /api/v1/contexts:by_id``); see
        :meth:`MetadataStore.get_contexts_by_id`.
        """
        return self._by_ids("context", s.ContextList, "id", context_ids)

    def get_artifacts_by_type(
        self, type_name: str, type_version: str | None = None,
        list_options: m.ListOptions | None = None,
    ) -> list[m.Artifact]:  # fmt: skip
        """The artifacts of the named type (``GET /api/v1/artifacts:by_type``); see
        :meth:`MetadataStore.get_artifacts_by_type`.
        """
        return self._by_type("artifact", s.ArtifactList, type_name, type_version, list_options)

    def get_executions_by_type(
        self, type_name: str, type_version: str | None = None,
        list_options: m.ListOptions | None = None,
    ) -> list[m.Execution]:  # fmt: skip
        """The executions of the named type (``GET /api/v1/executions:by_type``); see
        :meth:`MetadataStore.get_executions_by_type`.
        """
        return self._by_type("execution", s.ExecutionList, type_name, type_version, list_options)

    def get_contexts_by_type(
        self, type_name: str, type_version: str | None = None,
        list_options: m.ListOptions | None = None,
    ) -> list[m.Context]:  # fmt: skip
        """The contexts of the named type (``GET /api/v1/contexts:by_type``); see
        :meth:`MetadataStore.get_contexts_by_type`.
        """
        return self._by_type("context", s.ContextList, type_name, type_version, list_options)

    def get_artifact_by_type_and_name(
        self, type_name: str, artifact_name: str, type_version: str | None = None
    ) -> m.Artifact | None:
        """The artifact of this type and name, or None (``GET /api/v1/artifacts:by_type_and_name``);
        see :meth:`MetadataStore.get_artifact_by_type_and_name`.
        """
        return self._by_type_and_name(  # type: ignore[no-any-return]
            "artifact", s.Artifact, type_name, artifact_name, type_version
        )

    def get_execution_by_type_and_name(
        self, type_name: str, execution_name: str, type_version: str | None = None
    ) -> m.Execution | None:
        """The execution of this type and name, or None
        (``GET /api/v1/executions:by_type_and_name``); see
        :meth:`MetadataStore.get_execution_by_type_and_name`.
        """
        return self._by_type_and_name(  # type: ignore[no-any-return]
            "execution", s.Execution, type_name, execution_name, type_version
        )

    def get_context_by_type_and_name(
        self, type_name: str, context_name: str, type_version: str | None = None
    ) -> m.Context | None:
        """The context of this type and name, or None (``GET /api/v1/contexts:by_type_and_name``);
        see :meth:`MetadataStore.get_context_by_type_and_name`.
        """
        return self._by_type_and_name(  # type: ignore[no-any-return]
            "context", s.Context, type_name, context_name, type_version
        )

    def get_artifacts_by_uri(self, uri: str) -> list[m.Artifact]:
        """The artifacts with exactly this uri (``GET /api/v1/artifacts:by_uri``); see
        :meth:`MetadataStore.get_artifacts_by_uri`.
        """
        return self._items("artifacts:by_uri", s.ArtifactList, {"uri": uri})

    def get_artifacts_by_external_ids(self, external_ids: Sequence[str]) -> list[m.Artifact]:
        """The artifacts with these external ids, unknown ones skipped
        (``GET /api/v1/artifacts:by_external_id``); see
        :meth:`MetadataStore.get_artifacts_by_external_ids`.
        """
        return self._by_ids("artifact", s.ArtifactList, "external_id", external_ids)

    def get_executions_by_external_ids(self, external_ids: Sequence[str]) -> list[m.Execution]:
        """The executions with these external ids, unknown ones skipped
        (``GET /api/v1/executions:by_external_id``); see
        :meth:`MetadataStore.get_executions_by_external_ids`.
        """
        return self._by_ids("execution", s.ExecutionList, "external_id", external_ids)

    def get_contexts_by_external_ids(self, external_ids: Sequence[str]) -> list[m.Context]:
        """The contexts with these external ids, unknown ones skipped
        (``GET /api/v1/contexts:by_external_id``); see
        :meth:`MetadataStore.get_contexts_by_external_ids`.
        """
        return self._by_ids("context", s.ContextList, "external_id", external_ids)

    def get_artifacts_by_context(
        self, context_id: int, list_options: m.ListOptions | None = None
    ) -> list[m.Artifact]:
        """The artifacts attributed to the context (``GET /api/v1/contexts/{id}/artifacts``); see
        :meth:`MetadataStore.get_artifacts_by_context`.
        """
        path = f"contexts/{int(context_id)}/artifacts"
        return self._items(path, s.ArtifactList, _order_params(list_options))

    def get_executions_by_context(
        self, context_id: int, list_options: m.ListOptions | None = None
    ) -> list[m.Execution]:
        """The executions associated with the context (``GET /api/v1/contexts/{id}/executions``);
        see :meth:`MetadataStore.get_executions_by_context`.
        """
        path = f"contexts/{int(context_id)}/executions"
        return self._items(path, s.ExecutionList, _order_params(list_options))

    def get_contexts_by_artifact(self, artifact_id: int) -> list[m.Context]:
        """The contexts the artifact is attributed to (``GET /api/v1/artifacts/{id}/contexts``); see
        :meth:`MetadataStore.get_contexts_by_artifact`.
        """
        return self._items(f"artifacts/{int(artifact_id)}/contexts", s.ContextList)

    def get_contexts_by_execution(self, execution_id: int) -> list[m.Context]:
        """The contexts the execution is associated with (``GET /api/v1/executions/{id}/contexts``);
        see :meth:`MetadataStore.get_contexts_by_execution`.
        """
        return self._items(f"executions/{int(execution_id)}/contexts", s.ContextList)

    # -- events and links --------------------------------------------------------------------

    def put_events(self, events: Sequence[m.Event]) -> None:
        """Insert events (``POST /api/v1/events``); see :meth:`MetadataStore.put_events`.

        Raises:
            InvalidArgumentError: a missing artifact or execution.
            AlreadyExistsError: the event exists.
        """
        if events:
            body = build_request(
                lambda: s.PutEventsRequest(events=[s.Event.from_entity(e) for e in events])
            )
            self._http.request("POST", "/api/v1/events", json=body.model_dump(mode="json"))

    def get_events_by_execution_ids(self, execution_ids: Sequence[int]) -> list[m.Event]:
        """The events of these executions (``GET /api/v1/events``); see
        :meth:`MetadataStore.get_events_by_execution_ids`.
        """
        if not execution_ids:
            return []
        return self._items("events", s.EventList, {"execution_id": list(execution_ids)})

    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int]) -> list[m.Event]:
        """The events of these artifacts (``GET /api/v1/events``); see
        :meth:`MetadataStore.get_events_by_artifact_ids`.
        """
        if not artifact_ids:
            return []
        return self._items("events", s.EventList, {"artifact_id": list(artifact_ids)})

    def put_attributions_and_associations(
        self, attributions: Sequence[m.Attribution], associations: Sequence[m.Association]
    ) -> None:
        """Link artifacts and executions to contexts
        (``POST /api/v1/attributions_and_associations``); see
        :meth:`MetadataStore.put_attributions_and_associations`.
        """
        if not attributions and not associations:
            return
        body = build_request(lambda: s.PutAttributionsAndAssociationsRequest(
            attributions=[s.Attribution(context_id=a.context_id, artifact_id=a.artifact_id)
                          for a in attributions],
            associations=[s.Association(context_id=a.context_id, execution_id=a.execution_id)
                          for a in associations],
        ))  # fmt: skip
        self._http.request(
            "POST", "/api/v1/attributions_and_associations", json=body.model_dump(mode="json")
        )

    def put_parent_contexts(self, parent_contexts: Sequence[m.ParentContext]) -> None:
        """Make contexts parents of others (``POST /api/v1/parent_contexts``); see
        :meth:`MetadataStore.put_parent_contexts`.

        Raises:
            InvalidArgumentError: an unknown context or a cycle.
            AlreadyExistsError: the link exists.
        """
        if not parent_contexts:
            return
        body = build_request(lambda: s.PutParentContextsRequest(parent_contexts=[
            s.ParentContext(child_id=p.child_id, parent_id=p.parent_id) for p in parent_contexts
        ]))  # fmt: skip
        self._http.request("POST", "/api/v1/parent_contexts", json=body.model_dump(mode="json"))

    def get_parent_contexts_by_context(self, context_id: int) -> list[m.Context]:
        """The context's parents (``GET /api/v1/contexts/{id}/parents``); see
        :meth:`MetadataStore.get_parent_contexts_by_context`.
        """
        return self._items(f"contexts/{int(context_id)}/parents", s.ContextList)

    def get_children_contexts_by_context(self, context_id: int) -> list[m.Context]:
        """The context's children (``GET /api/v1/contexts/{id}/children``); see
        :meth:`MetadataStore.get_children_contexts_by_context`.
        """
        return self._items(f"contexts/{int(context_id)}/children", s.ContextList)

    # -- lineage -----------------------------------------------------------------------------

    def get_lineage_subgraph(
        self,
        query_options: m.LineageSubgraphQueryOptions,
        field_mask_paths: Sequence[str] | None = None,
    ) -> m.LineageGraph:
        """The lineage reachable from the starting nodes (``POST /api/v1/lineage:query``); see
        :meth:`MetadataStore.get_lineage_subgraph`.

        Raises:
            InvalidArgumentError: no or two kinds of starting nodes, a bad filter_query.
        """
        paths = list(field_mask_paths) if field_mask_paths is not None else None
        body = build_request(lambda: lin.LineageQuery.from_options(query_options, paths))
        answer = self._http.request(
            "POST", "/api/v1/lineage:query", json=body.model_dump(mode="json")
        )
        return lin.LineageGraph.model_validate(answer).to_entity()

    def put_execution(
        self,
        execution: m.Execution,
        artifact_and_events: Sequence[tuple[m.Artifact, m.Event | None]],
        contexts: Sequence[m.Context],
        *,
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[int, list[int], list[int]]:
        """Put an execution with its artifacts, events and contexts in one transaction
        (``POST /api/v1/lineage:put_execution``); see :meth:`MetadataStore.put_execution`.
        """
        body = build_request(lambda: lin.PutExecutionRequest(
            execution=s.Execution.from_entity(execution),
            artifact_and_events=[
                lin.ArtifactAndEvent(artifact=s.Artifact.from_entity(a),
                                   event=s.Event.from_entity(e) if e is not None else None)
                for a, e in artifact_and_events
            ],
            contexts=[s.Context.from_entity(c) for c in contexts],
            reuse_context_if_already_exist=reuse_context_if_already_exist,
            reuse_artifact_if_already_exist_by_external_id=(
                reuse_artifact_if_already_exist_by_external_id
            ),
        ))  # fmt: skip
        answer = self._http.request(
            "POST", "/api/v1/lineage:put_execution", json=body.model_dump(mode="json")
        )
        ids = lin.PutExecutionResponse.model_validate(answer)
        return ids.execution_id, ids.artifact_ids, ids.context_ids

    def put_lineage_subgraph(
        self,
        executions: Sequence[m.Execution],
        artifacts: Sequence[m.Artifact],
        contexts: Sequence[m.Context],
        event_edges: Sequence[tuple[int | None, int | None, m.Event]],
        *,
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """Put executions, artifacts, contexts and the events between them in one transaction
        (``POST /api/v1/lineage:put_subgraph``); see :meth:`MetadataStore.put_lineage_subgraph`.
        """
        body = build_request(lambda: lin.PutLineageSubgraphRequest(
            executions=[s.Execution.from_entity(e) for e in executions],
            artifacts=[s.Artifact.from_entity(a) for a in artifacts],
            contexts=[s.Context.from_entity(c) for c in contexts],
            event_edges=[
                lin.EventEdge(execution_index=ei, artifact_index=ai, event=s.Event.from_entity(e))
                for ei, ai, e in event_edges
            ],
            reuse_context_if_already_exist=reuse_context_if_already_exist,
            reuse_artifact_if_already_exist_by_external_id=(
                reuse_artifact_if_already_exist_by_external_id
            ),
        ))  # fmt: skip
        answer = self._http.request(
            "POST", "/api/v1/lineage:put_subgraph", json=body.model_dump(mode="json")
        )
        ids = lin.PutLineageSubgraphResponse.model_validate(answer)
        return ids.execution_ids, ids.artifact_ids, ids.context_ids
