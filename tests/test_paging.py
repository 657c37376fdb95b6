"""The page policy, the page-token codec and the page walker of :mod:`metadb.paging`.

These are pure functions (no database); tests/store, tests/runs, tests/api and tests/runs'
CLI tests show every front door applying them on all three backends.
"""

from __future__ import annotations

import ast
import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import metadb.paging
from metadb.errors import InvalidArgumentError
from metadb.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    TOKEN_MAX_CHARS,
    TOKEN_VERSION,
    PageTokens,
    check_limit,
    check_total,
    walk_pages,
)


def _forge(body: Any) -> str:
    raw = json.dumps(body).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_an_absent_limit_is_the_default_and_any_integer_up_to_the_maximum_is_kept():
    assert check_limit(None) == DEFAULT_LIMIT == 20
    assert check_limit(1) == 1
    assert check_limit(MAX_LIMIT) == MAX_LIMIT == 1000


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, 10**30])
def test_a_limit_out_of_range_is_refused_naming_the_maximum(limit: int):
    with pytest.raises(InvalidArgumentError, match="between 1 and 1000"):
        check_limit(limit)


@pytest.mark.parametrize("limit", [1.5, 7.0, "7", True, False, [3], b"7"])
def test_a_limit_that_is_not_an_integer_is_an_invalid_argument_not_a_type_error(limit: Any):
    with pytest.raises(InvalidArgumentError, match="must be an integer"):
        check_limit(limit)
    with pytest.raises(InvalidArgumentError, match="must be an integer"):
        check_total(limit)


def test_a_total_has_no_maximum_but_must_be_positive():
    assert check_total(None) is None
    assert check_total(50_000) == 50_000
    with pytest.raises(InvalidArgumentError, match="at least 1"):
        check_total(0)


def test_a_token_gives_back_its_cursor_for_the_same_listing_filter_and_order():
    tokens = PageTokens("artifacts", "id asc", "uri LIKE 's3://%'")
    token = tokens.make(1_700_000_000_000, 42)

    assert PageTokens("artifacts", "id asc", "uri LIKE 's3://%'").read(token) == (
        1_700_000_000_000, 42,
    )  # fmt: skip
    assert tokens.read(None) is None and tokens.read("") is None
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_token_of_another_listing_says_whose_it_is_and_to_start_again():
    token = PageTokens("artifacts", "id asc", "").make(1, 1)

    with pytest.raises(InvalidArgumentError, match="belongs to another listing") as caught:
        PageTokens("executions", "id asc", "").read(token)
    assert "of artifacts, not of executions" in str(caught.value)
    assert "Start again without page_token" in str(caught.value)


@pytest.mark.parametrize("basis", [("id desc", ""), ("id asc", "name = 'a'"), ("id asc",)])
def test_a_token_of_another_filter_or_order_is_refused(basis: tuple[str, ...]):
    token = PageTokens("artifacts", "id asc", "").make(1, 1)

    with pytest.raises(InvalidArgumentError, match="belongs to another search of artifacts"):
        PageTokens("artifacts", *basis).read(token)


def test_a_token_of_another_format_version_is_refused():
    tokens = PageTokens("runs", "created_at desc", "null")
    old = _forge([TOKEN_VERSION - 1, "runs", tokens.fingerprint, 5, 5, False])

    with pytest.raises(InvalidArgumentError, match="another version"):
        tokens.read(old)


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "%%%",
        "x" * (TOKEN_MAX_CHARS + 1),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _forge({"v": 2}),
        _forge([2, "runs"]),
        "W10",  # []
    ],
)
def test_a_damaged_or_oversized_token_is_refused(token: str):
    with pytest.raises(InvalidArgumentError, match="damaged"):
        PageTokens("runs").read(token)


@pytest.mark.parametrize("token", [12, b"abc", ["x"]])
def test_a_token_that_is_not_text_is_an_invalid_argument(token: Any):
    with pytest.raises(InvalidArgumentError, match="damaged"):
        PageTokens("runs").read(token)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**40, {"a": 1}, [1]])
def test_a_cursor_outside_64_bit_integers_or_json_scalars_is_refused(value: Any):
    tokens = PageTokens("artifacts")
    forged = _forge([TOKEN_VERSION, "artifacts", tokens.fingerprint, value, 1])

    with pytest.raises(InvalidArgumentError, match="damaged"):
        tokens.read(forged)


def test_non_finite_numbers_are_refused_in_a_cursor():
    tokens = PageTokens("runs")
    raw = f'[{TOKEN_VERSION},"runs","{tokens.fingerprint}",NaN,1,false]'.encode()
    forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")

    with pytest.raises(InvalidArgumentError, match="damaged"):
        tokens.read(forged)


@dataclass
class _Page:
    items: list[int]
    next_page_token: str | None


def _listing(total: int) -> tuple[list[tuple[int, str | None]], Any]:
    calls: list[tuple[int, str | None]] = []

    def fetch(limit: int, token: str | None) -> _Page:
        calls.append((limit, token))
        start = int(token or 0)
        end = min(total, start + limit)
        return _Page(list(range(start, end)), str(end) if end < total else None)

    return calls, fetch


def test_walking_pages_visits_every_item_once_in_pages_of_the_maximum():
    calls, fetch = _listing(2500)

    assert walk_pages(fetch) == list(range(2500))
    assert calls == [(1000, None), (1000, "1000"), (1000, "2000")]


def test_walking_pages_stops_at_the_limit_and_starts_at_the_token():
    calls, fetch = _listing(2500)

    assert walk_pages(fetch, limit=1200, page_token="100") == list(range(100, 1300))
    assert calls == [(1000, "100"), (200, "1100")]


def test_the_paging_module_imports_only_the_standard_library_and_metadb_errors():
    # The thin client imports metadb.paging: it must stay free of SQLAlchemy and the server.
    tree = ast.parse(Path(metadb.paging.__file__).read_text(encoding="utf-8"))
    imported = {
        name
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import)
            else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        )
    }  # fmt: skip
    outside = {n for n in imported if n.split(".")[0] not in sys.stdlib_module_names}
    assert outside == {"metadb.errors"}
