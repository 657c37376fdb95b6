"""MySQL's latin1 and the "mlmd-latin1" text mode: the codec byte by byte, checked against the
server, and how the mode is chosen (``connect(mysql_text=...)``, the URL's ``mlmd_text``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from metadb.db import Database, dialect_for
from metadb.db.mysql import (
    MLMD_LATIN1,
    MYSQL_LATIN1,
    from_mlmd_latin1,
    mysql_latin1_decode,
    mysql_latin1_encode,
    to_mlmd_latin1,
)
from metadb.db.urls import parse_database_url
from metadb.errors import ConfigError, UnsupportedDatabaseError
from tests.conftest import admin_database

ALL_BYTES = bytes(range(256))
#: The bytes cp1252 leaves undefined, which MySQL's latin1 maps to U+0081, U+008D, ...
UNDEFINED_IN_CP1252 = (0x81, 0x8D, 0x8F, 0x90, 0x9D)


@pytest.fixture
def mysql_server() -> Iterator[Database]:
    admin = admin_database("mysql")
    yield admin
    admin.dispose()


# --- the codec ----------------------------------------------------------------------------------


@pytest.mark.parametrize("byte", range(256))
def test_each_byte_is_cp1252_or_else_the_control_character_of_its_number(byte: int):
    char = mysql_latin1_decode(bytes([byte]))

    if byte in UNDEFINED_IN_CP1252:
        assert char == chr(byte)
    else:
        assert char == bytes([byte]).decode("cp1252")
    assert mysql_latin1_encode(char) == bytes([byte])


def test_all_256_bytes_decode_to_256_distinct_characters_and_back():
    text = mysql_latin1_decode(ALL_BYTES)

    assert text == MYSQL_LATIN1
    assert len(set(text)) == 256
    assert mysql_latin1_encode(text) == ALL_BYTES


def test_a_character_outside_latin1_does_not_encode():
    with pytest.raises(UnicodeEncodeError):
        mysql_latin1_encode("✓")


def test_the_codec_is_the_servers_latin1_read_over_utf8mb4(mysql_server: Database):
    with mysql_server.connect() as conn:
        as_latin1 = conn.exec_driver_sql(
            f"SELECT CONVERT(BINARY x'{ALL_BYTES.hex()}' USING latin1)"
        ).scalar_one()
        back = conn.exec_driver_sql(
            "SELECT HEX(CONVERT(%s USING latin1))", (MYSQL_LATIN1,)
        ).scalar_one()

    assert as_latin1 == MYSQL_LATIN1
    assert bytes.fromhex(back) == ALL_BYTES


# --- ml-metadata's text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("plain ascii", "plain ascii"),
        ("hé", "hÃ©"),
        ("✓", "âœ“"),
        ("😀", "ðŸ\u02dc€"),  # four UTF-8 bytes, four latin1 characters
        ("€", "â\u201a¬"),
        ("ÁÍÏÐÝ", "Ã\x81Ã\x8dÃ\x8fÃ\x90Ã\x9d"),  # UTF-8 with the bytes cp1252 lacks
        ("", ""),
    ],
)
def test_text_is_stored_as_its_utf8_bytes_read_as_latin1(text: str, stored: str):
    assert to_mlmd_latin1(text) == stored
    assert from_mlmd_latin1(stored) == text
    assert MLMD_LATIN1.to_db(text) == stored and MLMD_LATIN1.from_db(stored) == text


def test_every_utf8_byte_sequence_survives_the_round_trip():
    every_length = "".join(chr(c) for c in (0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF))
    text = every_length + "".join(chr(c) for c in range(0xA0, 0x800))

    assert from_mlmd_latin1(to_mlmd_latin1(text)) == text


@pytest.mark.parametrize(
    "stored",
    [
        "✓",  # not latin1: a utf8mb4 client wrote it
        "é",  # latin1, but the byte E9 alone is not UTF-8
        "Ã",
    ],
)
def test_text_that_ml_metadata_cannot_have_written_is_read_as_stored(stored: str):
    assert from_mlmd_latin1(stored) == stored


def test_ml_metadatas_text_read_back_through_the_server(mysql_server: Database):
    """What ml-metadata's latin1 connection does, done on the server: the UTF-8 bytes as latin1,
    into utf8mb4; the codec reads it back and writes the same."""
    text = "héllo ✓ 日本語 😀 ÁÍÏÐÝ"
    with mysql_server.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT CONVERT(CONVERT(BINARY %s USING latin1) USING utf8mb4)",
            (text.encode("utf-8"),),
        ).scalar_one()

    assert stored == to_mlmd_latin1(text)
    assert from_mlmd_latin1(stored) == text


# --- choosing the mode --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        ("mysql://u:pw@db/mlmd?mlmd_text=latin1", "mlmd-latin1"),
        ("mysql://u:pw@db/mlmd?mlmd_text=utf8mb4", "utf8mb4"),
        ("mysql://u:pw@db/mlmd?charset=utf8mb4&mlmd_text=latin1", "mlmd-latin1"),
        ("u:pw@tcp(db:3306)/mlmd?mlmd_text=latin1&parseTime=true", "mlmd-latin1"),
        ("postgresql://u:pw@db/mlmd?mlmd_text=latin1", "mlmd-latin1"),
        ("sqlite:///x.db?mlmd_text=latin1", "mlmd-latin1"),
        ("mysql://u:pw@db/mlmd", None),
    ],
)
def test_the_url_parameter_is_parsed_out_and_not_given_to_the_driver(raw: str, mode: str | None):
    url = parse_database_url(raw)

    assert url.mysql_text == mode
    assert "mlmd_text" not in url.url.query
    assert url.text_mode() == (mode or "utf8mb4")


def test_a_bad_url_parameter_is_refused_naming_the_choices():
    with pytest.raises(UnsupportedDatabaseError, match="mlmd_text parameter must be utf8mb4 or"):
        parse_database_url("mysql://u:pw@db/mlmd?mlmd_text=latin-1")


def test_the_argument_wins_over_nothing_and_must_agree_with_the_url():
    plain = parse_database_url("mysql://u@db/mlmd")
    latin1 = parse_database_url("mysql://u@db/mlmd?mlmd_text=latin1")

    assert plain.text_mode("mlmd-latin1") == "mlmd-latin1"
    assert latin1.text_mode("mlmd-latin1") == "mlmd-latin1"
    with pytest.raises(ConfigError, match="contradicts the URL's mlmd_text"):
        latin1.text_mode("utf8mb4")
    with pytest.raises(ConfigError, match="mysql_text must be one of 'utf8mb4', 'mlmd-latin1'"):
        plain.text_mode("latin1")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_only_mysql_converts_text(dialect: str):
    codec = dialect_for(dialect).mlmd_text_codec("mlmd-latin1")

    assert codec == (MLMD_LATIN1 if dialect == "mysql" else None)
    assert dialect_for(dialect).mlmd_text_codec("utf8mb4") is None
    with pytest.raises(ConfigError):
        dialect_for(dialect).mlmd_text_codec("latin1")
