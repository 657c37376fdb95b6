"""Splitting migration files into the statements metadb runs one at a time."""

from __future__ import annotations

import time

import pytest
from sqlglot.dialects import Dialect

from metadb.migrate.splitter import SqlSyntaxError, Statement, split_statements

ALL_DIALECTS = ["sqlite", "postgresql", "mysql"]


def split(sql: str, dialect: str) -> list[tuple[int, str]]:
    return [(statement.line, statement.text) for statement in split_statements(sql, dialect)]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_a_file_of_simple_statements_splits_into_them_with_their_lines(dialect: str) -> None:
    sql = "CREATE TABLE t (a INT);\n\nINSERT INTO t VALUES (1);\nINSERT INTO t\n  VALUES (2);\n"

    assert split_statements(sql, dialect) == [
        Statement("CREATE TABLE t (a INT)", 1),
        Statement("INSERT INTO t VALUES (1)", 3),
        Statement("INSERT INTO t\n  VALUES (2)", 4),
    ]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_semicolons_inside_comments_do_not_end_a_statement(dialect: str) -> None:
    sql = "-- header; still a comment\nSELECT 1 /* a; b */ + 2; -- trailing; note\nSELECT 3;"

    assert split(sql, dialect) == [(2, "SELECT 1 /* a; b */ + 2"), (3, "SELECT 3")]


def test_mysql_hash_comments_hide_semicolons() -> None:
    sql = "# dump; header\nSELECT 1; # done; really\nSELECT 2 # x;\n;"

    assert split(sql, "mysql") == [(2, "SELECT 1"), (3, "SELECT 2")]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_semicolons_and_doubled_quotes_inside_strings_do_not_split(dialect: str) -> None:
    sql = "INSERT INTO t VALUES ('it''s; fine', ';');\nSELECT ';'"

    assert split(sql, dialect) == [
        (1, "INSERT INTO t VALUES ('it''s; fine', ';')"),
        (2, "SELECT ';'"),
    ]


def test_mysql_backslash_escaped_quote_keeps_the_string_open() -> None:
    sql = "INSERT INTO t VALUES ('a\\';b');\nSELECT 2;"

    assert split(sql, "mysql") == [(1, "INSERT INTO t VALUES ('a\\';b')"), (2, "SELECT 2")]


@pytest.mark.parametrize(
    ("dialect", "name"),
    [("sqlite", '"odd;name"'), ("postgresql", '"odd;name"'), ("mysql", "`odd;name`")],
)
def test_semicolons_inside_quoted_identifiers_do_not_split(dialect: str, name: str) -> None:
    sql = f"CREATE TABLE {name} (a INT);\nSELECT a FROM {name};"

    assert split(sql, dialect) == [
        (1, f"CREATE TABLE {name} (a INT)"),
        (2, f"SELECT a FROM {name}"),
    ]


def test_postgres_dollar_quoted_bodies_keep_their_semicolons() -> None:
    sql = (
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"
        "CREATE FUNCTION g() RETURNS text AS $body$\n"
        "BEGIN\n  RETURN $q$ it's; $$ not the end $q$;\nEND;\n$body$ LANGUAGE plpgsql;\n"
        "SELECT 1;"
    )

    assert split(sql, "postgresql") == [
        (1, "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql"),
        (
            2,
            "CREATE FUNCTION g() RETURNS text AS $body$\n"
            "BEGIN\n  RETURN $q$ it's; $$ not the end $q$;\nEND;\n$body$ LANGUAGE plpgsql",
        ),
        (7, "SELECT 1"),
    ]


def test_postgres_do_block_is_one_statement() -> None:
    sql = "DO $$\nBEGIN\n  PERFORM 1;\n  RAISE NOTICE 'x;y';\nEND\n$$;\nSELECT 2;"

    assert split(sql, "postgresql") == [
        (1, "DO $$\nBEGIN\n  PERFORM 1;\n  RAISE NOTICE 'x;y';\nEND\n$$"),
        (7, "SELECT 2"),
    ]


def test_postgres_begin_atomic_function_body_is_one_statement() -> None:
    body = (
        "CREATE FUNCTION bump(x int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n"
        "  INSERT INTO log VALUES (x);\n"
        "  SELECT CASE WHEN x > 0 THEN x + 1 ELSE 0 END;\n"
        "END"
    )
    sql = f"{body};\nSELECT bump(1);"

    assert split(sql, "postgresql") == [(1, body), (6, "SELECT bump(1)")]


def test_postgres_function_returning_a_case_expression_ends_at_its_semicolon() -> None:
    sql = (
        "CREATE FUNCTION sign1(x int) RETURNS int LANGUAGE sql\n"
        "  RETURN CASE WHEN x > 0 THEN 1 ELSE 0 END;\nSELECT 1;"
    )

    assert [line for line, _ in split(sql, "postgresql")] == [1, 3]


MYSQL_TRIGGER = """CREATE DEFINER = `app`@`%` TRIGGER classify BEFORE INSERT ON t FOR EACH ROW
BEGIN
  IF NEW.a > 10 THEN
    SET NEW.kind = 'big;';
  ELSEIF NEW.a < 0 THEN
    BEGIN
      SET NEW.kind = 'negative';
      SET NEW.a = 0;
    END;
  ELSE
    IF NEW.a = 0 THEN SET NEW.kind = 'zero'; END IF;
  END IF;
END"""


def test_mysql_trigger_with_if_elseif_else_and_nested_begin_is_one_statement() -> None:
    sql = f"{MYSQL_TRIGGER};\nINSERT INTO t (a) VALUES (11);"

    assert split(sql, "mysql") == [(1, MYSQL_TRIGGER), (14, "INSERT INTO t (a) VALUES (11)")]


MYSQL_PROCEDURE = """CREATE PROCEDURE fill(IN n INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE i < n DO
    INSERT INTO t VALUES (i);
    SET i = i + 1;
  END WHILE;
  outer_loop: LOOP
    IF (i > 5) AND (n > 2) THEN LEAVE outer_loop; END IF;
    SET i = i + 1;
  END LOOP outer_loop;
  REPEAT
    SET i = i - 1;
  UNTIL i <= 0 END REPEAT;
  CASE n
    WHEN 1 THEN SELECT 'one';
    WHEN 2 THEN SELECT CASE WHEN i > 0 THEN IF(i > 1, 'many', 'one') ELSE 'none' END;
    ELSE SELECT REPEAT('x', n);
  END CASE;
  CALL audit('fill;done');
END"""


def test_mysql_procedure_with_loops_case_statement_and_case_expression_is_one_statement() -> None:
    sql = f"{MYSQL_PROCEDURE};\nCALL fill(3);\n"

    assert split(sql, "mysql") == [(1, MYSQL_PROCEDURE), (22, "CALL fill(3)")]


def test_if_not_exists_and_the_if_function_do_not_open_blocks() -> None:
    sql = (
        "CREATE TRIGGER IF NOT EXISTS trg BEFORE INSERT ON t FOR EACH ROW\n"
        "  SET NEW.b = IF(NEW.a > 0, 'pos', 'neg');\n"
        "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN IF(x > 0, x * 2, 0);\n"
        "CREATE PROCEDURE IF NOT EXISTS p() SELECT 1;\n"
        "CREATE FUNCTION pad(n INT) RETURNS TEXT DETERMINISTIC RETURN REPEAT('x', n);\n"
        "CREATE TRIGGER t2 BEFORE INSERT ON t FOR EACH ROW\n"
        "  SET NEW.c = IF(NEW.a, 1, 2) + CASE WHEN NEW.b THEN 1 ELSE 0 END;\n"
        "SELECT 2;"
    )

    assert [line for line, _ in split(sql, "mysql")] == [1, 3, 4, 5, 6, 8]


def test_mysql_trigger_whose_whole_body_is_an_if_with_nested_ifs_is_one_statement() -> None:
    trigger = (
        "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW\n"
        "IF (CASE WHEN NEW.a > 0 THEN 1 ELSE 0 END) = 1 THEN\n"
        "  IF NEW.b THEN SET NEW.c = 1; END IF;\n"
        "  SET NEW.d = IF(NEW.a > 5, 1, 0);\n"
        "ELSE\n"
        "  IF NEW.b THEN SET NEW.c = 2; END IF;\n"
        "  SET NEW.d = 0;\n"
        "END IF"
    )

    assert split(f"{trigger};\nSELECT 1;", "mysql") == [(1, trigger), (9, "SELECT 1")]


def test_mysql_procedures_whose_whole_body_is_a_loop_are_one_statement() -> None:
    looping = (
        "CREATE PROCEDURE count_up()\n"
        "WHILE @i < 3 DO\n"
        "  IF @i = 1 THEN SELECT 'one'; END IF;\n"
        "  SET @i = @i + 1;\n"
        "END WHILE"
    )
    labelled = (
        "CREATE PROCEDURE spin()\n"
        "spin: LOOP\n"
        "  IF @i > 3 THEN LEAVE spin; END IF;\n"
        "  REPEAT IF @i = 2 THEN SET @j = 1; END IF; SET @i = @i + 1; UNTIL @i > 9 END REPEAT;\n"
        "END LOOP spin"
    )
    sql = f"{looping};\n{labelled};\nSELECT 1;"

    assert split(sql, "mysql") == [(1, looping), (6, labelled), (11, "SELECT 1")]


def test_an_if_the_splitter_cannot_see_open_does_not_end_the_procedure_early() -> None:
    procedure = (
        "CREATE PROCEDURE p()\n"
        "BEGIN\n"
        "  IF @x THEN\n"
        "    BEGIN\n"
        "      DECLARE EXIT HANDLER FOR SQLEXCEPTION IF @n > 0 THEN SET @n = 0; END IF;\n"
        "      SET @n = 1;\n"
        "    END;\n"
        "  END IF;\n"
        "END"
    )

    assert split(f"{procedure};\nSELECT 1;", "mysql") == [(1, procedure), (10, "SELECT 1")]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_columns_named_like_block_keywords_do_not_open_blocks(dialect: str) -> None:
    sql = (
        "CREATE TABLE shifts (event VARCHAR(20), begin VARCHAR(20));\n"
        "SELECT event, begin FROM shifts;\n"
        "SELECT 1;"
    )

    assert split(sql, dialect) == [
        (1, "CREATE TABLE shifts (event VARCHAR(20), begin VARCHAR(20))"),
        (2, "SELECT event, begin FROM shifts"),
        (3, "SELECT 1"),
    ]


def test_sqlite_trigger_with_several_statements_is_one_statement() -> None:
    trigger = (
        "CREATE TEMP TRIGGER IF NOT EXISTS audit AFTER UPDATE OF a ON t\n"
        "WHEN NEW.a <> OLD.a\n"
        "BEGIN\n"
        "  INSERT INTO log VALUES (OLD.a, NEW.a, 'changed;');\n"
        "  UPDATE t SET b = CASE WHEN NEW.a > 0 THEN 'pos' ELSE 'neg' END WHERE id = NEW.id;\n"
        "  SELECT RAISE(ABORT, 'no') WHERE NEW.a IS NULL;\n"
        "END"
    )
    sql = f"{trigger};\nUPDATE t SET a = 2;"

    assert split(sql, "sqlite") == [(1, trigger), (8, "UPDATE t SET a = 2")]


@pytest.mark.parametrize(
    ("dialect", "trigger"),
    [
        (
            "mysql",
            "CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW\n"
            "BEGIN\n  INSERT INTO log VALUES (NEW.a);\n  UPDATE c SET n = n + 1;\nEND",
        ),
        (
            "sqlite",
            "CREATE TRIGGER trg AFTER INSERT ON t\n"
            "BEGIN\n  INSERT INTO log VALUES (NEW.a);\n  UPDATE c SET n = n + 1;\nEND",
        ),
        (
            "postgresql",
            "CREATE TRIGGER trg AFTER INSERT ON t\n"
            "  FOR EACH ROW\n  EXECUTE FUNCTION log_it(\n  'a;b'\n)",
        ),
    ],
)
def test_table_then_trigger_then_insert_give_three_statements_with_lines(
    dialect: str, trigger: str
) -> None:
    sql = f"-- 0001 create\nCREATE TABLE t (a INT);\n\n{trigger};\n\nINSERT INTO t VALUES (1);\n"

    assert split(sql, dialect) == [
        (2, "CREATE TABLE t (a INT)"),
        (4, trigger),
        (10, "INSERT INTO t VALUES (1)"),
    ]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_last_statement_without_semicolon_still_counts(dialect: str) -> None:
    assert split("SELECT 1;\nSELECT 2\n-- the end\n", dialect) == [(1, "SELECT 1"), (2, "SELECT 2")]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
@pytest.mark.parametrize("sql", ["", "\n\n", "-- only a comment;\n/* and; this */\n", ";\n;"])
def test_file_without_statements_gives_none(dialect: str, sql: str) -> None:
    assert split_statements(sql, dialect) == []


def test_mysqldump_executable_comments_are_kept_on_mysql() -> None:
    sql = (
        "-- MySQL dump\n"
        "/*!40101 SET NAMES utf8 */;\n"
        "/*!40014 SET @OLD_FK=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n"
        "/* plain comment; not run */;\n"
        "CREATE TABLE t (a INT) ENGINE=InnoDB /*!50100 PARTITION BY HASH (a) */;\n"
    )

    assert split(sql, "mysql") == [
        (2, "/*!40101 SET NAMES utf8 */"),
        (3, "/*!40014 SET @OLD_FK=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */"),
        (5, "CREATE TABLE t (a INT) ENGINE=InnoDB /*!50100 PARTITION BY HASH (a) */"),
    ]


def test_executable_comments_are_plain_comments_outside_mysql() -> None:
    assert split("/*!40101 SET NAMES utf8 */;\nSELECT 1;", "sqlite") == [(2, "SELECT 1")]


def test_delimiter_lines_are_rejected_with_advice() -> None:
    sql = "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END //\nDELIMITER ;\n"

    with pytest.raises(SqlSyntaxError) as caught:
        split_statements(sql, "mysql")

    assert caught.value.line == 1
    assert "mysql command-line client" in caught.value.problem
    assert "remove the DELIMITER lines" in caught.value.problem
    assert str(caught.value) == f"line 1: {caught.value.problem}"


@pytest.mark.parametrize(
    ("sql", "line"),
    [("SELECT 1;\n\n  delimiter $$\n", 3), ("SELECT 1;\n-- x\n\nDELIMITER ;;", 4)],
)
def test_delimiter_after_other_statements_is_rejected_on_its_line(sql: str, line: int) -> None:
    with pytest.raises(SqlSyntaxError, match="DELIMITER is a command of the mysql") as caught:
        split_statements(sql, "mysql")

    assert caught.value.line == line


def test_a_column_named_delimiter_is_not_mistaken_for_the_client_command() -> None:
    sql = "CREATE TABLE csv_format (\n  delimiter CHAR(1)\n);"

    assert split(sql, "mysql") == [(1, "CREATE TABLE csv_format (\n  delimiter CHAR(1)\n)")]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_unterminated_string_is_rejected_with_the_line_it_starts_on(dialect: str) -> None:
    sql = "SELECT 1;\n-- next; one\nINSERT INTO t VALUES ('oops;\n);\n\nSELECT 2;\n"

    with pytest.raises(SqlSyntaxError) as caught:
        split_statements(sql, dialect)

    assert caught.value.line == 3
    assert caught.value.problem == "unterminated string literal starting \"'oops;\": no closing '"


@pytest.mark.parametrize(
    ("dialect", "quote", "what"),
    [
        ("mysql", "`", "quoted identifier"),
        ("postgresql", '"', "quoted identifier"),
        ("sqlite", '"', "quoted identifier"),
        ("mysql", '"', "string literal"),
    ],
)
def test_unterminated_quoted_name_is_rejected_with_its_line(
    dialect: str, quote: str, what: str
) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        split_statements(f"SELECT 1;\n\nSELECT {quote}odd;\nname FROM t;", dialect)

    assert caught.value.line == 3
    assert caught.value.problem == f"unterminated {what} starting '{quote}odd;': no closing {quote}"


def test_a_literal_sqlglot_cannot_read_is_rejected_with_its_line() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        split_statements("SELECT 1;\nSELECT x'zz';", "sqlite")

    assert (caught.value.line, caught.value.problem) == (
        2,
        "cannot tokenize the SQL starting \"x'zz';\"",
    )


def test_unterminated_dollar_quote_is_rejected_with_its_line() -> None:
    sql = "SELECT 1;\nCREATE FUNCTION f() RETURNS int AS $fn$\nSELECT 1;\n$$ LANGUAGE sql;\n"

    with pytest.raises(SqlSyntaxError) as caught:
        split_statements(sql, "postgresql")

    assert caught.value.line == 2
    assert "unterminated dollar-quoted string" in caught.value.problem
    assert "no closing $fn$" in caught.value.problem


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_unterminated_block_comment_is_rejected_with_its_line(dialect: str) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        split_statements("SELECT 1; /* done */\n/* oops;\nSELECT 2;", dialect)

    assert (caught.value.line, caught.value.problem) == (
        2,
        "unterminated /* comment: no closing */",
    )


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_trigger_whose_begin_is_never_closed_is_rejected(dialect: str) -> None:
    sql = (
        "SELECT 1;\n"
        "CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW\n"
        "BEGIN\n  INSERT INTO log VALUES (1);\n\nSELECT 2;\n"
    )

    with pytest.raises(SqlSyntaxError) as caught:
        split_statements(sql, dialect)

    assert caught.value.line == 2
    assert caught.value.problem == "BEGIN on line 3 is never closed: the file ends before its END"


def test_a_plain_end_also_closes_an_if_left_open_inside_it() -> None:
    # The server rejects the missing END IF; the splitter must not swallow the rest of the file.
    procedure = "CREATE PROCEDURE p() BEGIN\n  IF 1 THEN SELECT 1;\nEND"

    assert split(f"{procedure};\nSELECT 2;", "mysql") == [(1, procedure), (4, "SELECT 2")]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_transaction_begin_and_commit_are_ordinary_statements(dialect: str) -> None:
    sql = "BEGIN;\nUPDATE t SET a = 1;\nCOMMIT;\n"

    assert split(sql, dialect) == [(1, "BEGIN"), (2, "UPDATE t SET a = 1"), (3, "COMMIT")]


def test_mysql_start_transaction_is_an_ordinary_statement() -> None:
    sql = "START TRANSACTION;\nUPDATE t SET a = 1;\nCOMMIT;"

    assert [text for _, text in split(sql, "mysql")] == [
        "START TRANSACTION",
        "UPDATE t SET a = 1",
        "COMMIT",
    ]


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_statement_text_is_exactly_as_written_with_inner_comments(dialect: str) -> None:
    statement = "UPDATE  t\n   SET a = 1 -- why; because\n /* note */  WHERE b = 'x'"
    sql = f"\n\n  -- leading comment is dropped\n  {statement}  ;  -- trailing is dropped\n"

    assert split(sql, dialect) == [(4, statement)]


def test_client_commands_keep_their_full_text() -> None:
    # sqlglot reads a command's arguments as one token; its reported offsets are unreliable.
    sql = "CALL refresh('a;b', 2)  ;\n  REPLACE INTO t VALUES (1) -- why\n;\nCALL last(3) -- done\n"

    assert split(sql, "mysql") == [
        (1, "CALL refresh('a;b', 2)"),
        (2, "REPLACE INTO t VALUES (1)"),
        (4, "CALL last(3)"),
    ]


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SQL dialect 'oracle'"):
        split_statements("SELECT 1", "oracle")


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_a_one_megabyte_file_costs_little_more_than_tokenizing_it(dialect: str) -> None:
    row = "INSERT INTO t (a, b) VALUES (1, 'it''s; here'); -- note; here\n"
    trigger = (
        "CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW BEGIN "
        "UPDATE c SET n = CASE WHEN n > 0 THEN n + 1 ELSE 1 END; END;\n"
    )
    chunk = row * 20 + trigger
    sql = chunk * (1_000_000 // len(chunk) + 1)
    sqlglot_name = {"postgresql": "postgres"}.get(dialect, dialect)

    started = time.perf_counter()
    Dialect.get_or_raise(sqlglot_name).tokenize(sql)
    tokenizing = time.perf_counter() - started
    started = time.perf_counter()
    statements = split_statements(sql, dialect)
    splitting = time.perf_counter() - started

    assert len(statements) == 21 * (1_000_000 // len(chunk) + 1)
    assert statements[20].line == 21
    # sqlglot's tokenizer is most of the cost (about 0.4 s/MB with sqlglotc, over 1 s without).
    assert splitting < 1.5 * tokenizing + 0.3
