"""The error tree: every class carries its code, exit code and HTTP status, read at both seams."""

from __future__ import annotations

import pytest

from metadb import errors
from metadb.api.errors import status_for
from metadb.cli.exitcodes import FAILED, LOCK_TIMEOUT, NEEDS_ATTENTION, USAGE, exit_code_for

CLASSES = [getattr(errors, name) for name in errors.__all__]


def test_every_error_class_has_a_code_an_exit_code_and_an_http_status() -> None:
    for cls in CLASSES:
        assert issubclass(cls, errors.MetadbError), cls
        assert isinstance(cls.code, str) and cls.code, cls
        assert cls.exit_code in (FAILED, USAGE, NEEDS_ATTENTION, LOCK_TIMEOUT), cls
        assert cls.http_status in (400, 404, 409, 412, 500, 503), cls


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in CLASSES]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)


#: The documented values (README's exit codes, docs/api.md's statuses); every class not here
#: inherits exit 1 / HTTP 500 or its parent's.
DOCUMENTED = {
    "ConfigError": (USAGE, 400),
    "UnsupportedDatabaseError": (USAGE, 400),
    "UnknownBackfillError": (USAGE, 400),
    "ResourceError": (USAGE, 400),
    "CredentialsNotApplicableError": (USAGE, 400),
    "InvalidArgumentError": (USAGE, 400),
    "NotFoundError": (FAILED, 404),
    "AlreadyExistsError": (FAILED, 409),
    "FailedPreconditionError": (FAILED, 412),
    "DatabaseUnreachableError": (FAILED, 503),
    "ServerUnreachableError": (FAILED, 503),
    "AuthenticationError": (FAILED, 503),
    "TokenRejectedError": (FAILED, 503),
    "DirtyDatabaseError": (NEEDS_ATTENTION, 500),
    "ChangedMigrationError": (NEEDS_ATTENTION, 500),
    "MissingMigrationError": (NEEDS_ATTENTION, 500),
    "UnsupportedSchemaError": (NEEDS_ATTENTION, 500),
    "SchemaOutOfDateError": (NEEDS_ATTENTION, 412),
    "HintsFailedError": (NEEDS_ATTENTION, 500),
    "LockTimeoutError": (LOCK_TIMEOUT, 500),
    "TableLockTimeoutError": (LOCK_TIMEOUT, 500),
    "BelowAdoptedBaselineError": (NEEDS_ATTENTION, 500),
    "MixedTextEncodingError": (USAGE, 400),
    "QueryTimeoutError": (FAILED, 503),
    "WriteConflictError": (FAILED, 503),
}


@pytest.mark.parametrize("name", errors.__all__)
def test_exit_codes_and_statuses_are_the_documented_ones(name: str) -> None:
    cls = getattr(errors, name)
    assert (cls.exit_code, cls.http_status) == DOCUMENTED.get(name, (FAILED, 500))


def test_both_seams_read_the_class_attributes_and_default_for_anything_else() -> None:
    class Custom(errors.InvalidArgumentError):
        pass

    assert exit_code_for(Custom("x")) == USAGE
    assert status_for(Custom("x")) == 400
    assert exit_code_for(ValueError("x")) == FAILED
    assert status_for(ValueError("x")) == 500


def test_an_out_of_date_schema_is_also_a_failed_precondition() -> None:
    error = errors.SchemaOutOfDateError(
        database="sqlite:///x.sqlite", version=2, pending=[3], dirty=False, latest=3
    )
    assert isinstance(error, errors.FailedPreconditionError)
    assert "metadb migrate up --database sqlite:///x.sqlite" in str(error)
    newer = errors.SchemaOutOfDateError(
        database="sqlite:///x.sqlite", version=5, pending=[], dirty=False, latest=3
    )
    assert "newer than the newest migration this metadb has (3)" in str(newer)


def test_errors_built_from_a_servers_answer_keep_their_facts() -> None:
    down = errors.DatabaseUnreachableError(
        "http://metadb:8080", "cannot connect to postgresql://...", from_server=True
    )
    assert (down.url, down.detail, down.from_server) == (
        "http://metadb:8080",
        "cannot connect to postgresql://...",
        True,
    )
    assert str(down).startswith("the metadb server at http://metadb:8080 cannot reach its")
    refused = errors.TokenRejectedError("http://metadb:8080", "the bearer token is wrong")
    assert (refused.url, refused.detail) == ("http://metadb:8080", "the bearer token is wrong")
    assert "token=" in str(refused)
    no_answer = errors.ServerUnreachableError("http://metadb:8080", "ConnectError")
    assert isinstance(no_answer, errors.DatabaseUnreachableError)
    assert "metadb serve" in str(no_answer) and no_answer.detail == "ConnectError"
