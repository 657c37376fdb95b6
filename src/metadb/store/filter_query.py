"""Compile ml-metadata's ``filter_query`` into a SQLAlchemy condition on a node table.

The grammar is in :mod:`metadb.store.filter_parser`. Meaning, as ml-metadata's SQL has it:

* Every neighbor alias (``contexts_a``, ``events_0``, ...), every property
  (``properties.p``, ``custom_properties.p``) and ``type`` is ONE inner join for the whole
  query: a node matches when some combination of joined rows makes the condition true. So
  ``contexts_a.name = 'x' AND contexts_a.type = 'T'`` needs one context with both, two aliases
  may be two contexts, ``NOT contexts_a.name = 'x'`` means "has a context not named x", and a
  property mentioned anywhere (even under OR) is required to exist. metadb states that as
  EXISTS subqueries, split wherever the logic allows (an AND of conditions on different aliases,
  each side of an OR) so that each subquery joins as few tables as possible.
* ``state != LIVE`` and ``state NOT IN (...)`` on enum fields also match NULL (ml-metadata
  rewrites them so); ``NOT state = LIVE`` does not.
* Comparisons follow SQL's three-valued logic and the database's collation (LIKE and ``=`` are
  case-insensitive on MySQL, LIKE is on SQLite, as with ml-metadata).
* Extensions over ml-metadata: neighbors' properties (``contexts_a.properties.p.int_value``,
  joined to that alias's row), every node attribute on neighbors, all enum values.

The result is TRUE for matching nodes and FALSE or NULL otherwise: use it in WHERE, don't negate it.

A query may join at most ``max_joins`` groups (:class:`~metadb.store.limits.QueryLimits`):
each neighbor alias, each property and ``type`` is one. Hundreds of aliases made PostgreSQL
plan and run joins for minutes; the limit refuses such a query before it is sent.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    FromClause,
    and_,
    false,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)

from metadb.store import filter_parser as ast
from metadb.store.filter_parser import fail
from metadb.store.limits import DEFAULT_QUERY_LIMITS, QueryLimits
from metadb.store.model import ArtifactState, EventType, ExecutionState, TypeKind
from metadb.store.tables import MlmdTables

__all__ = ["compile_filter"]

KINDS = ("artifact", "execution", "context")


@dataclass(frozen=True)
class _ValueType:
    name: str  # integer, double, string, boolean, or the enum's name
    enum: type[IntEnum] | None = None

    @property
    def numeric(self) -> bool:
        return self.name in ("integer", "double")


_INT = _ValueType("integer")
_DOUBLE = _ValueType("double")
_STRING = _ValueType("string")
_BOOL = _ValueType("boolean")
_VALUE_KIND_TYPES = {
    "int_value": _INT,
    "double_value": _DOUBLE,
    "string_value": _STRING,
    "bool_value": _BOOL,
}

_COMMON = {
    "id": _INT,
    "type_id": _INT,
    "type": _STRING,
    "name": _STRING,
    "external_id": _STRING,
    "create_time_since_epoch": _INT,
    "last_update_time_since_epoch": _INT,
}
_ATTRIBUTES: dict[str, dict[str, _ValueType]] = {
    "artifact": {**_COMMON, "uri": _STRING, "state": _ValueType("state", ArtifactState)},
    "execution": {**_COMMON, "last_known_state": _ValueType("state", ExecutionState)},
    "context": dict(_COMMON),
    "event": {
        "type": _ValueType("event type", EventType),
        "artifact_id": _INT,
        "execution_id": _INT,
        "milliseconds_since_epoch": _INT,
    },
}
#: For each node kind, the neighbor prefixes it may use and the kind of node they reach.
_NEIGHBORS = {
    "artifact": {"contexts": "context", "events": "event"},
    "execution": {"contexts": "context", "events": "event"},
    "context": {
        "parent_contexts": "context",
        "child_contexts": "context",
        "artifacts": "artifact",
        "executions": "execution",
    },
}
_TYPE_KINDS = {"artifact": TypeKind.ARTIFACT, "execution": TypeKind.EXECUTION}
_TYPE_KINDS["context"] = TypeKind.CONTEXT


def compile_filter(
    query: str, *, kind: str, tables: MlmdTables, limits: QueryLimits = DEFAULT_QUERY_LIMITS
) -> ColumnElement[bool]:
    """Compile an MLMD filter_query for nodes of ``kind`` ("artifact" | "execution" | "context")
    into a boolean SQLAlchemy expression over ``tables.nodes(kind).node`` (use it as
    select(node.c.id).where(expr)). Values are always bound parameters, never formatted into SQL.
    Raises InvalidArgumentError naming the position (1-based column) and what was expected,
    or the limit of ``limits`` the query is over.

    Example: ``compile_filter("contexts_run.name = 'r1' AND uri LIKE '/data/%'",
    kind="artifact", tables=mlmd_tables("sqlite"))``. A query compiles once per kind and
    tables; the expression is reused.
    """
    return _compile_cached(query, kind, tables, limits)


@functools.lru_cache(maxsize=512)
def _compile_cached(
    query: str, kind: str, tables: MlmdTables, limits: QueryLimits
) -> ColumnElement[bool]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    resolver = _Resolver(kind, tables, limits)
    resolved = resolver.resolve(ast.parse(query, limits=limits), negated=False)
    return _core(resolved)


# ------------------------------------------------------------------------------- join groups


@dataclass(eq=False)
class _Group:
    """One inner join of the query: the tables it brings and how they attach to the node.

    Tables join in a chain: each condition refers to an earlier table of the group, and the
    group's ``anchor`` column equals the node's id (``type_anchor``: the node's type_id). A
    group is used whole: every subquery over it includes all its tables.
    """

    order: int
    label: str
    node: FromClause
    froms: list[FromClause] = field(default_factory=list)
    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    anchor: ColumnElement[Any] | None = None
    type_anchor: ColumnElement[Any] | None = None
    #: For neighbor groups: the neighbor's kind and row, its Type row and its property rows.
    kind: str = ""
    row: FromClause | None = None
    type_row: FromClause | None = None
    properties: dict[tuple[bool, str], FromClause] = field(default_factory=dict)


# ----------------------------------------------------------------------------- resolved tree


@dataclass(frozen=True)
class _Atom:
    sql: ColumnElement[bool]
    groups: frozenset[_Group]


@dataclass(frozen=True)
class _Junction:
    is_and: bool
    items: tuple[_Resolved, ...]
    groups: frozenset[_Group]


_Resolved = _Atom | _Junction


@dataclass(frozen=True)
class _Column:
    sql: ColumnElement[Any]
    type: _ValueType
    groups: frozenset[_Group]
    text: str


class _Resolver:
    """Checks names and types against the node kind and turns predicates into SQL."""

    def __init__(
        self, kind: str, tables: MlmdTables, limits: QueryLimits = DEFAULT_QUERY_LIMITS
    ) -> None:
        self.kind = kind
        self.tables = tables
        self.limits = limits
        self.node = tables.nodes(kind).node
        self.groups: dict[tuple[object, ...], _Group] = {}
        self.joins = 0

    # -- boolean structure, with NOT pushed down to the predicates

    def resolve(self, expr: ast.Expr, *, negated: bool) -> _Resolved:
        if isinstance(expr, ast.Not):
            return self.resolve(expr.operand, negated=not negated)
        if isinstance(expr, (ast.And, ast.Or)):
            is_and = isinstance(expr, ast.And) != negated
            items: list[_Resolved] = []
            for item in expr.items:
                child = self.resolve(item, negated=negated)
                if isinstance(child, _Junction) and child.is_and == is_and:
                    items.extend(child.items)
                else:
                    items.append(child)
            groups = frozenset().union(*(item.groups for item in items))
            return _Junction(is_and, tuple(items), groups)
        sql, groups = self.predicate(expr)
        return _Atom(not_(sql) if negated else sql, groups)

    def predicate(self, pred: ast.Predicate) -> tuple[ColumnElement[bool], frozenset[_Group]]:
        if isinstance(pred, ast.Constant):
            return (true() if pred.value else false()), frozenset()
        if isinstance(pred, ast.Comparison):
            return self.comparison(pred)
        column = self.column(pred.field)
        sql: ColumnElement[bool]
        if isinstance(pred, ast.IsNull):
            sql = column.sql.is_not(None) if pred.negated else column.sql.is_(None)
        elif isinstance(pred, ast.BoolTest):
            if column.type != _BOOL:
                fail(
                    pred.follow_pos,
                    f"expected a comparison operator after {column.text!r}, found {pred.follow}",
                )
            sql = column.sql == literal(True, Boolean())
        elif isinstance(pred, ast.Like):
            if column.type != _STRING:
                fail(pred.pattern.pos, f"LIKE needs a string field; {column.text} is {_a(column)}")
            pattern = literal(pred.pattern.value, column.sql.type)
            sql = column.sql.not_like(pattern) if pred.negated else column.sql.like(pattern)
        elif isinstance(pred, ast.InList):
            values = [self.value(v, column) for v in pred.values]
            if pred.negated:
                sql = column.sql.not_in(values)
                if column.type.enum is not None:
                    sql = or_(sql, column.sql.is_(None))
            else:
                sql = column.sql.in_(values)
        else:
            between = column.sql.between(
                self.value(pred.low, column), self.value(pred.high, column)
            )
            sql = not_(between) if pred.negated else between
        return sql, column.groups

    def comparison(self, pred: ast.Comparison) -> tuple[ColumnElement[bool], frozenset[_Group]]:
        op = "!=" if pred.op == "<>" else pred.op
        left, right = pred.left, pred.right
        # A lone word is a field when it names one, else a value (an enum such as LIVE).
        left_is_field, right_is_field = self.is_field(left), self.is_field(right)
        if not left_is_field and not right_is_field:
            for operand in (left, right):
                if isinstance(operand, ast.Field):
                    self.column(operand)  # raises: unknown attribute
            fail(pred.pos, f"expected a field on one side of {pred.op!r}")
        if left_is_field and right_is_field:
            assert isinstance(left, ast.Field) and isinstance(right, ast.Field)
            a, b = self.column(left), self.column(right)
            if not (a.type == b.type or (a.type.numeric and b.type.numeric)):
                fail(pred.pos, f"cannot compare {a.text} ({_a(a)}) with {b.text} ({_a(b)})")
            return _OPERATORS[op](a.sql, b.sql), a.groups | b.groups
        if not left_is_field:  # value op field: turn it around
            left, right, op = right, left, _FLIPPED[op]
        assert isinstance(left, ast.Field)
        column = self.column(left)
        value = self.value(_as_value(right), column)
        sql = _OPERATORS[op](column.sql, value)
        if op == "!=" and column.type.enum is not None:
            sql = or_(sql, column.sql.is_(None))
        if op == "=" and column.sql is self.node.c.name:
            # True of every node, but it lets the database use UNIQUE(type_id, name), the only
            # index ml-metadata's schema has on names.
            types = self.tables.type.alias()
            kinds = select(types.c.id).where(
                types.c.type_kind == literal(int(_TYPE_KINDS[self.kind]), BigInteger())
            )
            sql = and_(sql, self.node.c.type_id.in_(kinds))
        return sql, column.groups

    # -- values

    def value(self, value: ast.Value, column: _Column) -> ColumnElement[Any]:
        """``value`` as a bound parameter comparable with ``column``, or an error."""
        kind = column.type
        if isinstance(value, ast.EnumName):
            if kind.enum is None:
                fail(
                    value.pos,
                    f"expected {_a(column)} value for {column.text}, found {value.text!r}",
                )
            if value.name not in kind.enum.__members__:
                names = ", ".join(kind.enum.__members__)
                fail(value.pos, f"expected one of {names} for {column.text}, found {value.text!r}")
            return literal(int(kind.enum[value.name]), BigInteger())
        v = value.value
        if kind.enum is not None and isinstance(v, int) and not isinstance(v, bool):
            return literal(v, BigInteger())
        if kind.numeric and isinstance(v, (int, float)) and not isinstance(v, bool):
            if kind == _INT and isinstance(v, int):
                return literal(v, BigInteger())
            return literal(float(v), Float())
        if kind == _STRING and isinstance(v, str):
            return literal(v, column.sql.type)  # typed as the column: a text mode converts it
        if kind == _BOOL and isinstance(v, bool):
            return literal(v, Boolean())
        if kind.enum is not None:
            example = next(iter(kind.enum.__members__))
            fail(
                value.pos,
                f"expected a {kind.name} such as {example} for {column.text}, found {value.text}",
            )
        fail(value.pos, f"expected {_a(column)} value for {column.text}, found {value.text}")

    # -- names

    def is_field(self, operand: ast.Operand) -> bool:
        if not isinstance(operand, ast.Field):
            return False
        if not operand.bare:
            return True
        assert isinstance(operand.target, ast.Attribute)
        return operand.target.name.lower() in _ATTRIBUTES[self.kind]

    def column(self, f: ast.Field) -> _Column:
        if f.neighbor is None:
            if isinstance(f.target, ast.Property):
                group = self.property_group(f.target, f.pos)
                return self.property_column(group.froms[0], f, group)
            name = self.attribute_name(f, f.target, self.kind)
            if name == "type":
                group = self.type_group(f.pos)
                return _Column(group.froms[0].c.name, _STRING, frozenset({group}), f.text)
            return _Column(self.node.c[name], _ATTRIBUTES[self.kind][name], frozenset(), f.text)
        group = self.neighbor_group(f.neighbor, f.pos)
        assert group.row is not None
        if isinstance(f.target, ast.Property):
            if group.kind == "event":
                fail(f.pos, f"{f.neighbor.label} is an event; events have no properties")
            key = (f.target.custom, f.target.name)
            if key not in group.properties:
                self.count_join(f"{f.neighbor.label}'s property {f.target.name!r}", f.pos)
                props = self.tables.nodes(group.kind)
                row = props.properties.alias()
                group.properties[key] = row
                group.froms.append(row)
                group.conditions.extend(_property_link(row, props.owner, group.row.c.id, *key))
            return self.property_column(group.properties[key], f, group)
        name = self.attribute_name(f, f.target, group.kind)
        if name == "type" and group.kind != "event":
            if group.type_row is None:
                group.type_row = self.tables.type.alias()
                group.froms.append(group.type_row)
                group.conditions.append(group.type_row.c.id == group.row.c.type_id)
            return _Column(group.type_row.c.name, _STRING, frozenset({group}), f.text)
        return _Column(group.row.c[name], _ATTRIBUTES[group.kind][name], frozenset({group}), f.text)

    def attribute_name(self, f: ast.Field, target: ast.Attribute, kind: str) -> str:
        name = target.name.lower()
        if name in _ATTRIBUTES[kind]:
            return name
        where = f"{f.neighbor.label} ({kind}s)" if f.neighbor else f"{kind}s"
        names = ", ".join(_ATTRIBUTES[kind])
        if f.neighbor is None:
            names += ", properties.<name>.<value>, custom_properties.<name>.<value>"
            names += "".join(f", {p}_<alias>.<attribute>" for p in _NEIGHBORS[kind])
        elif kind != "event":
            names += ", properties.<name>.<value>, custom_properties.<name>.<value>"
        fail(f.pos, f"unknown attribute {target.name!r} for {where}; expected one of {names}")

    def property_column(self, row: FromClause, f: ast.Field, group: _Group) -> _Column:
        assert isinstance(f.target, ast.Property)
        kind = f.target.kind
        return _Column(row.c[kind], _VALUE_KIND_TYPES[kind], frozenset({group}), f.text)

    def group(self, key: tuple[object, ...], label: str, pos: int) -> tuple[_Group, bool]:
        """The group for ``key``, and whether it is new."""
        if key in self.groups:
            return self.groups[key], False
        self.count_join(label, pos)
        group = _Group(len(self.groups), label, self.node)
        self.groups[key] = group
        return group, True

    def count_join(self, label: str, pos: int) -> None:
        """Count one more join (a group, or a neighbor's property row); refuse one too many."""
        self.joins += 1
        if self.joins > self.limits.max_joins:
            fail(
                pos,
                f"{label} would be join {self.joins}; a query may join at most "
                f"{self.limits.max_joins} (each neighbor alias, property and 'type' is one). "
                "Reuse aliases or split the query",
            )

    def type_group(self, pos: int) -> _Group:
        group, new = self.group(("type",), "type", pos)
        if new:
            row = self.tables.type.alias()
            group.froms.append(row)
            group.type_anchor = row.c.id
            group.conditions.append(
                row.c.type_kind == literal(int(_TYPE_KINDS[self.kind]), BigInteger())
            )
        return group

    def property_group(self, prop: ast.Property, pos: int) -> _Group:
        which = "custom_properties" if prop.custom else "properties"
        group, new = self.group((which, prop.name), f"{which}.{prop.name}", pos)
        if new:
            props = self.tables.nodes(self.kind)
            row = props.properties.alias()
            group.froms.append(row)
            group.anchor = row.c[props.owner]
            group.conditions += _property_link(row, None, None, prop.custom, prop.name)
        return group

    def neighbor_group(self, neighbor: ast.Neighbor, pos: int) -> _Group:
        allowed = _NEIGHBORS[self.kind]
        if neighbor.prefix not in allowed:
            choices = ", ".join(f"{p}_<alias>" for p in allowed)
            fail(
                pos,
                f"{neighbor.label} cannot be used when filtering {self.kind}s: {neighbor.prefix}_ "
                f"is not a neighbor of {self.kind}s; expected one of {choices}",
            )
        group, new = self.group(("neighbor", neighbor.prefix, neighbor.alias), neighbor.label, pos)
        if new:
            group.kind = allowed[neighbor.prefix]
            self.link_neighbor(group, neighbor.prefix)
        return group

    def link_neighbor(self, group: _Group, prefix: str) -> None:
        t = self.tables
        if prefix == "events":
            row = t.event.alias()
            group.froms.append(row)
            group.anchor = row.c[f"{self.kind}_id"]
            group.row = row
            return
        row = t.nodes(group.kind).node.alias()
        if prefix == "contexts":
            link = (t.attribution if self.kind == "artifact" else t.association).alias()
            group.anchor = link.c[f"{self.kind}_id"]
            condition = row.c.id == link.c.context_id
        elif prefix in ("parent_contexts", "child_contexts"):
            link = t.parent_context.alias()
            mine, theirs = link.c.context_id, link.c.parent_context_id
            if prefix == "child_contexts":
                mine, theirs = theirs, mine
            group.anchor = mine
            condition = row.c.id == theirs
        else:
            link = (t.attribution if prefix == "artifacts" else t.association).alias()
            group.anchor = link.c.context_id
            condition = row.c.id == link.c[f"{group.kind}_id"]
        group.froms += [link, row]
        group.conditions.append(condition)
        group.row = row


def _property_link(
    row: FromClause, owner: str | None, owner_id: ColumnElement[Any] | None, custom: bool, name: str
) -> list[ColumnElement[bool]]:
    """The conditions that pick one property row (of ``owner_id`` when given)."""
    conditions = [
        row.c.name == literal(name, row.c.name.type),
        row.c.is_custom_property == literal(custom, Boolean()),
    ]
    if owner is not None and owner_id is not None:
        conditions.insert(0, row.c[owner] == owner_id)
    return conditions


def _as_value(operand: ast.Operand) -> ast.Value:
    if isinstance(operand, ast.Field):  # a bare word that is not an attribute: an enum value
        return ast.EnumName(operand.text, operand.pos, operand.text)
    return operand


def _a(column: _Column) -> str:
    name = column.type.name
    return ("an " if name[0] in "aeiou" else "a ") + name


_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_FLIPPED = {"=": "=", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


# ------------------------------------------------------------------------ EXISTS placement


def _core(expr: _Resolved) -> ColumnElement[bool]:
    """SQL that is TRUE iff some rows of ``expr``'s groups make ``expr`` TRUE.

    Exact because the groups are independent given the node: EXISTS distributes over OR, and
    over an AND whose parts share no group. Anything else gets one EXISTS over its groups.
    """
    if not expr.groups:
        return _plain(expr)
    if isinstance(expr, _Atom):
        return _exists(expr.groups, expr.sql)
    if not expr.is_and:
        return or_(*(_with_rest(item, expr.groups) for item in expr.items))
    parts: list[ColumnElement[bool]] = []
    for groups, items in _components(expr.items):
        if not groups:
            parts += [_plain(item) for item in items]
        elif len(items) == 1:
            parts.append(_core(items[0]))
        else:
            parts.append(_exists(groups, and_(*(_plain(item) for item in items))))
    return and_(*parts)


def _with_rest(item: _Resolved, groups: frozenset[_Group]) -> ColumnElement[bool]:
    """``item`` where the OR it belongs to also joins ``groups``: those must have a row."""
    rest = sorted(groups - item.groups, key=lambda g: g.order)
    return and_(*(_exists([group], None) for group in rest), _core(item))


def _components(
    items: Sequence[_Resolved],
) -> list[tuple[frozenset[_Group], list[_Resolved]]]:
    """Split the parts of an AND into sets that share groups (the group-free parts first)."""
    components: list[tuple[frozenset[_Group], list[_Resolved]]] = [(frozenset(), [])]
    for item in items:
        if not item.groups:
            components[0][1].append(item)
            continue
        groups, members = item.groups, [item]
        kept = [components[0]]
        for other_groups, other_members in components[1:]:
            if other_groups & groups:
                groups, members = groups | other_groups, other_members + members
            else:
                kept.append((other_groups, other_members))
        components = [*kept, (groups, members)]
    return components


def _plain(expr: _Resolved) -> ColumnElement[bool]:
    if isinstance(expr, _Atom):
        return expr.sql
    parts = [_plain(item) for item in expr.items]
    return and_(*parts) if expr.is_and else or_(*parts)


def _exists(groups: Iterable[_Group], condition: ColumnElement[bool] | None) -> ColumnElement[bool]:
    """TRUE iff some rows of ``groups`` satisfy ``condition``.

    Written as ``node.id IN (SELECT anchor ...)`` where it can be: the database then runs the
    subquery once through its indexes, where SQLite would run an EXISTS once per node. Only a
    Type join mixed with other joins stays a correlated EXISTS.
    """
    ordered = sorted(groups, key=lambda g: g.order)
    node = ordered[0].node
    froms: list[FromClause] = []
    conditions: list[ColumnElement[bool]] = []
    for group in ordered:
        froms += group.froms
        conditions += group.conditions
    if condition is not None:
        conditions.append(condition)
    anchors = [g.anchor for g in ordered if g.anchor is not None]
    typed = [g.type_anchor for g in ordered if g.type_anchor is not None]
    if anchors and not typed:
        first = anchors[0]
        same_node = [anchor == first for anchor in anchors[1:]]
        return node.c.id.in_(select(first).select_from(*froms).where(*conditions, *same_node))
    if typed and not anchors:
        return node.c.type_id.in_(select(typed[0]).select_from(*froms).where(*conditions))
    conditions += [anchor == node.c.id for anchor in anchors]
    conditions += [anchor == node.c.type_id for anchor in typed]
    return select(literal_column("1")).select_from(*froms).where(*conditions).exists()
