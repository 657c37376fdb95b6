"""Migration sources: golang-migrate's directory format, read and checked before anything runs.

A source is one directory of files named as golang-migrate names them::

    000001_create_users.up.sql      000001_create_users.down.sql
    000002_backfill_names.py        (a Python step: def up(connection), def down(connection))

or a directory with one sub-directory per dialect (``sqlite/``, ``postgresql/``, ``mysql/``), of
which the one matching the database is used. Directives in a file's leading comments:

``-- metadb:no-transaction``  run the file outside a transaction (``CREATE INDEX CONCURRENTLY``);
                              its progress is then recorded per statement, as on MySQL.
``-- metadb:irreversible``    in an up file: this version deliberately has no down migration.

(``#`` instead of ``--`` in Python files.) Every file is read, hashed and split into statements
when the source is loaded, so a malformed source is rejected, naming the file and line, before
the first statement runs.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from metadb.errors import SourceError
from metadb.migrate.splitter import SqlSyntaxError, Statement, split_statements

Direction = Literal["up", "down"]

#: golang-migrate's file name pattern (source.DefaultParse).
SQL_FILE = re.compile(r"^([0-9]+)_(.*)\.(down|up)\.(.*)$")
PYTHON_FILE = re.compile(r"^([0-9]+)_(.*)\.py$")
DIALECT_DIRS = ("sqlite", "postgresql", "mysql")
NO_TRANSACTION = "metadb:no-transaction"
IRREVERSIBLE = "metadb:irreversible"
BUNDLED_SCHEMA = Path(__file__).resolve().parent.parent / "schema"


@dataclass(frozen=True)
class MigrationFile:
    """One direction of one version: an SQL file, or one function of a Python file."""

    version: int
    name: str
    direction: Direction
    path: Path
    checksum: str
    transactional: bool
    statements: tuple[Statement, ...] = ()
    python: bool = False
    irreversible: bool = False

    @property
    def statement_count(self) -> int:
        return 1 if self.python else len(self.statements)

    def statement_at(self, index: int) -> tuple[str, int]:
        """The text and line of statement ``index``, for progress and error messages."""
        if self.python:
            return f"{self.direction}(connection)  # {self.path.name}", 1
        statement = self.statements[index]
        return statement.text, statement.line


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: MigrationFile
    down: MigrationFile | None

    @property
    def irreversible(self) -> bool:
        return self.down is None


@dataclass
class MigrationSource:
    """The migrations of one directory for one dialect, ordered by version."""

    location: str
    migrations: list[Migration] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.migrations.sort(key=lambda m: m.version)
        self._by_version = {m.version: m for m in self.migrations}

    @property
    def versions(self) -> list[int]:
        return [m.version for m in self.migrations]

    def get(self, version: int) -> Migration | None:
        return self._by_version.get(version)

    def after(self, version: int | None) -> list[Migration]:
        """Migrations above ``version`` (all of them for None), oldest first."""
        return [m for m in self.migrations if version is None or m.version > version]

    def at_or_below(self, version: int | None) -> list[Migration]:
        """Migrations at or below ``version``, newest first (the order down runs them)."""
        if version is None:
            return []
        return [m for m in reversed(self.migrations) if m.version <= version]

    def previous(self, version: int) -> int | None:
        """The version before ``version`` in this source, or None when it is the first."""
        lower = [v for v in self.versions if v < version]
        return lower[-1] if lower else None

    def __iter__(self) -> Iterator[Migration]:
        return iter(self.migrations)

    def __len__(self) -> int:
        return len(self.migrations)


def load_source(path: Path | str | None, dialect: str) -> MigrationSource:
    """Read and check the migrations in ``path`` (metadb's bundled schema when None).

    Raises:
        SourceError: naming the file, for a missing directory, an unparsable file name, two
            files with one version, an up file without a down file (and no irreversible
            marker), a down file without an up file, an empty file, or SQL that cannot be split.
    """
    root = Path(path) if path is not None else BUNDLED_SCHEMA
    if not root.is_dir():
        raise SourceError(root, "is not a directory", hint="Pass --source DIR")
    directory = _dialect_directory(root, dialect)
    location = str(directory)
    ups: dict[int, MigrationFile] = {}
    downs: dict[int, MigrationFile] = {}
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith((".", "_")) or entry.is_dir():
            continue
        for file in _parse_entry(entry, dialect):
            table = ups if file.direction == "up" else downs
            other = table.get(file.version)
            if other is not None:
                raise SourceError(
                    entry,
                    f"has version {file.version} {file.direction}, as {other.path.name} does",
                    hint="Each version needs exactly one up and one down file; renumber one",
                )
            table[file.version] = file
    migrations = []
    for version, up in ups.items():
        down = downs.pop(version, None)
        if down is None and not up.irreversible:
            raise SourceError(
                up.path,
                "has no down migration",
                hint=(
                    f"Add {up.path.name.replace('.up.', '.down.')}, or mark this file "
                    f"irreversible with a first line '-- {IRREVERSIBLE}'"
                ),
            )
        migrations.append(Migration(version, up.name, up, down))
    for down in downs.values():
        raise SourceError(down.path, "is a down migration without an up migration")
    return MigrationSource(location, migrations)


def _dialect_directory(root: Path, dialect: str) -> Path:
    present = [d for d in DIALECT_DIRS if (root / d).is_dir()]
    if not present:
        return root
    loose = [p.name for p in root.iterdir() if p.is_file() and SQL_FILE.match(p.name)]
    if loose:
        raise SourceError(
            root,
            f"holds both dialect directories ({', '.join(present)}) and migration files "
            f"({loose[0]}, ...)",
            hint="Move the files into the dialect directories",
        )
    if dialect not in present:
        raise SourceError(
            root,
            f"has migrations for {', '.join(present)} but none for {dialect}",
            hint=f"Add a {dialect}/ directory",
        )
    return root / dialect


def _parse_entry(entry: Path, dialect: str) -> Sequence[MigrationFile]:
    sql = SQL_FILE.match(entry.name)
    if sql is not None:
        version, name, direction, ext = sql.groups()
        if ext != "sql":
            raise SourceError(entry, f"has extension .{ext}; metadb runs .sql and .py migrations")
        return [_sql_file(entry, _version(entry, version), name, direction, dialect)]  # type: ignore[arg-type]
    py = PYTHON_FILE.match(entry.name)
    if py is not None:
        return _python_files(entry, _version(entry, py.group(1)), py.group(2))
    if entry.suffix in (".sql", ".py"):
        raise SourceError(
            entry,
            "is not named like a migration",
            hint="Name it VERSION_TITLE.up.sql and VERSION_TITLE.down.sql, or VERSION_TITLE.py",
        )
    return []  # README.md, .gitkeep and the like are not migrations


def _version(entry: Path, digits: str) -> int:
    version = int(digits)
    if version >= 2**63:
        raise SourceError(entry, f"has version {digits}, larger than a bigint holds")
    return version


def _read(entry: Path) -> tuple[bytes, str]:
    raw = entry.read_bytes()
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(entry, f"is not UTF-8 text (byte {exc.start})") from exc
    if not body.strip():
        raise SourceError(
            entry,
            "is empty",
            hint="A migration needs a statement, or at least a comment saying why it has none",
        )
    return raw, body


def _sql_file(
    entry: Path, version: int, name: str, direction: Direction, dialect: str
) -> MigrationFile:
    raw, body = _read(entry)
    try:
        statements = split_statements(body, dialect)
    except SqlSyntaxError as exc:
        raise SourceError(f"{entry}:{exc.line}", exc.problem) from exc
    directives = _leading_comments(body, "--")
    return MigrationFile(
        version=version,
        name=name,
        direction=direction,
        path=entry,
        checksum=hashlib.sha256(raw).hexdigest(),
        transactional=NO_TRANSACTION not in directives,
        statements=tuple(statements),
        irreversible=IRREVERSIBLE in directives,
    )


def _python_files(entry: Path, version: int, name: str) -> list[MigrationFile]:
    raw, body = _read(entry)
    try:
        tree = ast.parse(body, filename=str(entry))
    except SyntaxError as exc:
        raise SourceError(f"{entry}:{exc.lineno}", f"is not valid Python: {exc.msg}") from exc
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if "up" not in functions:
        raise SourceError(entry, "defines no up(connection) function")
    directives = _leading_comments(body, "#")
    checksum = hashlib.sha256(raw).hexdigest()
    files = []
    directions: tuple[Direction, ...] = ("up", "down")
    for direction in directions:
        if direction in functions:
            files.append(
                MigrationFile(
                    version=version,
                    name=name,
                    direction=direction,
                    path=entry,
                    checksum=checksum,
                    transactional=NO_TRANSACTION not in directives,
                    python=True,
                    irreversible=IRREVERSIBLE in directives,
                )
            )
    if "down" not in functions and IRREVERSIBLE not in directives:
        raise SourceError(
            entry,
            "defines no down(connection) function",
            hint=f"Add one, or mark the file irreversible with a first line '# {IRREVERSIBLE}'",
        )
    return files


def _leading_comments(body: str, marker: str) -> str:
    """The comment lines at the top of a file, where directives live."""
    lines = []
    for line in body.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith(marker):
            break
        lines.append(stripped)
    return "\n".join(lines)
