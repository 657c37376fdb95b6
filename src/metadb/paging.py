"""Paging: one page policy, one page-token codec and one page walker for every listing.

Every paged listing (the store's ``list_artifacts``/``list_executions``/``list_contexts``, the
run search, their REST routes, the CLI and :mod:`metadb.client`) speaks one vocabulary:

==================  =======================================================================
``limit``           items per page: :data:`DEFAULT_LIMIT` when absent, at most
                    :data:`MAX_LIMIT`
``page_token``      where to go on: the ``next_page_token`` of the page before (the store's
                    ``ListOptions`` calls it ``next_page_token``, as ml-metadata's does)
``items``           the page's items (REST: ``{"items": [...], "next_page_token": ...}``)
``next_page_token`` the token of the next page; None (JSON null) on the last page
==================  =======================================================================

The page policy
---------------
A ``limit`` above :data:`MAX_LIMIT` is refused with :class:`InvalidArgumentError` naming the
maximum, at every front door alike (Python, REST: 400, CLI: exit 2); so is one that is not an
integer (``1.5``, ``"7"``, ``True``) or is below 1. Nothing is silently clamped: ml-metadata
clamps a page to 100 items, and that clamp belongs to the ml-metadata protocol layer (the
gRPC/protobuf facade), which translates its requests into these calls. The maximum is 1000:
above every maximum metadb had (100 for store pages, 200 for run search), so every limit that
was answered in full before still is, and small enough that one page stays one short query.
What changes: an embedded ``list_*`` call with a limit of 101 to 1000 now gets that many items
(it got 100), one above 1000 or below 1 is refused (it got 100, or 20), and
``metadb migrate history`` takes at most 1000 rows as every other listing does.

Page tokens
-----------
A token is opaque to its users: urlsafe base64 (unpadded) of compact JSON
``[version, listing, fingerprint, *cursor]``. ``listing`` names what made it (``artifacts``,
``runs`` ...), ``fingerprint`` hashes the listing's filter and order, and the cursor is the
keyset position of the page's last row. :meth:`PageTokens.read` refuses, with
InvalidArgumentError saying to start again without the token, a token of another listing,
another filter or order, another token version, and a damaged or oversized one; integers
outside 64 bits and non-finite numbers are refused too. Tokens are not secret and not signed:
a forged cursor can only move where a page starts.

This module imports neither SQLAlchemy nor any server code: :mod:`metadb.client` uses it.

Example::

    tokens = PageTokens("artifacts", "id asc", filter_query or "")
    cursor = tokens.read(page_token)           # None for the first page
    ...
    next_page_token = tokens.make(last.id)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import operator
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from metadb.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "TOKEN_MAX_CHARS",
    "TOKEN_VERSION",
    "PageTokens",
    "check_limit",
    "check_total",
    "damaged_token",
    "walk_pages",
]

#: Items per page when a call gives no ``limit``.
DEFAULT_LIMIT = 20
#: The largest ``limit`` of a page; more is refused, never clamped (see the module docstring).
MAX_LIMIT = 1000
#: The longest token accepted: longer than any metadb makes (a run name sort's cursor holds a
#: name of up to 255 characters, at most 6 JSON characters each, then base64's 4/3).
TOKEN_MAX_CHARS = 4096
#: The token format's version; a token of another version is refused.
TOKEN_VERSION = 2

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: A value a cursor may hold: a JSON scalar.
CursorValue = int | float | str | bool | None


def check_limit(limit: object, *, name: str = "limit") -> int:
    """The page size ``limit`` stands for: :data:`DEFAULT_LIMIT` for None, else ``limit`` itself.

    Raises:
        InvalidArgumentError: ``limit`` is not an integer (``1.5``, ``"7"``, ``True``), is below
            1, or is above :data:`MAX_LIMIT`.

    Example::

        check_limit(None)   # 20
        check_limit(5000)   # InvalidArgumentError: limit must be at most 1000 ...
    """
    if limit is None:
        return DEFAULT_LIMIT
    value = _integer(limit, name)
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidArgumentError(
            f"{name} must be between 1 and {MAX_LIMIT} items per page, not {value}: ask for at "
            f"most {MAX_LIMIT} and follow next_page_token for the rest"
        )
    return value


def check_total(limit: object, *, name: str = "limit") -> int | None:
    """How many items a call that walks every page returns: None (every item) for None.

    Raises:
        InvalidArgumentError: ``limit`` is not an integer or is below 1.
    """
    if limit is None:
        return None
    value = _integer(limit, name)
    if value < 1:
        raise InvalidArgumentError(
            f"{name} must be at least 1, not {value}: leave it out (None) for every item"
        )
    return value


def _integer(value: object, name: str) -> int:
    if not isinstance(value, bool):
        try:
            return operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
    raise InvalidArgumentError(f"{name} must be an integer, not {value!r}")


def damaged_token() -> InvalidArgumentError:
    """The error for a token metadb did not make as it is (callers that check a cursor's
    shape raise it too)."""
    return InvalidArgumentError(
        "page_token is damaged: pass the next_page_token of the previous page as it is, or "
        "start again without page_token"
    )


class PageTokens:
    """The page tokens of one listing with one filter and order.

    ``listing`` names the listing (``"artifacts"``, ``"runs"``); ``basis`` is every text that
    decides which rows come in which order (the filter and the order, canonical), hashed into
    the token so that it is refused by any other filter or order.
    """

    __slots__ = ("fingerprint", "listing")

    def __init__(self, listing: str, *basis: str) -> None:
        self.listing = listing
        digest = hashlib.sha256(json.dumps([listing, *basis]).encode()).hexdigest()
        self.fingerprint = digest[:16]

    def make(self, *cursor: CursorValue) -> str:
        """The token of the page after the row at ``cursor`` (its sort values, then its id)."""
        body = [TOKEN_VERSION, self.listing, self.fingerprint, *cursor]
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")

    def read(self, token: object) -> tuple[CursorValue, ...] | None:
        """The cursor in ``token``; None for no token (None or "": the first page).

        Raises:
            InvalidArgumentError: the token is damaged or oversized, of another token version,
                of another listing, or of this listing with another filter or order.
        """
        if token is None or token == "":
            return None
        if not isinstance(token, str) or len(token) > TOKEN_MAX_CHARS:
            raise damaged_token()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, binascii.Error) as exc:  # UnicodeDecodeError is a ValueError
            raise damaged_token() from exc
        if not isinstance(body, list) or len(body) < 3:
            raise damaged_token()
        version, listing, fingerprint, *cursor = body
        if version != TOKEN_VERSION or isinstance(version, bool):
            raise InvalidArgumentError(
                "page_token was made by another version of metadb's page tokens: start again "
                "without page_token"
            )
        if listing != self.listing:
            raise InvalidArgumentError(
                f"page_token belongs to another listing: it is a next_page_token of "
                f"{_describe(listing)}, not of {self.listing}. Start again without page_token"
            )
        if fingerprint != self.fingerprint:
            raise InvalidArgumentError(
                f"page_token belongs to another search of {self.listing}: a next_page_token is "
                "valid only with the filter and order of the page that gave it. Repeat them, "
                "or start again without page_token"
            )
        if not all(_scalar(value) for value in cursor):
            raise damaged_token()
        return tuple(cursor)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a cursor holds")


def _scalar(value: object) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return True
    return isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX


def _describe(listing: object) -> str:
    text = str(listing)
    return text if text.isidentifier() and len(text) <= 40 else "another listing"


T_co = TypeVar("T_co", covariant=True)


class PageOf(Protocol[T_co]):
    """What :func:`walk_pages` needs of a page: its items and the next page's token."""

    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def next_page_token(self) -> str | None: ...


def walk_pages(
    fetch: Callable[[int, str | None], PageOf[T_co]],
    *,
    limit: int | None = None,
    page_token: str | None = None,
) -> list[T_co]:
    """Every item of a listing from ``page_token`` on, up to ``limit`` items (None: all), read
    page after page of at most :data:`MAX_LIMIT` with ``fetch(page_limit, page_token)``.

    Example::

        everything = walk_pages(lambda size, token: store.list_artifacts(
            ListOptions(limit=size, next_page_token=token)))
    """
    found: list[T_co] = []
    token = page_token
    while True:
        size = MAX_LIMIT if limit is None else min(MAX_LIMIT, limit - len(found))
        page = fetch(size, token)
        found += page.items
        token = page.next_page_token
        if not token or (limit is not None and len(found) >= limit):
            return found
