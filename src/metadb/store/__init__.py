"""The ML Metadata store: ml-metadata's schema (version 10), API and filter language.

Entities are plain dataclasses (:mod:`metadb.store.model`); :class:`MetadataStore` has
ml-metadata's method names. Open one with :func:`metadb.connect`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metadb._lazy import lazy_attributes
from metadb.store.connect import connect
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

if TYPE_CHECKING:
    from metadb.store.metadata_store import MetadataStore

# The dataclasses are light and shared with the client; the store loads SQLAlchemy.
__getattr__, __dir__ = lazy_attributes(__name__, {"MetadataStore": "metadb.store.metadata_store"})

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
