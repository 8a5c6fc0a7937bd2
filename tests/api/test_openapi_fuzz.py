"""A property run of the authenticated OpenAPI (issue 9, acceptance): schemathesis generates
requests for every operation of ``/openapi.json`` (valid and edge-case path, query and body
values from the schema) and sends each with an API token of every role. No answer may be a 5xx;
each must be the one error shape when it is an error.

Kept small (5 examples per operation, every operation, every role; 13-30 s at load 4-6 on the
2-core machine): it looks for crashes, the route × role tests and the API tests check what the
answers say. The token accounts have no password, so setting up computes no argon2 hash.
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
from trephine.services import accounts
from trephine.store.database import Database
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
    tokens = {role: _token(app.state.database, role) for role in Role}
    yield Site(app, tokens)
    app.state.database.dispose()


def _token(database: Database, role: Role) -> str:
    """An API token of a fresh ``fuzz-<role>`` account. The account signs in through OpenID
    Connect (no password), so no argon2 hash is computed (about 0.5 s each under load): the
    test sends requests with tokens, it never signs in."""
    name = f"fuzz-{role.value}"
    with database.unit_of_work("test-setup") as uow:
        accounts.add_user(uow, name, role, None, oidc_subject=name)
        raw, _ = accounts.create_token(uow, name, 7)
    return raw


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
