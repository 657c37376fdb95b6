"""The ML Metadata store: ml-metadata's schema (version 10), API and filter language.

Entities are plain dataclasses (:mod:`metadb.store.model`); :class:`MetadataStore` has
ml-metadata's method names. Open one with :func:`metadb.connect`.
"""

from __future__ import annotations

from metadb.store.connect import connect
from metadb.store.metadata_store import MetadataStore
from metadb.store.model import (
    Artifact,
    ArtifactState,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionState,
    ExecutionType,
    LineageDirection,
    LineageGraph,
    LineageSubgraphQueryOptions,
    ListOptions,
    Page,
    ParentContext,
    PropertyType,
    ProtoValue,
    SystemType,
)

__all__ = [
    "Artifact",
    "ArtifactState",
    "ArtifactType",
    "Association",
    "Attribution",
    "Context",
    "ContextType",
    "Event",
    "EventType",
    "Execution",
    "ExecutionState",
    "ExecutionType",
    "LineageDirection",
    "LineageGraph",
    "LineageSubgraphQueryOptions",
    "ListOptions",
    "MetadataStore",
    "Page",
    "ParentContext",
    "PropertyType",
    "ProtoValue",
    "SystemType",
    "connect",
]
