"""Database URLs, engines, and one module per dialect (sqlite, postgresql, mysql)."""

from __future__ import annotations

from metadb.db.database import Database
from metadb.db.dialect import Dialect, dialect_for
from metadb.db.urls import DatabaseURL, parse_database_url

__all__ = ["Database", "DatabaseURL", "Dialect", "dialect_for", "parse_database_url"]
