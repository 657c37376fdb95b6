"""A MySQL database whose MLMD text ml-metadata wrote over its latin1 connection is opened in
the compatible text mode without being told; text written both ways is refused with the fix.

The rows are written as ml-metadata's C++ client writes them: its UTF-8 bytes sent over a
connection whose character set is latin1 (docs/store.md). tests/interop proves the same with
ml-metadata itself.
"""

from __future__ import annotations

import logging

import pymysql
import pytest
from sqlalchemy import text

import metadb
from metadb.db import Database
from metadb.errors import MixedTextEncodingError
from metadb.store import Artifact, ArtifactType

#: Text whose UTF-8 bytes are all defined in cp1252 (what a latin1 connection can carry).
TEXT = "héllo 日本語"


def _written_by_ml_metadata(url: str, *, type_name: str) -> None:
    """An MLMD database with one artifact type named ``type_name``, sent as ml-metadata's
    latin1 connection sends it."""
    metadb.connect(url).close()
    db = Database.from_url(url)
    try:
        sa_url = db.engine.url
        conn = pymysql.connect(
            host=sa_url.host,
            port=sa_url.port or 3306,
            user=sa_url.username,
            password=sa_url.password or "",
            database=sa_url.database,
            charset="latin1",
        )
    finally:
        db.dispose()
    try:
        with conn.cursor() as cursor:
            # The UTF-8 bytes of the name, each taken by the server for a latin1 character.
            as_sent = type_name.encode("utf-8").decode("cp1252")
            cursor.execute("INSERT INTO Type (name, type_kind) VALUES (%s, 1)", (as_sent,))
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize("backend", ["mysql"])
def test_text_written_by_ml_metadata_is_read_right_without_a_mode(
    database_url: str, caplog: pytest.LogCaptureFixture
):
    _written_by_ml_metadata(database_url, type_name=TEXT)

    with caplog.at_level(logging.WARNING), metadb.connect(database_url) as store:
        assert store.get_artifact_type(TEXT).name == TEXT
        store.put_artifact_type(ArtifactType(name="Model"))
        [artifact_id] = store.put_artifacts(
            [Artifact(type_id=store.get_artifact_type("Model").id, uri="file:///" + TEXT)]
        )

    assert "mlmd_text=latin1" in caplog.text
    with metadb.connect(database_url, mysql_text="mlmd-latin1") as store:
        assert store.get_artifacts_by_id([artifact_id])[0].uri == "file:///" + TEXT


@pytest.mark.parametrize("backend", ["mysql"])
def test_text_written_both_ways_is_refused_naming_the_url_parameter(database_url: str):
    _written_by_ml_metadata(database_url, type_name=TEXT)
    with metadb.connect(database_url, mysql_text="utf8mb4") as store:
        store.put_artifact_type(ArtifactType(name="Ünïcode " + TEXT))

    with pytest.raises(MixedTextEncodingError) as refused:
        metadb.connect(database_url)

    message = str(refused.value)
    assert "?mlmd_text=latin1" in message and "?mlmd_text=utf8mb4" in message
    sep = "&" if "?" in database_url else "?"
    with metadb.connect(database_url + sep + "mlmd_text=latin1") as store:
        assert store.get_artifact_type(TEXT).name == TEXT


def test_utf8_text_keeps_the_default_mode(database_url: str):
    with metadb.connect(database_url) as store:
        store.put_artifact_type(ArtifactType(name=TEXT))

    with metadb.connect(database_url) as store:
        assert store.get_artifact_type(TEXT).name == TEXT
    db = Database.from_url(database_url)
    try:
        with db.connect() as conn:
            table = "type" if db.url.dialect == "postgresql" else "Type"
            names = conn.execute(text(f"SELECT name FROM {table}")).scalars().all()
    finally:
        db.dispose()
    assert TEXT in names
