"""``MetadataStore``: ml-metadata's API, method for method, over metadb's database layer.

Porting code from ml-metadata means changing imports and the constructor::

    import metadb
    from metadb.store import Artifact, ArtifactType, PropertyType

    store = metadb.connect("sqlite:///metadb.sqlite")
    dataset = ArtifactType(name="Dataset", properties={"day": PropertyType.INT})
    type_id = store.put_artifact_type(dataset)
    [artifact_id] = store.put_artifacts([Artifact(type_id=type_id, properties={"day": 1})])

Every call is one transaction. Errors are ml-metadata's: NotFoundError, AlreadyExistsError,
InvalidArgumentError, FailedPreconditionError (all in :mod:`metadb.errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from metadb.db.database import Database
from metadb.errors import InvalidArgumentError
from metadb.paging import check_total, walk_pages
from metadb.store.limits import TextRules, check_int64
from metadb.store.lineage import LineageWalker
from metadb.store.links import LinkStore
from metadb.store.model import (
    AnyType,
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    Execution,
    ExecutionType,
    LineageGraph,
    LineageSubgraphQueryOptions,
    ListOptions,
    Page,
    ParentContext,
    TypeKind,
)
from metadb.store.nodes import NodeStore
from metadb.store.session import PARENT_CONTEXTS_LOCK, LostRace, StoreSession, type_lock
from metadb.store.tables import mlmd_tables
from metadb.store.typestore import TypeStore
from metadb.store.values import ValueCodec

_GRAPH_FIELDS = frozenset(
    {"artifacts", "executions", "contexts", "events", "artifact_types", "execution_types",
     "context_types"}
)  # fmt: skip


class MetadataStore:
    """The metadata store on one database. Construct with :func:`metadb.connect`.

    ``mysql_text`` is the text mode on MySQL/MariaDB (see :func:`metadb.connect`); None takes
    the URL's ``mlmd_text`` parameter, else "utf8mb4". ``statement_timeout``: seconds each
    statement may run (0: no limit); None takes the URL's, else 30.
    """

    def __init__(
        self,
        db: Database,
        *,
        mysql_text: str | None = None,
        statement_timeout: float | None = None,
    ) -> None:
        self._db = db
        self._session = StoreSession(db, statement_timeout=statement_timeout)
        self._tables = mlmd_tables(db.url.dialect, db.url.text_mode(mysql_text))
        codec = ValueCodec(
            db.dialect.mlmd_proto_storage,
            int_bits=db.dialect.mlmd_int_bits,
            text=TextRules.of(db.dialect),
        )
        self._codec = codec
        self._types = TypeStore(self._tables)
        self._nodes = {
            kind: NodeStore(kind, self._tables, self._types, codec)
            for kind in ("artifact", "execution", "context")
        }
        self._links = LinkStore(self._tables, db.dialect)
        self._lineage = LineageWalker(self._tables)

    @property
    def database(self) -> Database:
        """The :class:`~metadb.db.Database` the store works on (its URL, dialect, engine)."""
        return self._db

    def close(self) -> None:
        """Release the connection pool."""
        self._db.dispose()

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- types -------------------------------------------------------------------------------

    def put_artifact_type(
        self, artifact_type: ArtifactType, *, can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> int:  # fmt: skip
        """Insert the type, or return the id of the stored one with its name and version.

        Raises:
            AlreadyExistsError: the stored type's properties differ (see can_add_fields,
                can_omit_fields), or the external_id is taken.
        """
        return self._put_type(artifact_type, can_add_fields, can_omit_fields)

    def put_execution_type(
        self, execution_type: ExecutionType, *, can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> int:  # fmt: skip
        """Insert the type, or return the id of the stored one with its name and version, as
        :meth:`put_artifact_type` does for artifact types.

        Raises:
            AlreadyExistsError: the stored type's properties differ (see can_add_fields,
                can_omit_fields), or the external_id is taken.
            InvalidArgumentError: the type has no name, or a property has no type.
        """
        return self._put_type(execution_type, can_add_fields, can_omit_fields)

    def put_context_type(
        self, context_type: ContextType, *, can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> int:  # fmt: skip
        """Insert the type, or return the id of the stored one with its name and version, as
        :meth:`put_artifact_type` does for artifact types.

        Raises:
            AlreadyExistsError: the stored type's properties differ (see can_add_fields,
                can_omit_fields), or the external_id is taken.
            InvalidArgumentError: the type has no name, or a property has no type.
        """
        return self._put_type(context_type, can_add_fields, can_omit_fields)

    def get_artifact_type(self, type_name: str, type_version: str | None = None) -> ArtifactType:
        """Raises NotFoundError when there is no such type."""
        return self._get_type(TypeKind.ARTIFACT, type_name, type_version)  # type: ignore[return-value]

    def get_execution_type(self, type_name: str, type_version: str | None = None) -> ExecutionType:
        """The execution type named ``type_name``; ``type_version`` None is the version-less one.

        Raises:
            NotFoundError: there is no such type.
        """
        return self._get_type(TypeKind.EXECUTION, type_name, type_version)  # type: ignore[return-value]

    def get_context_type(self, type_name: str, type_version: str | None = None) -> ContextType:
        """The context type named ``type_name``; ``type_version`` None is the version-less one.

        Raises:
            NotFoundError: there is no such type.
        """
        return self._get_type(TypeKind.CONTEXT, type_name, type_version)  # type: ignore[return-value]

    def get_artifact_types(self) -> list[ArtifactType]:
        """Every artifact type by id, without ml-metadata's built-in system types."""
        return self._all_types(TypeKind.ARTIFACT)

    def get_execution_types(self) -> list[ExecutionType]:
        """Every execution type by id, without ml-metadata's built-in system types."""
        return self._all_types(TypeKind.EXECUTION)

    def get_context_types(self) -> list[ContextType]:
        """Every context type by id, without ml-metadata's built-in system types."""
        return self._all_types(TypeKind.CONTEXT)

    def get_artifact_types_by_id(self, type_ids: Sequence[int]) -> list[ArtifactType]:
        """The artifact types with these ids, by id; unknown ids (and ids of other kinds of type)
        are skipped, as in ml-metadata.
        """
        return self._types_by(TypeKind.ARTIFACT, "id", type_ids)

    def get_execution_types_by_id(self, type_ids: Sequence[int]) -> list[ExecutionType]:
        """The execution types with these ids, by id; unknown ids (and ids of other kinds of type)
        are skipped, as in ml-metadata.
        """
        return self._types_by(TypeKind.EXECUTION, "id", type_ids)

    def get_context_types_by_id(self, type_ids: Sequence[int]) -> list[ContextType]:
        """The context types with these ids, by id; unknown ids (and ids of other kinds of type)
        are skipped, as in ml-metadata.
        """
        return self._types_by(TypeKind.CONTEXT, "id", type_ids)

    def get_artifact_types_by_external_ids(self, external_ids: Sequence[str]) -> list[ArtifactType]:
        """The artifact types with these external ids, by id; unknown ones are skipped."""
        return self._types_by(TypeKind.ARTIFACT, "external_id", external_ids)

    def get_execution_types_by_external_ids(
        self, external_ids: Sequence[str]
    ) -> list[ExecutionType]:
        """The execution types with these external ids, by id; unknown ones are skipped."""
        return self._types_by(TypeKind.EXECUTION, "external_id", external_ids)

    def get_context_types_by_external_ids(self, external_ids: Sequence[str]) -> list[ContextType]:
        """The context types with these external ids, by id; unknown ones are skipped."""
        return self._types_by(TypeKind.CONTEXT, "external_id", external_ids)

    def _put_type(self, new: AnyType, can_add_fields: bool, can_omit_fields: bool) -> int:
        self._codec.check_type(new)
        # No unique key covers a type's name: writers of one name take turns on its lock.
        return self._session.run(
            lambda conn: self._types.put(
                conn, new, can_add_fields=can_add_fields, can_omit_fields=can_omit_fields
            ),
            locks=[type_lock(int(new.kind), new.name)],
            doing=f"put_{new.kind.name.lower()}_type({new.name!r})",
        )

    def _get_type(self, kind: TypeKind, name: str, version: str | None) -> AnyType:
        with self._session.read() as conn:
            return self._types.get(conn, kind, name, version)

    def _all_types(self, kind: TypeKind) -> list[Any]:
        with self._session.read() as conn:
            return self._types.all(conn, kind)

    def _types_by(self, kind: TypeKind, field: str, keys: Sequence[Any]) -> list[Any]:
        for key in keys:
            check_int64(f"type {field}", key)
        with self._session.read() as conn:
            if field == "id":
                return self._types.by_ids(conn, kind, keys)
            return self._types.by_external_ids(conn, kind, keys)

    # -- nodes -------------------------------------------------------------------------------

    def put_artifacts(self, artifacts: Sequence[Artifact]) -> list[int]:
        """Insert artifacts without id; update (replacing properties) those with one.

        Raises:
            NotFoundError: a type_id is not an artifact type.
            InvalidArgumentError: an undeclared property, a value of the wrong type, an
                unknown id.
            AlreadyExistsError: (type, name) or external_id is taken.
        """
        return self._put("artifact", artifacts)

    def put_executions(self, executions: Sequence[Execution]) -> list[int]:
        """Insert executions without id; update (replacing properties) those with one, as
        :meth:`put_artifacts` does. Returns the ids in the order given.

        Raises:
            NotFoundError: a type_id is not an execution type.
            InvalidArgumentError: an undeclared property, a value of the wrong type, an
                unknown id.
            AlreadyExistsError: (type, name) or external_id is taken.
        """
        return self._put("execution", executions)

    def put_contexts(self, contexts: Sequence[Context]) -> list[int]:
        """Insert contexts without id; update (replacing properties) those with one. A context
        needs a name, unique within its type (ml-metadata's rule). Returns the ids in order.

        Raises:
            NotFoundError: a type_id is not a context type.
            InvalidArgumentError: no name, an undeclared property, a value of the wrong type,
                an unknown id.
            AlreadyExistsError: (type, name) or external_id is taken.
        """
        return self._put("context", contexts)

    def _put(self, kind: str, nodes: Sequence[Any]) -> list[int]:
        if not nodes:
            return []
        return self._session.run(
            lambda conn: self._nodes[kind].put(conn, nodes), doing=f"put_{kind}s"
        )

    def get_artifacts(self, list_options: ListOptions | None = None) -> list[Artifact]:
        """Artifacts in the options' order, filtered by its filter_query; at most its limit
        (all of them without options)."""
        return self._list_all("artifact", list_options)

    def get_executions(self, list_options: ListOptions | None = None) -> list[Execution]:
        """Executions in the options' order, filtered by its filter_query; at most its
        limit (all of them without options).

        Raises:
            InvalidArgumentError: a bad filter_query, order_by or page token.
        """
        return self._list_all("execution", list_options)

    def get_contexts(self, list_options: ListOptions | None = None) -> list[Context]:
        """Contexts in the options' order, filtered by its filter_query; at most its
        limit (all of them without options).

        Raises:
            InvalidArgumentError: a bad filter_query, order_by or page token.
        """
        return self._list_all("context", list_options)

    def list_artifacts(self, list_options: ListOptions) -> Page:
        """One page and the token of the next: for servers and UIs that page."""
        return self._page("artifact", list_options)

    def list_executions(self, list_options: ListOptions) -> Page:
        """One page of executions and the token of the next (None on the last page): for servers
        and UIs that page.

        Raises:
            InvalidArgumentError: a bad filter_query, order_by or page token.
        """
        return self._page("execution", list_options)

    def list_contexts(self, list_options: ListOptions) -> Page:
        """One page of contexts and the token of the next (None on the last page): for servers
        and UIs that page.

        Raises:
            InvalidArgumentError: a bad filter_query, order_by or page token.
        """
        return self._page("context", list_options)

    def get_artifacts_by_id(self, artifact_ids: Sequence[int]) -> list[Artifact]:
        """The artifacts with these ids, by id; unknown ids are skipped, as in ml-metadata.

        Example::

            [first] = store.get_artifacts_by_id([artifact_id])
        """
        return self._by_ids("artifact", artifact_ids)

    def get_executions_by_id(self, execution_ids: Sequence[int]) -> list[Execution]:
        """The executions with these ids, by id; unknown ids are skipped, as in ml-metadata.

        Example::

            [first] = store.get_executions_by_id([execution_id])
        """
        return self._by_ids("execution", execution_ids)

    def get_contexts_by_id(self, context_ids: Sequence[int]) -> list[Context]:
        """The contexts with these ids, by id; unknown ids are skipped, as in ml-metadata.

        Example::

            [first] = store.get_contexts_by_id([context_id])
        """
        return self._by_ids("context", context_ids)

    def get_artifacts_by_type(
        self, type_name: str, type_version: str | None = None,
        list_options: ListOptions | None = None,
    ) -> list[Artifact]:  # fmt: skip
        """Artifacts of the named type ([] when there is no such type)."""
        return self._by_type("artifact", type_name, type_version, list_options)

    def get_executions_by_type(
        self, type_name: str, type_version: str | None = None,
        list_options: ListOptions | None = None,
    ) -> list[Execution]:  # fmt: skip
        """Executions of the named type ([] when there is no such type); ``type_version``
        None is the version-less type.
        """
        return self._by_type("execution", type_name, type_version, list_options)

    def get_contexts_by_type(
        self, type_name: str, type_version: str | None = None,
        list_options: ListOptions | None = None,
    ) -> list[Context]:  # fmt: skip
        """Contexts of the named type ([] when there is no such type); ``type_version``
        None is the version-less type.
        """
        return self._by_type("context", type_name, type_version, list_options)

    def get_artifact_by_type_and_name(
        self, type_name: str, artifact_name: str, type_version: str | None = None
    ) -> Artifact | None:
        """The artifact of the named type (``type_version`` None: the version-less one) with
        this name, or None. ml-metadata makes (type, name) unique among artifacts.
        """
        return self._by_type_and_name("artifact", type_name, artifact_name, type_version)

    def get_execution_by_type_and_name(
        self, type_name: str, execution_name: str, type_version: str | None = None
    ) -> Execution | None:
        """The execution of the named type (``type_version`` None: the version-less one) with
        this name, or None. ml-metadata makes (type, name) unique among executions.
        """
        return self._by_type_and_name("execution", type_name, execution_name, type_version)

    def get_context_by_type_and_name(
        self, type_name: str, context_name: str, type_version: str | None = None
    ) -> Context | None:
        """The context of the named type (``type_version`` None: the version-less one) with
        this name, or None. ml-metadata makes (type, name) unique among contexts.
        """
        return self._by_type_and_name("context", type_name, context_name, type_version)

    def get_artifacts_by_uri(self, uri: str) -> list[Artifact]:
        """Artifacts with exactly this uri, by id."""
        nodes = self._nodes["artifact"]
        with self._session.read() as conn:
            query = nodes.select().where(nodes.t.node.c.uri == uri).order_by(nodes.t.node.c.id)
            return nodes.load(conn, query)

    def get_artifacts_by_external_ids(self, external_ids: Sequence[str]) -> list[Artifact]:
        """The artifacts with these external ids, by id; unknown ones are skipped."""
        return self._by_external_ids("artifact", external_ids)

    def get_executions_by_external_ids(self, external_ids: Sequence[str]) -> list[Execution]:
        """The executions with these external ids, by id; unknown ones are skipped."""
        return self._by_external_ids("execution", external_ids)

    def get_contexts_by_external_ids(self, external_ids: Sequence[str]) -> list[Context]:
        """The contexts with these external ids, by id; unknown ones are skipped."""
        return self._by_external_ids("context", external_ids)

    def get_artifacts_by_context(
        self, context_id: int, list_options: ListOptions | None = None
    ) -> list[Artifact]:
        """Artifacts attributed to the context."""
        link = self._tables.attribution.c
        where = self._nodes["artifact"].t.node.c.id.in_(
            select(link.artifact_id).where(link.context_id == context_id)
        )
        return self._list_all("artifact", list_options, where=[where])

    def get_executions_by_context(
        self, context_id: int, list_options: ListOptions | None = None
    ) -> list[Execution]:
        """Executions associated with the context."""
        link = self._tables.association.c
        where = self._nodes["execution"].t.node.c.id.in_(
            select(link.execution_id).where(link.context_id == context_id)
        )
        return self._list_all("execution", list_options, where=[where])

    def get_contexts_by_artifact(self, artifact_id: int) -> list[Context]:
        """The contexts the artifact is attributed to, by id."""
        link = self._tables.attribution.c
        return self._contexts_where(select(link.context_id).where(link.artifact_id == artifact_id))

    def get_contexts_by_execution(self, execution_id: int) -> list[Context]:
        """The contexts the execution is associated with, by id."""
        link = self._tables.association.c
        return self._contexts_where(
            select(link.context_id).where(link.execution_id == execution_id)
        )

    def _contexts_where(self, ids: Any) -> list[Context]:
        nodes = self._nodes["context"]
        with self._session.read() as conn:
            query = nodes.select().where(nodes.t.node.c.id.in_(ids)).order_by(nodes.t.node.c.id)
            return nodes.load(conn, query)

    def _by_ids(self, kind: str, ids: Sequence[int]) -> list[Any]:
        for node_id in ids:
            check_int64(f"{kind} id", node_id)
        with self._session.read() as conn:
            return self._nodes[kind].by_ids(conn, ids)

    def _by_external_ids(self, kind: str, external_ids: Sequence[str]) -> list[Any]:
        nodes = self._nodes[kind]
        with self._session.read() as conn:
            query = nodes.select().where(nodes.t.node.c.external_id.in_(list(external_ids)))
            return nodes.load(conn, query.order_by(nodes.t.node.c.id))

    def _type_filter(self, kind: str, type_name: str, type_version: str | None) -> Any:
        ty = self._tables.type.c
        nodes = self._nodes[kind]
        query = select(ty.id).where(ty.name == type_name, ty.type_kind == int(nodes.spec.type_kind))
        if type_version is not None:
            query = query.where(ty.version == type_version)
        else:
            query = query.where(ty.version.is_(None))
        return nodes.t.node.c.type_id.in_(query)

    def _by_type(
        self, kind: str, type_name: str, type_version: str | None, options: ListOptions | None
    ) -> list[Any]:
        where = self._type_filter(kind, type_name, type_version)
        return self._list_all(kind, options, where=[where])

    def _by_type_and_name(
        self, kind: str, type_name: str, name: str, type_version: str | None
    ) -> Any | None:
        nodes = self._nodes[kind]
        where = self._type_filter(kind, type_name, type_version)
        with self._session.read() as conn:
            found = nodes.load(conn, nodes.select().where(where, nodes.t.node.c.name == name))
        return found[0] if found else None

    def _page(self, kind: str, options: ListOptions, where: Sequence[Any] = ()) -> Page:
        with self._session.read() as conn:
            return self._nodes[kind].page(conn, options, where=where)

    def _list_all(
        self, kind: str, options: ListOptions | None, where: Sequence[Any] = ()
    ) -> list[Any]:
        """Every node (up to the options' limit) in the options' order, page after page."""
        nodes = self._nodes[kind]
        if options is None:
            with self._session.read() as conn:
                return nodes.load(conn, nodes.select().where(*where).order_by(nodes.t.node.c.id))
        wanted = check_total(options.limit)

        def fetch(limit: int, token: str | None) -> Page:
            step = ListOptions(limit, options.order_by, options.is_asc,
                               options.filter_query, token)  # fmt: skip
            return self._page(kind, step, where)

        return walk_pages(fetch, limit=wanted, page_token=options.next_page_token)

    # -- events and links --------------------------------------------------------------------

    def put_events(self, events: Sequence[Event]) -> None:
        """Insert events. Raises InvalidArgumentError for a missing artifact or execution and
        AlreadyExistsError for an event that exists."""
        for event in events:
            self._codec.check_event(event)
        if events:
            self._session.run(lambda conn: self._links.put_events(conn, events), doing="put_events")

    def get_events_by_execution_ids(self, execution_ids: Sequence[int]) -> list[Event]:
        """The events of these executions, by event id, each with its path."""
        with self._session.read() as conn:
            return self._links.events(conn, "execution_id", execution_ids)

    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int]) -> list[Event]:
        """The events of these artifacts, by event id, each with its path."""
        with self._session.read() as conn:
            return self._links.events(conn, "artifact_id", artifact_ids)

    def put_attributions_and_associations(
        self, attributions: Sequence[Attribution], associations: Sequence[Association]
    ) -> None:
        """Link artifacts and executions to contexts; links that exist are kept as they are."""
        if attributions or associations:
            self._session.run(
                lambda conn: self._links.put_links(conn, attributions, associations),
                doing="put_attributions_and_associations",
            )

    def put_parent_contexts(self, parent_contexts: Sequence[ParentContext]) -> None:
        """Raises InvalidArgumentError for an unknown context or a cycle, AlreadyExistsError
        for a link that exists."""
        if parent_contexts:
            # A cycle check reads the whole ancestry: writers of parent contexts take turns.
            self._session.run(
                lambda conn: self._links.put_parent_contexts(conn, parent_contexts),
                locks=[PARENT_CONTEXTS_LOCK],
                doing="put_parent_contexts",
            )

    def get_parent_contexts_by_context(self, context_id: int) -> list[Context]:
        """The context's parents ([] for none or an unknown id)."""
        return self._related(context_id, parents=True)

    def get_children_contexts_by_context(self, context_id: int) -> list[Context]:
        """The context's children ([] for none or an unknown id)."""
        return self._related(context_id, parents=False)

    def _related(self, context_id: int, *, parents: bool) -> list[Context]:
        with self._session.read() as conn:
            ids = self._links.related_contexts(conn, context_id, parents=parents)
            return self._nodes["context"].by_ids(conn, ids)

    # -- lineage -----------------------------------------------------------------------------

    def get_lineage_subgraph(
        self,
        query_options: LineageSubgraphQueryOptions,
        field_mask_paths: Sequence[str] | None = None,
    ) -> LineageGraph:
        """The artifacts and executions reachable from the starting nodes, the events among
        them, their contexts and their types. ``field_mask_paths`` (e.g. ["artifacts",
        "events"]) limits what is loaded and returned, as in ml-metadata.

        Raises:
            InvalidArgumentError: no or two kinds of starting nodes, a bad filter_query.
        """
        wanted = set(field_mask_paths or _GRAPH_FIELDS)
        unknown = wanted - _GRAPH_FIELDS
        if unknown:
            raise InvalidArgumentError(
                f"unknown field_mask_paths {sorted(unknown)}; known: {sorted(_GRAPH_FIELDS)}"
            )
        graph = LineageGraph()
        with self._session.read() as conn:
            artifact_ids, execution_ids = self._lineage.walk(conn, query_options)
            context_ids: set[int] = set()
            if wanted & {"contexts", "context_types"}:
                context_ids = self._lineage.context_ids(conn, artifact_ids, execution_ids)
            # A kind of node is loaded only if it or its types are asked for.
            nodes: dict[str, list[Any]] = {}
            for kind, ids in (
                ("artifact", artifact_ids),
                ("execution", execution_ids),
                ("context", context_ids),
            ):
                asked = wanted & {f"{kind}s", f"{kind}_types"}
                nodes[kind] = self._nodes[kind].by_ids(conn, sorted(ids)) if asked else []
            if "events" in wanted:
                graph.events = [
                    e
                    for e in self._links.events(conn, "artifact_id", sorted(artifact_ids))
                    if e.execution_id in execution_ids
                ]
            type_ids = {
                n.type_id
                for kind, found in nodes.items()
                if f"{kind}_types" in wanted
                for n in found
            }
            types = self._types.of_any_kind(conn, sorted(type_ids))
        graph.artifacts = nodes["artifact"] if "artifacts" in wanted else []
        graph.executions = nodes["execution"] if "executions" in wanted else []
        graph.contexts = nodes["context"] if "contexts" in wanted else []
        graph.artifact_types = [t for t in types if isinstance(t, ArtifactType)]
        graph.execution_types = [t for t in types if isinstance(t, ExecutionType)]
        graph.context_types = [t for t in types if isinstance(t, ContextType)]
        return graph

    # -- composite writes --------------------------------------------------------------------

    def put_execution(
        self,
        execution: Execution,
        artifact_and_events: Sequence[tuple[Artifact, Event | None]],
        contexts: Sequence[Context],
        *,
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[int, list[int], list[int]]:
        """Put an execution, its artifacts and events, and its contexts with the links between
        them, in one transaction. Returns (execution id, artifact ids, context ids)."""
        artifacts = [a for a, _ in artifact_and_events]
        edges = [(0, i, e) for i, (_, e) in enumerate(artifact_and_events) if e is not None]
        eids, aids, cids = self._session.run(
            lambda conn: self._put_subgraph(
                conn, [execution], artifacts, contexts, edges,
                reuse_context=reuse_context_if_already_exist,
                reuse_artifact=reuse_artifact_if_already_exist_by_external_id,
            ),
            doing="put_execution",
        )  # fmt: skip
        return eids[0], aids, cids

    def put_lineage_subgraph(
        self,
        executions: Sequence[Execution],
        artifacts: Sequence[Artifact],
        contexts: Sequence[Context],
        event_edges: Sequence[tuple[int | None, int | None, Event]],
        *,
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """Put executions, artifacts, contexts and the events between them (given as
        (execution index, artifact index, event)) in one transaction; every node is linked to
        every context. Returns (execution ids, artifact ids, context ids)."""
        return self._session.run(
            lambda conn: self._put_subgraph(
                conn, executions, artifacts, contexts, event_edges,
                reuse_context=reuse_context_if_already_exist,
                reuse_artifact=reuse_artifact_if_already_exist_by_external_id,
            ),
            doing="put_lineage_subgraph",
        )  # fmt: skip

    def _put_subgraph(
        self,
        conn: Connection,
        executions: Sequence[Execution],
        artifacts: Sequence[Artifact],
        contexts: Sequence[Context],
        edges: Sequence[tuple[int | None, int | None, Event]],
        *,
        reuse_context: bool,
        reuse_artifact: bool,
    ) -> tuple[list[int], list[int], list[int]]:
        for number, (execution_index, artifact_index, _) in enumerate(edges):
            for index, nodes, kind in (
                (execution_index, executions, "execution"),
                (artifact_index, artifacts, "artifact"),
            ):
                if index is not None and not 0 <= index < len(nodes):
                    raise InvalidArgumentError(
                        f"event edge {number}: {kind} index {index} is outside the "
                        f"{len(nodes)} {kind}s of the subgraph; nothing was written"
                    )
        context_ids = self._put_reusing(conn, "context", contexts, reuse_context, by="name")
        artifact_ids = self._put_reusing(
            conn, "artifact", artifacts, reuse_artifact, by="external_id"
        )
        execution_ids = self._nodes["execution"].put(conn, executions) if executions else []
        events = []
        for execution_index, artifact_index, event in edges:
            execution_id = (
                execution_ids[execution_index]
                if execution_index is not None
                else event.execution_id
            )
            artifact_id = event.artifact_id
            if artifact_index is not None:
                artifact_id = artifact_ids[artifact_index]
            events.append(Event(artifact_id, execution_id, event.type, list(event.path),
                                event.milliseconds_since_epoch))  # fmt: skip
        if events:
            self._links.put_events(conn, events)
        attributions = [Attribution(c, a) for c in context_ids for a in artifact_ids]
        associations = [Association(c, e) for c in context_ids for e in execution_ids]
        if attributions or associations:
            self._links.put_links(conn, attributions, associations)
        return execution_ids, artifact_ids, context_ids

    def _put_reusing(
        self, conn: Connection, kind: str, nodes: Sequence[Any], reuse: bool, *, by: str
    ) -> list[int]:
        if not nodes:
            return []
        store = self._nodes[kind]
        if not reuse:
            return store.put(conn, nodes)
        ids: list[int] = []
        for node in nodes:
            if node.id is not None or getattr(node, by) is None:
                ids += store.put(conn, [node])
                continue
            column = store.t.node.c[by]
            query = select(store.t.node.c.id).where(column == getattr(node, by))
            if by == "name":
                query = query.where(store.t.node.c.type_id == node.type_id)
            existing = conn.execute(query).scalar()
            if existing is not None:
                ids.append(int(existing))
                continue
            try:
                ids += store.put(conn, [node])
            except IntegrityError as exc:
                # A concurrent writer inserted it after the look-up: the session runs the
                # call again, and the look-up then finds the winner's row to reuse.
                raise LostRace(exc) from exc
        return ids
