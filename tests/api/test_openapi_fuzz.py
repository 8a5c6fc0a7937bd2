"""A property run of the authenticated OpenAPI (issue 9, acceptance): schemathesis generates
requests for every operation of ``/openapi.json`` (valid and edge-case path, query and body
values from the schema) and sends each with an API token of every role. No answer may be a 5xx;
each must be the one error shape when it is an error.

Kept small (a few examples per operation, ~20 s): it looks for crashes, the route × role tests
and the API tests check what the answers say.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from trephine.access import Role
from trephine.api.app import create_app
from trephine.testing.accounts import token_for
from trephine.testing.fixtures import load_demo_database


@dataclass
class Site:
    app: FastAPI
    tokens: dict[Role, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    load_demo_database(url, 6, seed=5)
    app = create_app(url)
    tokens = {role: token_for(app.state.database, role) for role in Role}
    yield Site(app, tokens)
    app.state.database.dispose()


def _check(case: Any, site: Site) -> None:
    for role, token in site.tokens.items():
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        where = f"{role}: {case.method} {case.formatted_path} {case.query or ''}"
        assert response.status_code < 500, f"{where} → {response.status_code} {response.text}"
        if response.status_code >= 400:
            error = response.json().get("error")
            assert isinstance(error, dict) and error.get("code"), f"{where}: {response.text}"


def test_no_operation_answers_5xx_for_any_role(site: Site) -> None:
    # /openapi.json itself is for signed-in users (api:docs): read it with a token.
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", site.app, headers={"Authorization": f"Bearer {site.tokens[Role.ADMIN]}"}
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5, "the schema lists the API's operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            _check(case, site)

        run()
