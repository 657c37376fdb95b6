"""A database that ml-metadata 1.17.1 created and wrote on MySQL/MariaDB opens in the text mode
that reads its non-ASCII text right, without the caller naming it (docs/store.md); on SQLite and
PostgreSQL ml-metadata writes proper UTF-8 and the default mode reads it."""

from __future__ import annotations

from pathlib import Path

import metadb
from metadb.store import Artifact
from tests.interop.conftest import OPEN_STORE, mlmd_connection_config, run_mlmd

TEXT = "héllo ✓ 日本語 😀"


def test_text_ml_metadata_wrote_reads_right_in_a_database_it_created(
    mlmd_python: Path, database_url: str
):
    run_mlmd(
        mlmd_python,
        OPEN_STORE
        + """
a_type = pb.ArtifactType(name=ARGS["text"])
type_id = store.put_artifact_type(a_type)
store.put_artifacts([pb.Artifact(type_id=type_id, uri="file:///" + ARGS["text"])])
""",
        config=mlmd_connection_config(database_url),
        text=TEXT,
    )

    with metadb.connect(database_url) as store:  # adopts it, and picks the text mode
        a_type = store.get_artifact_type(TEXT)
        [artifact] = store.get_artifacts_by_type(TEXT)
        assert a_type.name == TEXT and artifact.uri == "file:///" + TEXT
        [new_id] = store.put_artifacts([Artifact(type_id=a_type.id, uri="file:///" + TEXT + "/2")])

    seen = run_mlmd(
        mlmd_python,
        OPEN_STORE
        + """
RESULT = sorted(a.uri for a in store.get_artifacts_by_type(ARGS["text"]))
""",
        config=mlmd_connection_config(database_url),
        text=TEXT,
    )
    assert seen == ["file:///" + TEXT, "file:///" + TEXT + "/2"]
    assert new_id > artifact.id
