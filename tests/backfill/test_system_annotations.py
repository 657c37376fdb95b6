"""The built-in backfills give every run exactly what ``metadb.runs.system`` gives it at creation,
on SQLite, PostgreSQL and MySQL, once, whatever the order."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from metadb import backfill, migrate
from metadb.backfill.system_annotations import CREATED_BY, NAME
from metadb.db import Database
from metadb.runs import system, tables
from tests.backfill.conftest import (
    add_plain_runs,
    add_runs,
    annotation_count,
    annotations,
    expected,
    run_ids,
    run_row,
    set_raw_extra_data,
)

SMALL_BATCHES = backfill.BatchSizing(initial=7, minimum=7, maximum=7)
JA = "日" * 300
EMOJI = "😀" * 256 + "x"
SPEC_NAMED = json.dumps({"name": "from-spec", "inputs": {"name": "nested, not this"}})

#: (extra_data as SQLAlchemy writes it, pipeline_spec, created_by): every source of each value.
VARIED = [
    (sa.null(), None, None),  # no sources at all: both values ''
    (None, None, "ada"),  # JSON null extra data
    ({"pipeline_name": "train"}, SPEC_NAMED, "ada"),  # extra data wins over the spec
    ({"other": 1}, SPEC_NAMED, "bob"),  # no pipeline_name: the spec's name
    ({"pipeline_name": None}, SPEC_NAMED, None),  # null name: the spec's
    ({"pipeline_name": 42}, SPEC_NAMED, ""),  # not a string: the spec's
    ({"pipeline_name": ""}, SPEC_NAMED, "c"),  # an empty string is a name
    ({"pipeline_name": JA}, None, JA[:255]),  # 300 three-byte characters: cut to 255
    ({"pipeline_name": EMOJI}, None, "😀" * 255),  # four-byte characters: cut to 255
    (sa.null(), json.dumps({"name": JA}, ensure_ascii=False), "d"),  # raw UTF-8 in the spec
    (sa.null(), json.dumps({"name": EMOJI}), "e"),  # \ud83d\ude00 escapes in the spec
    (sa.null(), json.dumps({"name": 'é\u0301 "quoted" \\ / \n'}), "f"),  # escapes
    (sa.null(), "", "g"),  # empty spec
    (sa.null(), "not json", "h"),  # a spec that is not JSON
    (sa.null(), '{"name": "nan-spec", "x": NaN}', "i"),  # json.loads reads NaN; SQL does not
    (sa.null(), '{"name": "first", "name": "last"}', "j"),  # repeated key: the last, as Python
    (sa.null(), '{"n\\u0061me": "escaped key"}', "k"),  # escaped key matches, as in Python
    (sa.null(), '["name", "array"]', "l"),  # JSON that is not an object
    (sa.null(), '"just a string"', "m"),
    (sa.null(), '{"name": ["not", "a", "string"]}', "n"),
    (sa.null(), '{"name": "trailing"} x', "o"),  # invalid: trailing text
    (sa.null(), '{"x": 2.e5, "name": "lax number"}', "p"),  # invalid for json.loads
    (sa.null(), '{"name": "bad \\x escape"}', "q"),  # invalid escape
    (sa.null(), '  {"name": "spaces"}  ', "r"),
    ({"pipeline_name": "x" * 255}, None, "s" * 255),  # exactly 255: kept
    ('{"pipeline_name": "double-encoded"}', SPEC_NAMED, "t"),  # a JSON string holding JSON
    ("plain text", SPEC_NAMED, "u"),  # a JSON string that is not JSON inside
    ([1, 2], SPEC_NAMED, "v"),  # extra data that is not an object
    # MariaDB reads plain JSON in SQL and leaves the rest to Python:
    (sa.null(), json.dumps({"name": EMOJI}, ensure_ascii=False), "w"),  # raw 4-byte UTF-8
    (sa.null(), '{"name": "deep", "x": ' + "[" * 40 + "]" * 40 + "}", "x"),  # past depth 32
    (sa.null(), '{"name": "raw\ttab"}', "y"),  # a control character: not JSON for Python
    ({"pipeline_name": "top", "x": {"pipeline_name": "nested"}}, None, "z"),  # nested twin
    (sa.null(), '{"x": {"name": 1, "name": 2}, "name": "nested repeats"}', "z2"),
]

#: Extra data stored as text that SQLAlchemy's JSON type would not write (valid JSON everywhere).
RAW_EXTRA = [
    '{"pipeline_name": "first", "pipeline_name": "last"}',
    '{"pipeline_n\\u0061me": "escaped key"}',
    '{"pipeline_name": "\\u65e5\\ud83d\\ude00"}',
]


def _add_varied_runs(db: Database) -> None:
    add_runs(
        db,
        [
            run_row(i, extra_data=extra, pipeline_spec=spec, created_by=created_by)
            for i, (extra, spec, created_by) in enumerate(VARIED)
        ],
    )
    add_plain_runs(db, len(RAW_EXTRA))
    for run_id, raw in zip(run_ids(db)[-len(RAW_EXTRA) :], RAW_EXTRA, strict=True):
        set_raw_extra_data(db, run_id, raw)


def test_every_run_gets_both_rows_with_exactly_the_values_of_system_annotations(mdb: Database):
    _add_varied_runs(mdb)

    report = backfill.run_backfills(mdb, sizing=SMALL_BATCHES)

    assert [r.state for r in report.results] == ["done", "done"]
    assert annotations(mdb) == expected(mdb)
    runs = len(run_ids(mdb))
    assert [r.rows_written for r in report.results] == [runs, runs]


def test_extra_data_text_that_sqlite_json_functions_misread_is_decided_by_python(
    tmp_path: Path,
):
    # Only SQLite stores extra_data that is not JSON (PostgreSQL's jsonb and MariaDB's JSON
    # check refuse it).
    url = f"sqlite:///{tmp_path / 'metadb.sqlite'}"
    migrate.up(migrate.MigrateConfig(database=url))
    mdb = Database.from_url(url)
    add_plain_runs(mdb, 4)
    ids = run_ids(mdb)
    raw = [
        "{not json",
        '{"pipeline_name": "nan", "x": NaN}',  # json.loads reads NaN; json_valid does not
        '{"pipeline_name": "a\\u0000b"}',  # SQLite's JSON functions cut at the NUL
        '{"pipeline_name": "nul"}\x00',  # SQLite's JSON functions stop at a NUL byte
    ]
    for run_id, text in zip(ids, raw, strict=True):
        set_raw_extra_data(mdb, run_id, text)

    backfill.run_backfills(mdb)

    values = annotations(mdb)
    assert [values[(i, system.NAME)] for i in ids] == ["", "nan", "a\x00b", ""]
    assert values == expected(mdb)
    mdb.dispose()


def test_running_twice_writes_nothing_the_second_time(mdb: Database):
    _add_varied_runs(mdb)
    backfill.run_backfills(mdb, sizing=SMALL_BATCHES)
    first = annotations(mdb)

    again = backfill.run_backfills(mdb, [CREATED_BY.id, NAME.id])

    assert [r.rows_written for r in again.results] == [0, 0]
    assert annotations(mdb) == first
    assert annotation_count(mdb) == 2 * len(run_ids(mdb))


def test_a_done_backfill_that_misses_nothing_is_left_untouched(mdb: Database):
    add_plain_runs(mdb, 5)
    backfill.run_backfills(mdb)
    before = backfill.backfill_status(mdb)

    backfill.run_backfills(mdb)

    assert backfill.backfill_status(mdb) == before


def test_either_order_gives_the_same_rows(mdb: Database):
    _add_varied_runs(mdb)
    backfill.run_backfills(mdb, [NAME.id, CREATED_BY.id], sizing=SMALL_BATCHES)
    name_first = annotations(mdb)
    with mdb.connect() as conn, conn.begin():
        conn.execute(sa.delete(tables.annotation))
        conn.execute(sa.delete(tables.backfill))

    backfill.run_backfills(mdb, [CREATED_BY.id, NAME.id], sizing=SMALL_BATCHES)

    assert annotations(mdb) == name_first == expected(mdb)


def test_existing_rows_are_kept_and_only_missing_ones_written(mdb: Database):
    add_plain_runs(mdb, 30)
    ids = run_ids(mdb)
    with mdb.connect() as conn, conn.begin():  # some runs have the rows already, one differs
        conn.execute(
            tables.annotation.insert(),
            [
                {"run_id": i, "annotation_key": system.NAME, "annotation_value": "kept"}
                for i in ids[::3]
            ],
        )

    report = backfill.run_backfills(mdb, [NAME.id], sizing=SMALL_BATCHES)

    assert report.results[0].rows_written == 30 - len(ids[::3])
    values = annotations(mdb)
    assert all(values[(i, system.NAME)] == "kept" for i in ids[::3])
    assert len(values) == 30


def test_verify_counts_the_missing_rows_of_each_backfill(mdb: Database):
    add_plain_runs(mdb, 12)
    assert [(v.id, v.missing) for v in backfill.verify_backfills(mdb)] == [
        (CREATED_BY.id, 12),
        (NAME.id, 12),
    ]
    backfill.run_backfills(mdb)
    ids = run_ids(mdb)
    with mdb.connect() as conn, conn.begin():
        conn.execute(
            sa.delete(tables.annotation).where(
                tables.annotation.c.run_id.in_(ids[:5]),
                tables.annotation.c.annotation_key == system.NAME,
            )
        )

    checks = backfill.verify_backfills(mdb)

    assert [(v.id, v.missing) for v in checks] == [(CREATED_BY.id, 0), (NAME.id, 5)]
    assert [c.as_dict() for c in backfill.verify_backfills(mdb, [NAME.id])] == [
        {"id": NAME.id, "missing": 5}
    ]


def test_a_spec_past_the_servers_pattern_limits_is_read_by_python_without_failing(mdb: Database):
    # ~7 MB: MariaDB's REGEXP gives up ("match limit exceeded", a warning) and says no match.
    spec = json.dumps({"name": "huge", "x": list(range(1_000_000))})
    add_runs(mdb, [run_row(0, extra_data=sa.null(), pipeline_spec=spec)])

    report = backfill.run_backfills(mdb)

    assert [r.state for r in report.results] == ["done", "done"]
    assert annotations(mdb) == expected(mdb)
    assert expected(mdb)[(run_ids(mdb)[0], system.NAME)] == "huge"
