"""Schemathesis against the OpenAPI document: no 500s and no schema violations, on each database.

Every operation in /openapi.json gets generated requests, valid and invalid, through the real
app on a fresh database of each backend; every response must be documented (status code,
content type, body schema). Schemathesis' "positive data acceptance" check is left out:
a request can fit the document and still be refused with a documented 400 for rules no JSON
schema can say (the filter_query grammar, "exactly one of", undeclared properties). The number
of examples per operation is bounded so that CI stays fast; set METADB_FUZZ_EXAMPLES for a
deeper run.

(schemathesis' own pytest plugin does not run under pytest 9, so each operation's Hypothesis
test is built here from ``operation.as_strategy()``.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from metadb.api import ServeSettings, create_app

EXAMPLES = int(os.environ.get("METADB_FUZZ_EXAMPLES", "15"))

#: (method, path) of every operation; reading the document needs no database.
OPERATIONS = [
    (method.upper(), path)
    for path, methods in create_app().openapi()["paths"].items()
    for method in methods
]


@pytest.fixture
def api_schema(serve_settings: ServeSettings) -> Iterator[Any]:
    app = create_app(serve_settings)
    with TestClient(app):  # runs the lifespan: the database is migrated and the stores open
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors_and_responses_match_the_document(
    api_schema: Any, method: str, path: str
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    check()
