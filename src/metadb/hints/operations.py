"""Parse one migration statement, in the database's dialect, into the schema operations it does.

sqlglot parses the statement; an ``ALTER TABLE`` with several actions gives one
:class:`Operation` per action. Statements sqlglot can only read as an opaque command (MySQL's
``RENAME TABLE`` and ``CREATE INDEX ... ALGORITHM=...``, PostgreSQL's ``VALIDATE CONSTRAINT``)
are recognised by their leading words. Anything else (DML, views, functions) gives no operation:
the rules have nothing to say about it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

__all__ = ["Operation", "OperationKind", "parse_operations"]

OperationKind = Literal[
    "create_table",
    "drop_table",
    "add_column",
    "drop_column",
    "set_not_null",
    "drop_not_null",
    "change_type",
    "create_index",
    "add_constraint",
    "validate_constraint",
    "rename_table",
    "rename_column",
]

#: Column types that take their values from a sequence (PostgreSQL's nextval(): volatile).
_SERIAL_TYPES = {
    exp.DataType.Type.SERIAL,
    exp.DataType.Type.BIGSERIAL,
    exp.DataType.Type.SMALLSERIAL,
}
_DDL_START = re.compile(
    r"^(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*(?!!).*?\*/)*(CREATE|ALTER|DROP|RENAME)\b",
    re.IGNORECASE | re.DOTALL,
)
_MYSQL_INDEX_OPTIONS = re.compile(
    r"(?:,?\s*\b(ALGORITHM|LOCK)\s*=?\s*(\w+))+\s*$", re.IGNORECASE | re.DOTALL
)
_MYSQL_OPTION = re.compile(r"\b(ALGORITHM|LOCK)\s*=?\s*(\w+)", re.IGNORECASE)
_CREATE_SPECIAL_INDEX = re.compile(
    r"^\s*CREATE\s+(FULLTEXT|SPATIAL)\s+INDEX\s+(\S+)\s+ON\s+(\S+?)\s*\(", re.IGNORECASE
)
_RENAME_TABLE = re.compile(r"^\s*RENAME\s+TABLES?\s+(.+)$", re.IGNORECASE | re.DOTALL)
_VALIDATE = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?(\S+)\s+VALIDATE\s+CONSTRAINT\s+(\S+)",
    re.IGNORECASE,
)
_USING_INDEX = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(\S+)\s+ADD\s+(?:CONSTRAINT\s+\S+\s+)?"
    r"(UNIQUE|PRIMARY\s+KEY)\s+USING\s+INDEX\s+(\S+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Operation:
    """One schema change of a statement, with what the rules need to know about it."""

    kind: OperationKind
    table: str
    schema: str | None = None
    #: The column(s) concerned: the added/dropped/altered column, or the key of an index or
    #: constraint. Empty for an index on expressions.
    columns: tuple[str, ...] = ()
    unique: bool = False
    #: PostgreSQL CREATE INDEX CONCURRENTLY.
    concurrently: bool = False
    #: "unique", "primary_key", "foreign_key" or "check" for constraints; "fulltext" or
    #: "spatial" for MySQL's special indexes.
    constraint: str | None = None
    #: PostgreSQL ... NOT VALID: the constraint is added without checking existing rows.
    not_valid: bool = False
    #: An added column is NOT NULL.
    not_null: bool = False
    #: The SQL of an added column's DEFAULT, if any.
    default: str | None = None
    #: Names of the functions the DEFAULT calls (lower case), to ask the server their volatility.
    default_functions: tuple[str, ...] = ()
    #: The added column takes values from a sequence or generator (serial, identity,
    #: AUTO_INCREMENT, GENERATED ... STORED): every existing row gets a new value.
    generated: bool = False
    #: The new type of an added or altered column, as SQL of the dialect.
    data_type: str | None = None
    #: Where MySQL adds the column: None (last), "FIRST" or "AFTER".
    position: str | None = None
    #: MySQL's ALGORITHM= and LOCK= clauses, upper case.
    algorithm: str | None = None
    lock: str | None = None
    #: The new name of a renamed table or column.
    new_name: str | None = None
    #: The WHERE of a partial index (its SQL), which the duplicates check applies too.
    predicate: str | None = None
    #: An index that already exists becomes the constraint (ADD CONSTRAINT ... USING INDEX).
    using_index: bool = False

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


def parse_operations(sql: str, dialect: str) -> list[Operation]:
    """The schema operations of one statement ``sql``, in sqlglot dialect ``dialect``.

    Never raises: a statement sqlglot cannot parse yields no operation.

    Example::

        >>> [op.kind for op in parse_operations("ALTER TABLE t ADD c int, DROP d", "postgres")]
        ['add_column', 'drop_column']
    """
    if not _DDL_START.match(sql):
        return []  # DML, SET, ... : skip the full parse (data migrations can be megabytes)
    with _quiet_sqlglot():
        special = _from_command_text(sql, dialect)
        if special is not None:
            return special
        try:
            parsed = sqlglot.parse(sql, read=dialect)
        except SqlglotError:
            return []
    operations: list[Operation] = []
    for tree in parsed:
        if tree is None:
            continue
        normalized = normalize_identifiers(tree, dialect=dialect)
        if isinstance(normalized, exp.Expression):
            operations.extend(_Reader(dialect).read(normalized))
    return operations


class _DropFallbackWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


_FILTER = _DropFallbackWarnings()


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for every statement it reads as an opaque command; the rules
    expect those (they have nothing to say about such statements), users need not see them."""
    logger = logging.getLogger("sqlglot")
    logger.addFilter(_FILTER)
    try:
        yield
    finally:
        logger.removeFilter(_FILTER)


def _from_command_text(sql: str, dialect: str) -> list[Operation] | None:
    """The statements sqlglot parses only as an opaque command, read by their words."""
    text = _strip_comments(sql)
    match = _VALIDATE.match(text)
    if match:
        table, schema = _name(match.group(1), dialect)
        return [Operation("validate_constraint", table, schema, constraint=match.group(2))]
    match = _USING_INDEX.match(text)
    if match:
        table, schema = _name(match.group(1), dialect)
        key = "primary_key" if match.group(2).upper().startswith("PRIMARY") else "unique"
        return [
            Operation("create_index", table, schema, unique=True, constraint=key, using_index=True)
        ]
    match = _RENAME_TABLE.match(text)
    if match:
        operations = []
        for pair in match.group(1).split(","):
            old, _, new = pair.partition(" TO ") if " TO " in pair else pair.partition(" to ")
            table, schema = _name(old.strip(), dialect)
            operations.append(Operation("rename_table", table, schema, new_name=new.strip()))
        return operations
    if text.lstrip().upper().startswith("CREATE") and re.search(r"\bINDEX\b", text, re.I):
        options = {k.upper(): v.upper() for k, v in _MYSQL_OPTION.findall(text)}
        special = _CREATE_SPECIAL_INDEX.match(text)
        if special is None and not options:
            return None  # sqlglot reads it
        stripped = _MYSQL_INDEX_OPTIONS.sub("", text.rstrip().rstrip(";"))
        kind: str | None = None
        if special is not None:
            kind = special.group(1).lower()
            stripped = re.sub(special.group(1), "", stripped, count=1, flags=re.IGNORECASE)
        try:
            tree = sqlglot.parse_one(stripped, read=dialect)
        except SqlglotError:
            return []
        normalized = normalize_identifiers(tree, dialect=dialect)
        if not isinstance(normalized, exp.Expression):
            return []
        return [
            Operation(
                **{
                    **op.__dict__,
                    "constraint": kind or op.constraint,
                    "algorithm": options.get("ALGORITHM"),
                    "lock": options.get("LOCK"),
                }
            )
            for op in _Reader(dialect).read(normalized)
        ]
    return None


def _strip_comments(sql: str) -> str:
    lines = [line for line in sql.splitlines() if not line.strip().startswith(("--", "#"))]
    return "\n".join(lines).strip()


def _name(raw: str, dialect: str) -> tuple[str, str | None]:
    try:
        table = exp.to_table(raw, dialect=dialect)
    except SqlglotError:
        return raw, None
    table = normalize_identifiers(table, dialect=dialect)
    return table.name, table.db or None


class _Reader:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def read(self, tree: exp.Expression) -> list[Operation]:
        if isinstance(tree, exp.Create):
            return self._create(tree)
        if isinstance(tree, exp.Drop) and (tree.args.get("kind") or "").upper() == "TABLE":
            return [
                Operation("drop_table", t.name, t.db or None)
                for t in tree.args.get("tables") or [tree.this]
                if isinstance(t, exp.Table)
            ]
        if isinstance(tree, exp.Alter) and (tree.args.get("kind") or "").upper() == "TABLE":
            return self._alter(tree)
        return []

    def _create(self, tree: exp.Create) -> list[Operation]:
        kind = (tree.args.get("kind") or "").upper()
        if kind == "TABLE":
            target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            if isinstance(target, exp.Table):
                return [Operation("create_table", target.name, target.db or None)]
            return []
        if kind != "INDEX" or not isinstance(tree.this, exp.Index):
            return []
        index = tree.this
        table = index.args.get("table")
        if not isinstance(table, exp.Table):
            return []
        params = index.args.get("params")
        keys = params.args.get("columns") if params is not None else None
        where = params.args.get("where") if params is not None else None
        return [
            Operation(
                "create_index",
                table.name,
                table.db or None,
                columns=_key_columns(keys or []),
                unique=bool(tree.args.get("unique")),
                concurrently=bool(tree.args.get("concurrently")),
                predicate=where.this.sql(dialect=self.dialect) if where is not None else None,
            )
        ]

    def _alter(self, tree: exp.Alter) -> list[Operation]:
        table = tree.this
        if not isinstance(table, exp.Table):
            return []
        base = {"table": table.name, "schema": table.db or None}
        options = {
            type(o).__name__: o.name.upper() for o in tree.args.get("options") or [] if o.name
        }
        mysql = {"algorithm": options.get("AlgorithmProperty"), "lock": options.get("LockProperty")}
        not_valid = bool(tree.args.get("not_valid"))
        operations: list[Operation] = []
        for action in tree.args.get("actions") or []:
            operations.extend(self._action(action, base, not_valid))
        return [Operation(**{**op.__dict__, **mysql}) for op in operations]

    def _action(
        self, action: exp.Expression, base: dict[str, str | None], not_valid: bool
    ) -> list[Operation]:
        table, schema = str(base["table"]), base["schema"]
        if isinstance(action, exp.ColumnDef):
            return [self._add_column(action, table, schema)]
        if isinstance(action, exp.Drop):
            kind = (action.args.get("kind") or "").upper()
            if kind == "COLUMN":
                return [
                    Operation("drop_column", table, schema, columns=(c.name,))
                    for c in action.args.get("tables") or []
                ]
            return []
        if isinstance(action, exp.AlterColumn):
            column = (action.name,)
            if action.args.get("dtype") is not None:
                dtype = action.args["dtype"].sql(dialect=self.dialect)
                return [Operation("change_type", table, schema, columns=column, data_type=dtype)]
            if action.args.get("allow_null") is False:
                return [Operation("set_not_null", table, schema, columns=column)]
            if action.args.get("drop") and action.args.get("allow_null"):
                return [Operation("drop_not_null", table, schema, columns=column)]
            return []
        if isinstance(action, exp.ModifyColumn):
            return self._modify(action, table, schema)
        if isinstance(action, exp.AddConstraint):
            return [
                op
                for item in action.expressions
                if (op := self._constraint(item, table, schema, not_valid)) is not None
            ]
        if isinstance(action, exp.RenameColumn):
            new = action.args.get("to")
            return [
                Operation(
                    "rename_column",
                    table,
                    schema,
                    columns=(action.this.name,),
                    new_name=new.name if new is not None else None,
                )
            ]
        if isinstance(action, exp.AlterRename):
            return [Operation("rename_table", table, schema, new_name=action.this.name)]
        return []

    def _add_column(self, column: exp.ColumnDef, table: str, schema: str | None) -> Operation:
        kinds = [c.args.get("kind") for c in column.args.get("constraints") or []]
        default = next((k.this for k in kinds if isinstance(k, exp.DefaultColumnConstraint)), None)
        dtype = column.args.get("kind")
        generated = any(
            isinstance(
                k,
                exp.GeneratedAsIdentityColumnConstraint
                | exp.AutoIncrementColumnConstraint
                | exp.ComputedColumnConstraint,
            )
            for k in kinds
        ) or (isinstance(dtype, exp.DataType) and dtype.this in _SERIAL_TYPES)
        position = column.args.get("position")
        return Operation(
            "add_column",
            table,
            schema,
            columns=(column.name,),
            not_null=any(
                isinstance(k, exp.NotNullColumnConstraint | exp.PrimaryKeyColumnConstraint)
                for k in kinds
            ),
            unique=any(
                isinstance(k, exp.UniqueColumnConstraint | exp.PrimaryKeyColumnConstraint)
                for k in kinds
            ),
            default=default.sql(dialect=self.dialect) if default is not None else None,
            default_functions=_functions(default, self.dialect) if default is not None else (),
            generated=generated,
            data_type=dtype.sql(dialect=self.dialect) if dtype is not None else None,
            position=(position.args.get("position") or "").upper() or None
            if position is not None
            else None,
        )

    def _modify(self, action: exp.ModifyColumn, table: str, schema: str | None) -> list[Operation]:
        definition = action.this
        if not isinstance(definition, exp.ColumnDef):
            return []
        old = action.args.get("rename_from")
        name = old.name if old is not None else definition.name
        dtype = definition.args.get("kind")
        operations = [
            Operation(
                "change_type",
                table,
                schema,
                columns=(name,),
                data_type=dtype.sql(dialect=self.dialect) if dtype is not None else None,
            )
        ]
        kinds = [c.args.get("kind") for c in definition.args.get("constraints") or []]
        if any(isinstance(k, exp.NotNullColumnConstraint) for k in kinds):
            operations.append(Operation("set_not_null", table, schema, columns=(name,)))
        if old is not None and old.name != definition.name:
            operations.append(
                Operation("rename_column", table, schema, columns=(name,), new_name=definition.name)
            )
        return operations

    def _constraint(
        self, item: exp.Expression, table: str, schema: str | None, not_valid: bool
    ) -> Operation | None:
        if isinstance(item, exp.Constraint):
            inner = item.expressions[0] if item.expressions else None
            return self._constraint(inner, table, schema, not_valid) if inner else None
        if isinstance(item, exp.UniqueColumnConstraint):
            columns = item.this.expressions if isinstance(item.this, exp.Schema) else []
            return Operation(
                "create_index",
                table,
                schema,
                columns=tuple(c.name for c in columns),
                unique=True,
                constraint="unique",
            )
        if isinstance(item, exp.PrimaryKey):
            return Operation(
                "create_index",
                table,
                schema,
                columns=tuple(c.name for c in item.expressions),
                unique=True,
                constraint="primary_key",
            )
        if isinstance(item, exp.IndexColumnConstraint):
            kind = item.args.get("kind")
            return Operation(
                "create_index",
                table,
                schema,
                columns=tuple(c.name for c in item.expressions),
                constraint=str(kind).lower() if kind else None,
            )
        if isinstance(item, exp.ForeignKey):
            return Operation(
                "add_constraint",
                table,
                schema,
                columns=tuple(c.name for c in item.expressions),
                constraint="foreign_key",
                not_valid=not_valid,
            )
        if isinstance(item, exp.CheckColumnConstraint):
            return Operation(
                "add_constraint", table, schema, constraint="check", not_valid=not_valid
            )
        return None


def _key_columns(keys: list[exp.Expression]) -> tuple[str, ...]:
    """The column names of an index key; empty when any part is an expression."""
    names = []
    for key in keys:
        inner = key.this if isinstance(key, exp.Ordered) else key
        if not isinstance(inner, exp.Column):
            return ()
        names.append(inner.name)
    return tuple(names)


def _functions(default: exp.Expression, dialect: str) -> tuple[str, ...]:
    names = []
    for func in default.find_all(exp.Func):
        if isinstance(func, exp.Anonymous):
            names.append(func.name.lower())
            continue
        sql = func.sql(dialect=dialect)
        if "(" in sql:
            names.append(sql.split("(", 1)[0].strip().lower())
    return tuple(names)
