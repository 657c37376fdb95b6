"""The grammar of ml-metadata's ``filter_query``: tokenizer and recursive-descent parser.

The language is the WHERE-clause subset of ZetaSQL that ml-metadata accepts; the meaning of
the names (which attributes a node has, what ``contexts_a`` joins) is left to
:mod:`metadb.store.filter_query`. Precedence, loosest first: ``OR``, ``AND``, ``NOT``, then the
predicates::

    query      := or_expr END
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := not_expr ("AND" not_expr)*
    not_expr   := "NOT" not_expr | "(" or_expr ")" | predicate
    predicate  := operand ("=" | "!=" | "<>" | "<" | ">" | "<=" | ">=") operand
                | field ["NOT"] "IN" "(" value ("," value)* ")"
                | field ["NOT"] "LIKE" string
                | field ["NOT"] "BETWEEN" value "AND" value
                | field "IS" ["NOT"] "NULL"
                | field                      (a bool_value on its own)
                | "TRUE" | "FALSE"
    operand    := field | value
    field      := [neighbor "."] name | [neighbor "."] props "." pname "." kind
    props      := "properties" | "custom_properties"
    neighbor   := (contexts | parent_contexts | child_contexts | artifacts | executions | events)
                  "_" [0-9A-Za-z_]+
    kind       := int_value | double_value | string_value | bool_value
    value      := ["-" | "+"] number | string | "TRUE" | "FALSE" | NAME (an enum value: LIVE)

Strings take single or double quotes (tripled too, and an ``r`` prefix for raw) with ZetaSQL's
backslash escapes; names may be backquoted. Keywords and schema words are case-insensitive.
``--``, ``#`` and ``/* */`` comments are skipped.

A query is bounded by :class:`~metadb.store.limits.QueryLimits`: its length, how deep NOT and
parentheses nest, how many predicates it has and how many values an IN list holds. Text must
be valid Unicode without NUL characters; numbers are finite and integers fit in 64 bits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NoReturn

from metadb.errors import InvalidArgumentError
from metadb.store.limits import DEFAULT_QUERY_LIMITS, INT64_MAX, INT64_MIN, QueryLimits

KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "BETWEEN", "IS", "NULL", "TRUE", "FALSE"})
VALUE_KINDS = ("int_value", "double_value", "string_value", "bool_value")
#: Neighbor prefixes, each followed by ``_`` and an alias.
NEIGHBOR_PREFIXES = (
    "parent_contexts",
    "child_contexts",
    "contexts",
    "artifacts",
    "executions",
    "events",
)
COMPARISONS = ("=", "!=", "<>", "<", ">", "<=", ">=")
#: How deep NOT and parentheses may nest by default (the parser and compiler recurse on them).
MAX_DEPTH = DEFAULT_QUERY_LIMITS.max_depth

# --------------------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Attribute:
    """A plain attribute: ``name``, ``uri``, ``contexts_a.type``. Dotted leftovers stay in it."""

    name: str


@dataclass(frozen=True)
class Property:
    """``properties.<name>.<kind>`` or ``custom_properties.<name>.<kind>``."""

    custom: bool
    name: str
    kind: str


@dataclass(frozen=True)
class Neighbor:
    """``contexts_a``: ``prefix`` "contexts", ``alias`` "a"."""

    prefix: str
    alias: str

    @property
    def label(self) -> str:
        return f"{self.prefix}_{self.alias}"


@dataclass(frozen=True)
class Field:
    target: Attribute | Property
    neighbor: Neighbor | None
    pos: int
    text: str
    #: A single unquoted word, which may also be an enum value (``LIVE``).
    bare: bool = False


@dataclass(frozen=True)
class Literal:
    value: int | float | str | bool
    pos: int
    text: str


@dataclass(frozen=True)
class EnumName:
    """A bare word where a value is expected: an enum value such as ``LIVE``."""

    name: str
    pos: int
    text: str


Value = Literal | EnumName
Operand = Field | Literal


@dataclass(frozen=True)
class Comparison:
    left: Operand
    op: str
    right: Operand
    pos: int


@dataclass(frozen=True)
class InList:
    field: Field
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    field: Field
    pattern: Literal
    negated: bool


@dataclass(frozen=True)
class Between:
    field: Field
    low: Value
    high: Value
    negated: bool


@dataclass(frozen=True)
class IsNull:
    field: Field
    negated: bool


@dataclass(frozen=True)
class BoolTest:
    """A field used as a condition on its own; it must be a ``bool_value``."""

    field: Field
    #: What followed the field, for the error when it is not a boolean.
    follow_pos: int
    follow: str


@dataclass(frozen=True)
class Constant:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: Expr
    pos: int


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


Predicate = Comparison | InList | Like | Between | IsNull | BoolTest | Constant
Expr = Predicate | Not | And | Or


def fail(pos: int, message: str) -> NoReturn:
    """Raise the error every filter_query problem becomes; ``pos`` is a 1-based column."""
    raise InvalidArgumentError(f"filter_query: position {pos}: {message}")


# --------------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted (a backquoted name), number, string, op, end
    text: str  # as written
    pos: int  # 1-based column of its first character
    value: int | float | str = ""

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words

    def describe(self) -> str:
        return "end of query" if self.kind == "end" else repr(self.text)


_DIGITS = "0123456789"  # str.isdigit() is also true of '²' and '٣', which no number has
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_STEP = re.compile(r"[A-Za-z0-9_]+")
_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">", "(", ")", ",", ".", "-", "+")
_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "?": "?", '"': '"', "'": "'", "`": "`",
}  # fmt: skip


def tokenize(query: str) -> list[Token]:
    """The tokens of ``query``, ending with an "end" token.

    Raises:
        InvalidArgumentError: naming the position of the first character no token takes.
    """
    _check_text(query)
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif query.startswith("--", i) or ch == "#":
            end = query.find("\n", i)
            i = n if end < 0 else end + 1
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            if end < 0:
                fail(i + 1, "unterminated comment: no closing '*/'")
            i = end + 2
        elif ch in "'\"" or (ch in "rRbB" and i + 1 < n and query[i + 1] in "'\""):
            if ch in "bB":
                fail(i + 1, "byte strings (b'...') are not supported; use a plain string")
            raw = ch in "rR"
            start = i
            value, i = _read_string(query, i + 1 if raw else i, raw=raw)
            tokens.append(Token("string", query[start:i], start + 1, value))
        elif ch == "`":
            end = query.find("`", i + 1)
            if end < 0:
                fail(i + 1, "unterminated backquoted name: no closing '`'")
            if end == i + 1:
                fail(i + 1, "empty backquoted name")
            tokens.append(Token("quoted", query[i : end + 1], i + 1, query[i + 1 : end]))
            i = end + 1
        elif tokens and tokens[-1].text == "." and _NAME_STEP.match(query, i):
            match = _NAME_STEP.match(query, i)  # a path step may start with a digit: p.1st
            assert match is not None
            tokens.append(Token("word", match.group(), i + 1, match.group()))
            i = match.end()
        elif ch in _DIGITS or (
            ch == "." and i + 1 < n and query[i + 1] in _DIGITS and _starts_value(tokens)
        ):
            match = _NUMBER.match(query, i)
            assert match is not None
            end = match.end()
            if end < n and (query[end].isalnum() or query[end] in "_."):
                tail = _WORD.match(query, end)
                bad = query[i : tail.end() if tail else end + 1]
                fail(i + 1, f"invalid number {bad!r}")
            text = match.group()
            tokens.append(Token("number", text, i + 1, _number_value(text)))
            i = end
        elif _WORD.match(query, i):
            match = _WORD.match(query, i)
            assert match is not None
            tokens.append(Token("word", match.group(), i + 1, match.group()))
            i = match.end()
        else:
            op = next((op for op in _OPERATORS if query.startswith(op, i)), None)
            if op is None:
                fail(i + 1, f"unexpected character {ch!r}")
            tokens.append(Token("op", op, i + 1, op))
            i += len(op)
    tokens.append(Token("end", "", n + 1))
    return tokens


def _check_text(query: str) -> None:
    """Refuse lone surrogates (no driver can send them) and NUL characters (PostgreSQL's text
    cannot hold them, so such a value could match nothing there)."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:
        fail(exc.start + 1, "a lone surrogate: the query must be valid Unicode")
    if "\x00" in query:
        fail(query.index("\x00") + 1, "a NUL character: write no NUL in a query")


def _starts_value(tokens: list[Token]) -> bool:
    """Whether a '.' here begins a number (``.5``) rather than a path step (``a.b``)."""
    last = tokens[-1] if tokens else None
    if last is None or last.is_keyword(*KEYWORDS):
        return True
    return not (last.kind in ("word", "quoted") or last.text == ")")


def _number_value(text: str) -> int | float:
    if text[:2].lower() == "0x":
        return int(text, 16)
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _read_string(query: str, i: int, *, raw: bool) -> tuple[str, int]:
    """Read the string literal whose opening quote is at ``i``; return (value, end index)."""
    quote = query[i]
    delimiter = quote * 3 if query.startswith(quote * 3, i) else quote
    start, i = i, i + len(delimiter)
    out: list[str] = []
    while True:
        if i >= len(query):
            fail(start + 1, f"unterminated string: no closing {delimiter} before end of query")
        if query.startswith(delimiter, i):
            return "".join(out), i + len(delimiter)
        ch = query[i]
        if ch == "\n" and len(delimiter) == 1:
            fail(start + 1, "unterminated string: a quoted string cannot span lines")
        if ch != "\\":
            out.append(ch)
            i += 1
        elif i + 1 >= len(query):
            fail(start + 1, f"unterminated string: no closing {delimiter} before end of query")
        elif raw:
            out.append(query[i : i + 2])
            i += 2
        else:
            text, i = _escape(query, i)
            out.append(text)


def _escape(query: str, i: int) -> tuple[str, int]:
    """Decode the escape sequence whose backslash is at ``i``."""
    ch = query[i + 1]
    if ch in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[ch], i + 2
    for lead, digits, base in (("x", 2, 16), ("X", 2, 16), ("u", 4, 16), ("U", 8, 16)):
        if ch == lead:
            code = query[i + 2 : i + 2 + digits]
            hexadecimal = all(c in "0123456789abcdefABCDEF" for c in code)
            if len(code) == digits and hexadecimal and int(code, base) <= 0x10FFFF:
                return chr(int(code, base)), i + 2 + digits
            break
    else:
        code = query[i + 1 : i + 4]
        if len(code) == 3 and all(c in "01234567" for c in code):
            return chr(int(code, 8)), i + 4
    fail(i + 1, f"invalid escape sequence {query[i : i + 2]!r} in a string")


# ------------------------------------------------------------------------------------ parser


def parse(query: str, *, limits: QueryLimits = DEFAULT_QUERY_LIMITS) -> Expr:
    """Parse ``query`` into its AST.

    Raises:
        InvalidArgumentError: at the first problem, naming its position; or naming the limit
            of ``limits`` the query is over (length, nesting, predicates, IN-list values).
    """
    if len(query) > limits.max_filter_chars:
        raise InvalidArgumentError(
            f"filter_query is {len(query)} characters long; the limit is "
            f"{limits.max_filter_chars}. Split the question into several queries"
        )
    return _Parser(query, limits).parse()


class _Parser:
    def __init__(self, query: str, limits: QueryLimits = DEFAULT_QUERY_LIMITS) -> None:
        self.query = query
        self.limits = limits
        self.tokens = tokenize(query)
        self.index = 0
        self.depth = 0
        self.predicates = 0

    # -- helpers

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def at_op(self, *ops: str) -> bool:
        return self.peek().kind == "op" and self.peek().text in ops

    def expected(self, what: str) -> NoReturn:
        token = self.peek()
        fail(token.pos, f"expected {what}, found {token.describe()}")

    def source(self, start: int) -> str:
        """The query text from 1-based column ``start`` to the end of the last token read."""
        last = self.tokens[self.index - 1]
        return self.query[start - 1 : last.pos - 1 + len(last.text)]

    # -- grammar

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            self.expected("a condition")
        expr = self.or_expr()
        if self.peek().kind != "end":
            if self.at_op(")"):
                fail(self.peek().pos, "unbalanced parentheses: ')' without a matching '('")
            self.expected("AND, OR or end of query")
        return expr

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.peek().is_keyword("OR"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Expr:
        items = [self.not_expr()]
        while self.peek().is_keyword("AND"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Expr:
        token = self.peek()
        if token.is_keyword("NOT") or self.at_op("("):
            self.depth += 1
            if self.depth > self.limits.max_depth:
                fail(
                    token.pos,
                    f"the query nests NOT and parentheses deeper than {self.limits.max_depth}",
                )
        if token.is_keyword("NOT"):
            self.advance()
            negated = Not(self.not_expr(), token.pos)
            self.depth -= 1
            return negated
        if self.at_op("("):
            self.advance()
            expr = self.or_expr()
            if not self.at_op(")"):
                closing = self.peek()
                if closing.kind == "end":
                    fail(
                        closing.pos,
                        f"unbalanced parentheses: expected ')' to close the '(' at position "
                        f"{token.pos}, found end of query",
                    )
                self.expected("AND, OR or ')'")
            self.advance()
            self.depth -= 1
            return expr
        return self.predicate()

    def predicate(self) -> Predicate:
        self.predicates += 1
        if self.predicates > self.limits.max_conditions:
            fail(
                self.peek().pos,
                f"the query has more than {self.limits.max_conditions} conditions (the limit; "
                "each OR branch and AND part counts); use IN (...) or split the query",
            )
        left = self.operand("a condition")
        token = self.peek()
        if token.kind == "op" and token.text in COMPARISONS:
            self.advance()
            right = self.operand(f"a value after {token.text!r}")
            return Comparison(left, token.text, right, token.pos)
        if isinstance(left, Literal):
            if isinstance(left.value, bool) and not token.is_keyword(
                "IN", "LIKE", "BETWEEN", "IS", "NOT"
            ):
                return Constant(left.value)
            self.expected(f"a comparison operator after {left.text}")
        if token.is_keyword("IS"):
            self.advance()
            negated = self.peek().is_keyword("NOT")
            if negated:
                self.advance()
            if not self.peek().is_keyword("NULL"):
                self.expected("NULL or NOT NULL after IS")
            self.advance()
            return IsNull(left, negated)
        negated = token.is_keyword("NOT")
        if negated:
            self.advance()
            if not self.peek().is_keyword("IN", "LIKE", "BETWEEN"):
                self.expected("IN, LIKE or BETWEEN after NOT")
        keyword = self.peek()
        if keyword.is_keyword("IN"):
            self.advance()
            if not self.at_op("("):
                self.expected("'(' after IN")
            self.advance()
            values = [self.value("a value in the IN list")]
            while self.at_op(","):
                comma = self.advance()
                if len(values) >= self.limits.max_in_values:
                    fail(
                        comma.pos,
                        f"the IN list has more than {self.limits.max_in_values} values (the "
                        "limit); split the query",
                    )
                values.append(self.value("a value in the IN list"))
            if not self.at_op(")"):
                self.expected("',' or ')' in the IN list")
            self.advance()
            return InList(left, tuple(values), negated)
        if keyword.is_keyword("LIKE"):
            self.advance()
            pattern = self.value("a string pattern after LIKE")
            if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
                fail(pattern.pos, f"expected a string pattern after LIKE, found {pattern.text!r}")
            return Like(left, pattern, negated)
        if keyword.is_keyword("BETWEEN"):
            self.advance()
            low = self.value("a value after BETWEEN")
            if not self.peek().is_keyword("AND"):
                self.expected("AND after the lower bound of BETWEEN")
            self.advance()
            high = self.value("a value after AND")
            return Between(left, low, high, negated)
        return BoolTest(left, token.pos, token.describe())

    def operand(self, what: str) -> Operand:
        token = self.peek()
        if token.kind == "quoted" or (token.kind == "word" and token.text.upper() not in KEYWORDS):
            return self.field()
        value = self.value(what)
        assert isinstance(value, Literal)
        return value

    def value(self, what: str) -> Value:
        token = self.peek()
        if token.is_keyword("NULL"):
            fail(token.pos, f"expected {what}, found NULL; test for NULL with IS [NOT] NULL")
        if token.is_keyword("TRUE", "FALSE"):
            self.advance()
            return Literal(token.text.upper() == "TRUE", token.pos, token.text)
        if token.kind == "string":
            self.advance()
            return Literal(token.value, token.pos, token.text)
        if token.kind == "word" and token.text.upper() not in KEYWORDS:
            self.advance()
            return EnumName(token.text, token.pos, token.text)
        sign = 1
        if self.at_op("-", "+") and self.peek(1).kind == "number":
            sign = -1 if self.advance().text == "-" else 1
        number = self.peek()
        if number.kind != "number":
            self.expected(what)
        self.advance()
        assert isinstance(number.value, (int, float))
        value = sign * number.value
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            fail(token.pos, f"integer {self.source(token.pos)} does not fit in 64 bits")
        if isinstance(value, float) and not math.isfinite(value):
            fail(token.pos, f"number {self.source(token.pos)} is out of a double's range")
        return Literal(value, token.pos, self.source(token.pos))

    def name_token(self, what: str) -> Token:
        token = self.peek()
        if token.kind not in ("word", "quoted"):
            self.expected(what)
        return self.advance()

    def field(self) -> Field:
        first = self.advance()
        name = str(first.value)
        lowered = name.lower() if first.kind == "word" else ""
        if lowered in ("properties", "custom_properties"):
            prop = self.property(lowered, first.pos)
            return Field(prop, None, first.pos, self.source(first.pos))
        neighbor = _neighbor(name) if first.kind == "word" else None
        if neighbor is not None:
            if not self.at_op("."):
                self.expected(f"'.' and an attribute after {name!r}")
            self.advance()
            step = self.name_token(f"an attribute after '{name}.'")
            word = str(step.value).lower() if step.kind == "word" else ""
            target: Attribute | Property
            if word in ("properties", "custom_properties"):
                target = self.property(word, first.pos)
            else:
                target = Attribute(self.dotted(str(step.value)))
            return Field(target, neighbor, first.pos, self.source(first.pos))
        bare = first.kind == "word" and not self.at_op(".")
        return Field(Attribute(self.dotted(name)), None, first.pos, self.source(first.pos), bare)

    def dotted(self, name: str) -> str:
        while self.at_op("."):
            self.advance()
            name += "." + str(self.name_token(f"a name after '{name}.'").value)
        return name

    def property(self, which: str, start: int) -> Property:
        if not self.at_op("."):
            self.expected(f"'.' and a property name after {self.source(start)!r}")
        self.advance()
        name = self.name_token(f"a property name after '{self.source(start)}'")
        if not self.at_op("."):
            kinds = ", ".join(VALUE_KINDS[:-1]) + " or " + VALUE_KINDS[-1]
            self.expected(f"'.' and {kinds} after {self.source(start)!r}")
        self.advance()
        kind = self.peek()
        if kind.kind != "word" or kind.text.lower() not in VALUE_KINDS:
            self.expected("int_value, double_value, string_value or bool_value")
        self.advance()
        return Property(which == "custom_properties", str(name.value), kind.text.lower())


def _neighbor(word: str) -> Neighbor | None:
    for prefix in NEIGHBOR_PREFIXES:
        if word.lower().startswith(prefix + "_") and len(word) > len(prefix) + 1:
            return Neighbor(prefix, word[len(prefix) + 1 :])
    return None
