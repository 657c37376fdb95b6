"""Turn the database locations metadb accepts into driver-qualified SQLAlchemy URLs.

Input                                                       Becomes
----------------------------------------------------------  ----------------------------------
sqlite:///rel.db  sqlite:////abs.db  sqlite+pysqlite:///x   sqlite+pysqlite:///... (same file)
sqlite://  sqlite:///:memory:                               in-memory SQLite
sqlite3://dir/f.db  sqlite://dir/f.db  (golang-migrate)     relative file dir/f.db
postgresql:// postgres:// postgresql+psycopg(2):// pgx(5)://  postgresql+psycopg://...
host=H port=P user=U password=W dbname=D  (libpq) [1]       postgresql+psycopg://U:W@H:P/D
mysql:// mariadb:// mysql+pymysql:// mysql+mysqldb://       mysql+pymysql://... [3]
mysql://U:W@tcp(H:P)/D  (golang-migrate)                    mysql+pymysql://U:W@H:P/D [3]
U:W@tcp(H:P)/D  U:W@unix(SOCKET)/D  U:W@/D  (Go DSN) [2]    mysql+pymysql://... [3]

[1] needs database_type="postgresql".  [2] needs database_type="mysql", except that a string
without "://" containing "@tcp(" or "@unix(" is recognised by itself.  [3] Go-only options
(parseTime, loc, ...) are dropped and charset=utf8mb4 is added unless a charset is given.
golang-migrate's x-migrations-table parameter moves to DatabaseURL.migrations_table.

metadb's own parameter ``mlmd_text=latin1`` (or ``utf8mb4``) moves to DatabaseURL.mysql_text and
is never passed to the driver: on MySQL/MariaDB it stores text as ml-metadata's latin1 connection
does (see :mod:`metadb.db.mysql`); other databases accept and ignore it. Likewise
``statement_timeout=SECONDS`` moves to DatabaseURL.statement_timeout (the store's statement
timeout, :func:`metadb.connect`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, quote_plus

import psycopg
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from metadb.errors import ConfigError, UnsupportedDatabaseError

__all__ = ["DIALECTS", "MYSQL_TEXT_MODES", "DatabaseURL", "check_mysql_text", "parse_database_url"]

DIALECTS = ("sqlite", "postgresql", "mysql")

#: How metadb stores text in MLMD's tables on MySQL/MariaDB: "utf8mb4" (correct, the default)
#: or "mlmd-latin1" (as ml-metadata's C++ client does over its latin1 connection).
MYSQL_TEXT_MODES = ("utf8mb4", "mlmd-latin1")
#: The URL parameter that chooses the mode, and its values.
TEXT_PARAMETER = "mlmd_text"
#: metadb's parameter for the store's statement timeout in seconds; it never reaches the driver.
TIMEOUT_PARAMETER = "statement_timeout"
_TEXT_PARAMETER_VALUES = {"utf8mb4": "utf8mb4", "latin1": "mlmd-latin1"}

_DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
}

# URL scheme -> dialect: SQLAlchemy's names, their aliases and golang-migrate's driver names.
_SCHEMES = {
    **dict.fromkeys(("sqlite", "sqlite+pysqlite", "sqlite3"), "sqlite"),
    **dict.fromkeys(("postgresql", "postgres", "pgx", "pgx5"), "postgresql"),
    **dict.fromkeys(("postgresql+psycopg", "postgresql+psycopg2"), "postgresql"),
    **dict.fromkeys(("mysql", "mysql+pymysql", "mysql+mysqldb"), "mysql"),
    **dict.fromkeys(("mariadb", "mariadb+pymysql", "mariadb+mysqldb"), "mysql"),
}

# golang-migrate reads its own options from query parameters named "x-...": x-migrations-table,
# x-migrations-table-quoted, x-statement-timeout, x-multi-statement, x-multi-statement-max-size,
# x-lock-strategy, x-lock-table, x-no-lock, x-no-tx-wrap, x-tls-ca, x-tls-cert, x-tls-key and
# x-tls-insecure-skip-verify. Every "x-" parameter is removed from the URL; only the value of
# x-migrations-table is kept (as DatabaseURL.migrations_table).

# go-sql-driver/mysql options that PyMySQL does not take; dropped from every MySQL URL.
_GO_ONLY = {"parsetime", "loc", "timeout", "readtimeout", "writetimeout", "multistatements"}
_GO_ONLY |= {"allownativepasswords", "interpolateparams", "collation", "tls"}  # compared lowercased

_GO_NET = re.compile(r"@(tcp|unix)\(")
# The user info is greedy: a password may hold "@", ":" or "/"; the database name may not.
_GO_DSN = re.compile(
    r"(?:(?P<userinfo>.*)@)?(?:(?P<net>\w+)(?:\((?P<addr>[^)]*)\))?)?"
    r"/(?P<database>[^?/]*)(?:\?(?P<query>.*))?",
    re.DOTALL,
)
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", re.IGNORECASE)
_SQLITE_FILE = re.compile(r"\.(db|sqlite3?)$", re.IGNORECASE)


@dataclass(frozen=True, repr=False)
class DatabaseURL:
    """A database location metadb can connect to.

    ``url`` is driver-qualified and ready for ``create_engine``; ``dialect`` is one of
    :data:`DIALECTS` (MariaDB is ``"mysql"``). ``str()`` and ``repr()`` hide the password.
    """

    url: URL
    dialect: str
    migrations_table: str | None = None
    #: The text mode the URL asks for with ``mlmd_text=`` (one of :data:`MYSQL_TEXT_MODES`),
    #: or None when it does not say.
    mysql_text: str | None = None
    #: Seconds the store's statements may run (``statement_timeout=``, 0: no limit), or None
    #: when the URL does not say (:data:`metadb.store.session.DEFAULT_STATEMENT_TIMEOUT`).
    statement_timeout: float | None = None

    @property
    def database(self) -> str | None:
        """The database name, or the SQLite file path (``None`` for in-memory SQLite)."""
        return None if self.is_memory else self.url.database

    @property
    def is_memory(self) -> bool:
        """Whether this is an in-memory SQLite database."""
        return self.dialect == "sqlite" and self.url.database in (None, "", ":memory:")

    def text_mode(self, requested: str | None = None) -> str:
        """The text mode for MLMD's tables (one of :data:`MYSQL_TEXT_MODES`): ``requested``
        (``connect(mysql_text=...)``), else the URL's ``mlmd_text``, else "utf8mb4".

        Raises:
            ConfigError: ``requested`` is no mode, or it contradicts the URL's ``mlmd_text``.
        """
        if requested is None:
            return self.mysql_text or "utf8mb4"
        check_mysql_text(requested)
        if self.mysql_text is not None and self.mysql_text != requested:
            raise ConfigError(
                f"mysql_text={requested!r} contradicts the URL's {TEXT_PARAMETER} parameter "
                f"({self.mysql_text!r}); give one of them"
            )
        return requested

    def masked(self) -> str:
        """The URL as text with the password replaced by ``***``."""
        return self.url.render_as_string(hide_password=True)

    def scrub(self, text: str) -> str:
        """Replace every occurrence of the password (raw or URL-quoted) in ``text`` by ``***``.

        Example: ``url.scrub(str(driver_error))`` before showing a driver's message.
        """
        password = self.url.password
        if not password:
            return text
        for form in sorted(_password_forms(password), key=len, reverse=True):
            text = text.replace(form, "***")
        return text

    def with_database(self, name: str) -> DatabaseURL:
        """The same server with another database (for SQLite, ``name`` is a file path).

        Example: ``parse_database_url("postgresql://h/metadb").with_database("metadb_test")``.
        """
        return replace(self, url=self.url.set(database=name))

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return self.masked()


def parse_database_url(raw: str, *, database_type: str | None = None) -> DatabaseURL:
    """Parse any accepted database location (see the module docstring) into a DatabaseURL.

    ``database_type`` (``--database-type``) must be one of :data:`DIALECTS`; it is needed to
    read a libpq ``key=value`` string ("postgresql") and may name a Go MySQL DSN ("mysql").

    Raises :class:`~metadb.errors.UnsupportedDatabaseError` (its message shows the input with
    the password masked) for an unknown scheme or driver, a bare file path, a string that does
    not parse, or a URL whose dialect differs from ``database_type``.

    Example::

        >>> parse_database_url("postgres://me:pw@db:5432/metadb?sslmode=disable").masked()
        'postgresql+psycopg://me:***@db:5432/metadb?sslmode=disable'
    """
    text = raw.strip()
    shown = _mask_raw(text)
    if database_type is not None and database_type not in DIALECTS:
        reason = f"--database-type must be one of {', '.join(DIALECTS)}, not {database_type!r}"
        raise UnsupportedDatabaseError(shown, reason)
    if "://" in text:
        dialect, url = _parse_url(text, shown)
    elif database_type == "postgresql":
        dialect, url = "postgresql", _parse_libpq(text, shown)
    elif database_type == "mysql" or (database_type is None and _GO_NET.search(text)):
        dialect, url = "mysql", _parse_go_dsn(text, shown)
    else:
        raise UnsupportedDatabaseError(shown, _no_scheme_reason(text))
    if database_type is not None and database_type != dialect:
        raise UnsupportedDatabaseError(
            shown, f"the URL is for {dialect} but --database-type says {database_type}"
        )
    return _finish(url, dialect, shown)


def check_mysql_text(mode: str) -> str:
    """``mode`` if it is one of :data:`MYSQL_TEXT_MODES`; raises :class:`ConfigError` if not."""
    if mode not in MYSQL_TEXT_MODES:
        raise ConfigError(
            f"mysql_text must be one of {', '.join(map(repr, MYSQL_TEXT_MODES))}, not {mode!r}"
        )
    return mode


def _parse_url(text: str, shown: str) -> tuple[str, URL]:
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    dialect = _SCHEMES.get(scheme)
    if dialect is None:
        base, _, driver = scheme.partition("+")
        if base in _SCHEMES:
            driver_name = _DRIVERS[_SCHEMES[base]]
            reason = f"driver {driver!r} is not supported; metadb connects with {driver_name}"
        else:
            reason = f"unsupported scheme {scheme!r}"
        raise UnsupportedDatabaseError(shown, reason)
    if dialect == "sqlite" and (scheme == "sqlite3" or rest[:1] not in ("", "/", "?")):
        return dialect, _parse_migrate_sqlite(rest)
    if dialect == "mysql" and _GO_NET.search(rest):
        return dialect, _parse_go_dsn(rest, shown)
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        # from None: the parser's message may quote part of the password.
        raise UnsupportedDatabaseError(shown, "the URL does not parse") from None
    return dialect, url


def _parse_migrate_sqlite(rest: str) -> URL:
    """golang-migrate's ``sqlite3://PATH?QUERY``: everything after ``://`` is the file path."""
    path, _, query = rest.partition("?")
    return URL.create("sqlite+pysqlite", database=path or None, query=_query(query))


def _parse_go_dsn(dsn: str, shown: str) -> URL:
    """``[user[:password]@][net[(address)]]/dbname[?params]``, the go-sql-driver/mysql DSN."""
    match = _GO_DSN.fullmatch(dsn)
    if match is None:
        raise UnsupportedDatabaseError(shown, "not a Go DSN like USER:PASSWORD@tcp(HOST:PORT)/DB")
    user, _, password = (match["userinfo"] or "").partition(":")
    net, addr, query = match["net"] or "tcp", match["addr"] or "", _query(match["query"] or "")
    host: str | None = None
    port: int | None = None
    if net == "unix":
        query["unix_socket"] = addr or "/tmp/mysql.sock"
    elif net == "tcp":
        host, port = _host_port(addr, shown) if addr else ("localhost", 3306)
    else:
        raise UnsupportedDatabaseError(shown, f"unsupported Go MySQL DSN network {net!r}")
    return URL.create(
        "mysql+pymysql",
        username=user or None,
        password=password or None,
        host=host,
        port=port,
        database=match["database"] or None,
        query=query,
    )


def _host_port(addr: str, shown: str) -> tuple[str, int]:
    if addr.startswith("["):  # [IPv6]:port
        host, _, port = addr[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = addr.rpartition(":") if ":" in addr else (addr, "", "")
    if port and not port.isdigit():
        raise UnsupportedDatabaseError(shown, f"port {port!r} is not a number")
    return host or "localhost", int(port) if port else 3306


def _parse_libpq(text: str, shown: str) -> URL:
    """libpq ``key=value`` connection string (``host=... dbname=...``)."""
    try:
        params = {key: str(value) for key, value in conninfo_to_dict(text).items()}
    except psycopg.Error:
        raise UnsupportedDatabaseError(shown, "not a libpq 'key=value' string") from None
    if not params:
        raise UnsupportedDatabaseError(shown, "the database URL is empty")
    host, port = params.pop("host", None), params.pop("port", None)
    if port is not None and not port.isdigit():
        raise UnsupportedDatabaseError(shown, f"port {port!r} is not a number")
    if host is not None and host.startswith("/"):  # a socket directory goes in the query
        params["host"], host = host, None
    return URL.create(
        "postgresql+psycopg",
        username=params.pop("user", None),
        password=params.pop("password", None),
        host=host,
        port=int(port) if port else None,
        database=params.pop("dbname", None),
        query=params,
    )


def _finish(url: URL, dialect: str, shown: str) -> DatabaseURL:
    table = url.query.get("x-migrations-table")
    url = url.difference_update_query([k for k in url.query if k.startswith("x-")])
    text = url.query.get(TEXT_PARAMETER)
    url = url.difference_update_query([TEXT_PARAMETER])
    mysql_text = None
    if text is not None:
        mysql_text = _TEXT_PARAMETER_VALUES.get(_last(text))
        if mysql_text is None:
            choices = " or ".join(_TEXT_PARAMETER_VALUES)
            reason = f"the {TEXT_PARAMETER} parameter must be {choices}, not {_last(text)!r}"
            raise UnsupportedDatabaseError(shown, reason)
    timeout = url.query.get(TIMEOUT_PARAMETER)
    url = url.difference_update_query([TIMEOUT_PARAMETER])
    statement_timeout = None
    if timeout is not None:
        try:
            statement_timeout = float(_last(timeout))
        except ValueError:
            statement_timeout = -1.0
        if not 0 <= statement_timeout < 10**7:
            reason = (
                f"the {TIMEOUT_PARAMETER} parameter must be a number of seconds (0: no limit), "
                f"not {_last(timeout)!r}"
            )
            raise UnsupportedDatabaseError(shown, reason)
    if "password" in url.query and not url.password:  # so that masked() hides it too
        url = url.set(password=_last(url.query["password"]))
        url = url.difference_update_query(["password"])
    if dialect == "mysql":
        charset = url.query.get("charset")
        first = _last(charset).split(",")[0].strip() if charset else ""
        drop = [k for k in url.query if k.lower() in _GO_ONLY or k == "charset"]
        url = url.difference_update_query(drop).update_query_dict({"charset": first or "utf8mb4"})
    return DatabaseURL(
        url=url.set(drivername=_DRIVERS[dialect]),
        dialect=dialect,
        migrations_table=(_last(table) or None) if table else None,
        mysql_text=mysql_text,
        statement_timeout=statement_timeout,
    )


def _query(text: str) -> dict[str, str | Sequence[str]]:
    pairs: dict[str, list[str]] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        pairs.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in pairs.items()}


def _last(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else value[-1]


def _no_scheme_reason(text: str) -> str:
    if not text:
        return "the database URL is empty"
    if _SQLITE_FILE.search(text) or text.startswith(("/", "./", "../")):
        return f"a file path is not a database URL; for SQLite write sqlite:///{text}"
    return "no scheme such as postgresql:// was given"


def _mask_raw(text: str) -> str:
    """Hide the password of input that may not parse: URL userinfo, Go DSN or key=value."""
    text = _PASSWORD_KV.sub(r"\1***", text)
    head, at, tail = text.rpartition("@")
    if at:
        colon = head.find(":", head.find("://") + 3 if "://" in head else 0)
        if colon >= 0:
            text = f"{head[: colon + 1]}***@{tail}"
    return text


def _password_forms(password: str) -> set[str]:
    """The password as typed, URL-quoted, form-quoted and as SQLAlchemy renders it."""
    rendered = URL.create("x", "u", password).render_as_string(hide_password=False)
    return {password, quote(password, safe=""), quote_plus(password), rendered[len("x://u:") : -1]}
