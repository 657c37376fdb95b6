"""Split a migration file into the statements metadb runs one at a time.

Why a tokenizer: a ``;`` ends a statement only outside string literals, quoted identifiers,
comments and PostgreSQL dollar-quoted bodies. Telling those apart needs the dialect's lexical
rules (``''`` and ``\\'`` escapes, ``#`` comments on MySQL, ``$tag$`` quoting on PostgreSQL),
so we use sqlglot's tokenizer for the dialect instead of a regex or a naive split.

Why the block-depth rule: a trigger, procedure, function or event body (MySQL ``BEGIN ... END``,
SQLite ``CREATE TRIGGER ... BEGIN ... END``, PostgreSQL ``BEGIN ATOMIC ... END``) contains ``;``
that do not end the ``CREATE`` statement. Inside such a statement we count the blocks that
``BEGIN``, ``CASE``, and statement-level ``IF``/``LOOP``/``WHILE``/``REPEAT`` open and ``END``
(``END IF``, ``END LOOP``, ...) closes; a ``;`` splits only when no block is open.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import Token, Tokenizer, TokenType
from sqlglot.dialects import Dialect as SqlglotDialect
from sqlglot.errors import TokenError

from metadb.db.dialect import Dialect, dialect_named

__all__ = ["SqlSyntaxError", "Statement", "split_statements"]

_KINDS = frozenset({"TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"})
# Words after CREATE that show the statement creates something without a body.
_NOT_COMPOUND = frozenset({"BEGIN", "AS", "TABLE", "VIEW", "INDEX", "SCHEMA", "DATABASE"})
_CONSTRUCTS = frozenset({"IF", "LOOP", "WHILE", "REPEAT"})
_END_SUFFIXES = _CONSTRUCTS | {"CASE"}
# A token after which a new statement of a compound body starts (":" ends a label).
_STATEMENT_START = frozenset({";", "BEGIN", "THEN", "ELSE", "DO", "LOOP", "REPEAT", ":"})
_HEADER_TOKENS = 12  # how far after CREATE the TRIGGER/PROCEDURE/... keyword may appear


@dataclass(frozen=True)
class Statement:
    """One statement, as written from its first token to its last (inner comments kept).

    ``line`` is the 1-based line of the file on which the statement starts.
    """

    text: str
    line: int


class SqlSyntaxError(ValueError):
    """The file cannot be split: unterminated literal or comment, unclosed block, DELIMITER."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def split_statements(sql: str, dialect: str) -> list[Statement]:
    """Split ``sql`` into statements; ``dialect`` is "sqlite", "postgresql" or "mysql".

    Comment-only pieces are dropped, but on MySQL a ``/*! ... */`` comment (which the server
    runs, as in mysqldump output) is kept, alone or next to a statement. Raises
    :class:`SqlSyntaxError` when the file cannot be split.
    """
    try:
        rules = dialect_named(dialect.lower())
    except ValueError:
        raise ValueError(
            f"unknown SQL dialect {dialect!r}; expected sqlite, postgresql or mysql"
        ) from None
    sqlglot_dialect = SqlglotDialect.get_or_raise(rules.sqlglot_name)
    tokenizer = sqlglot_dialect.tokenizer_class(dialect=sqlglot_dialect)
    try:
        tokens = tokenizer.tokenize(sql)
    except TokenError as exc:
        raise _tokenize_error(sql, tokenizer.tokens, rules) from exc
    return _Splitter(sql, tokens, rules, tokenizer).run()


def _word(tok: Token) -> str:
    """The upper-cased text of a bare word or punctuation token; "" for quoted ones."""
    text = tok.text
    return text.upper() if tok.end - tok.start + 1 == len(text) else ""


def _trivia(
    sql: str, pos: int, stop: int, hash_comments: bool
) -> tuple[int, list[tuple[int, int]]]:
    """Skip whitespace and complete comments from ``pos``; also return ``/*!`` comment spans."""
    executable: list[tuple[int, int]] = []
    while pos < stop:
        if sql[pos].isspace():
            pos += 1
        elif sql.startswith("--", pos) or (hash_comments and sql[pos] == "#"):
            newline = sql.find("\n", pos, stop)
            pos = stop if newline < 0 else newline + 1
        elif sql.startswith("/*", pos):
            close = sql.find("*/", pos + 2, stop)
            if close < 0:
                break
            if sql.startswith("/*!", pos):
                executable.append((pos, close + 2))
            pos = close + 2
        else:
            break
    return pos, executable


def _line_of(sql: str, pos: int) -> int:
    return sql.count("\n", 0, pos) + 1


def _tokenize_error(sql: str, tokens: Sequence[Token], rules: Dialect) -> SqlSyntaxError:
    """Point at the literal or comment sqlglot could not finish (it starts after the last token)."""
    pos, _ = _trivia(sql, tokens[-1].end + 1 if tokens else 0, len(sql), rules.hash_comments)
    line, snippet = _line_of(sql, pos), sql[pos : pos + 40].split("\n", 1)[0]
    if snippet.startswith("/*"):
        return SqlSyntaxError(line, "unterminated /* comment: no closing */")
    if snippet[:1] == "$" and "$" in snippet[1:]:
        what, closer = "dollar-quoted string", snippet[: snippet.index("$", 1) + 1]
    elif snippet[:1] in ("'", '"', "`"):
        quoted = snippet[0] == "`" or (snippet[0] == '"' and not rules.double_quoted_strings)
        what, closer = ("quoted identifier" if quoted else "string literal"), snippet[0]
    else:
        return SqlSyntaxError(line, f"cannot tokenize the SQL starting {snippet!r}")
    return SqlSyntaxError(line, f"unterminated {what} starting {snippet!r}: no closing {closer}")


class _Splitter:
    def __init__(self, sql: str, tokens: list[Token], rules: Dialect, tokenizer: Tokenizer) -> None:
        self.sql, self.tokens, self.rules, self.tokenizer = sql, tokens, rules, tokenizer
        self.out: list[Statement] = []
        self._line_pos, self._line = 0, 1

    def run(self) -> list[Statement]:
        tokens, n = self.tokens, len(self.tokens)
        semis = [i for i, tok in enumerate(tokens) if tok.token_type == TokenType.SEMICOLON]
        semis.append(n)
        k, first, seg_start = 0, 0, 0
        while k < len(semis):
            stop = semis[k]
            if first < stop:
                self._check_delimiter(tokens[first])
                if self._is_compound(first, stop):
                    stop = self._block_end(first)
                    k = bisect_left(semis, stop)
            seg_stop = tokens[stop].start if stop < n else len(self.sql)
            self._emit(first, stop, seg_start, seg_stop)
            first, seg_start, k = stop + 1, seg_stop + 1, k + 1
        return self.out

    def _line_at(self, pos: int) -> int:
        if pos < self._line_pos:
            return _line_of(self.sql, pos)
        self._line += self.sql.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def _end(self, i: int) -> int:
        """Offset just past token ``i``.

        sqlglot reads everything after a command keyword (CALL, DO, SHOW, ...) up to the ``;`` as
        one STRING token with unreliable offsets, trailing comments included: find it in the text
        and tokenize it again to end at its last real token.
        """
        tok, sql, commands = self.tokens[i], self.sql, self.tokenizer.COMMANDS
        if tok.token_type == TokenType.STRING and i and self.tokens[i - 1].token_type in commands:
            pos = self.tokens[i - 1].end + 1
            while pos < len(sql) and sql[pos].isspace():
                pos += 1
            if sql.startswith(tok.text, pos):
                try:
                    inner = self.tokenizer.tokenize(tok.text)
                except TokenError:
                    inner = []
                if (
                    inner
                    and inner[-1].end >= inner[-1].start
                    and inner[0].token_type not in commands
                ):
                    return pos + inner[-1].end + 1
                return pos + len(tok.text)
        return tok.end + 1

    def _emit(self, first: int, stop: int, seg_start: int, seg_stop: int) -> None:
        start, end = (self.tokens[first].start, self._end(stop - 1)) if first < stop else (-1, -1)
        if self.rules.executable_comments and self.sql.find("/*!", seg_start, seg_stop) >= 0:
            # MySQL runs /*! ... */ comments: keep them even around or instead of the tokens.
            hashes = self.rules.hash_comments
            _, lead = _trivia(self.sql, seg_start, start if start >= 0 else seg_stop, hashes)
            _, trail = _trivia(self.sql, end, seg_stop, hashes) if start >= 0 else (0, [])
            if lead:
                start, end = lead[0][0], max(end, lead[-1][1])
            if trail:
                end = trail[-1][1]
        if start >= 0:
            self.out.append(Statement(self.sql[start:end], self._line_at(start)))

    def _check_delimiter(self, tok: Token) -> None:
        if _word(tok) == "DELIMITER":
            raise SqlSyntaxError(
                _line_of(self.sql, tok.start),
                "DELIMITER is a command of the mysql command-line client, not SQL. metadb splits "
                "trigger and procedure bodies itself: remove the DELIMITER lines and end the "
                "body with a plain ';' (END; instead of END$$ or END//)",
            )

    def _is_compound(self, first: int, stop: int) -> bool:
        if _word(self.tokens[first]) != "CREATE":
            return False
        for tok in self.tokens[first + 1 : min(stop, first + 1 + _HEADER_TOKENS)]:
            word = _word(tok)
            if word in _KINDS:
                return True
            if word in _NOT_COMPOUND:
                return False
        return False

    def _block_end(self, first: int) -> int:
        """Index of the ``;`` (or len(tokens)) that ends the compound statement at ``first``."""
        tokens, n = self.tokens, len(self.tokens)
        stack: list[tuple[str, int]] = []  # open blocks: (keyword, offset)
        i = first
        while i < n:
            tok = tokens[i]
            word = _word(tok)
            if tok.token_type == TokenType.SEMICOLON and not stack:
                return i
            if word in ("BEGIN", "CASE"):
                stack.append((word, tok.start))
            elif word == "END":
                suffix = _word(tokens[i + 1]) if i + 1 < n else ""
                if suffix in _END_SUFFIXES:
                    i += 1
                _close(stack, suffix if suffix in _END_SUFFIXES else "")
            elif word in _CONSTRUCTS and self._opens(i, not stack):
                stack.append((word, tok.start))
            i += 1
        if not stack:
            return n
        keyword, pos = stack[-1]
        closer = f"END {keyword}" if keyword in _CONSTRUCTS else "END"
        raise SqlSyntaxError(
            self._line_at(tokens[first].start),
            f"{keyword} on line {_line_of(self.sql, pos)} is never closed: "
            f"the file ends before its {closer}",
        )

    def _opens(self, i: int, top_level: bool) -> bool:
        """Is the IF/LOOP/WHILE/REPEAT at ``i`` a statement (not IF(...) or IF NOT EXISTS)?"""
        tokens, n = self.tokens, len(self.tokens)
        after = _word(tokens[i + 1]) if i + 1 < n else ""
        if after in ("NOT", "EXISTS") or not (
            top_level or _word(tokens[i - 1]) in _STATEMENT_START
        ):
            return False
        if after != "(":
            return True
        if _word(tokens[i]) in ("LOOP", "REPEAT"):
            return False  # REPEAT('x', 3) is a function; a LOOP body never starts with "("
        depth = 0  # IF (a > b) THEN / WHILE (i < 3) DO versus the function IF(a, b, c)
        for j in range(i + 1, n):
            tok = tokens[j]
            if tok.token_type == TokenType.L_PAREN:
                depth += 1
            elif tok.token_type == TokenType.R_PAREN:
                depth -= 1
            elif depth == 0:
                word = _word(tok)
                if word in ("THEN", "DO"):
                    return True
                if word in (";", "WHEN", "ELSE", "END", "BEGIN", "CASE"):
                    return False
        return False


def _close(stack: list[tuple[str, int]], suffix: str) -> None:
    """Close what END (suffix "") or END IF/LOOP/WHILE/REPEAT/CASE ends, with what it encloses.

    An END never reaches past an open BEGIN or CASE: an IF we failed to see open (say a handler's
    action) then leaves the stack alone, and an IF wrongly seen open is dropped by the next END.
    """
    targets = (suffix,) if suffix else ("BEGIN", "CASE")
    for depth in range(len(stack) - 1, -1, -1):
        keyword = stack[depth][0]
        if keyword in targets:
            del stack[depth:]
            return
        if keyword in ("BEGIN", "CASE"):
            return
