"""Every route of the app, as anonymous and as every role, against the table in docs/security.md.

The role × permission table is parsed from the document (so the document cannot drift from the
code), every route is enumerated from the app itself (so a new route cannot be forgotten), and
each is requested for real.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trephine.access import GRANTS, Permission, Role
from trephine.api.app import create_app
from trephine.api.deps import DeclaredRoute, declared_routes
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def doc_grants() -> dict[Role, set[Permission]]:
    """The role × permission table of docs/security.md, as written there."""
    lines = SECURITY_DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| permission |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    roles = [Role(h) for h in header[1:] if h in {r.value for r in Role}]
    assert sorted(roles) == sorted(Role), f"the table's columns {header} must name every role"
    grants: dict[Role, set[Permission]] = {r: set() for r in roles}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        found = re.fullmatch(r"`([^`]+)`", cells[0])
        assert found, f"first cell must be a `permission`: {line}"
        permission = Permission(found.group(1))
        for role, cell in zip(roles, cells[1:], strict=False):
            assert cell in ("yes", "no"), f"{permission} × {role}: {cell!r} is not yes/no"
            if cell == "yes":
                grants[role].add(permission)
    return grants


def test_the_document_table_is_the_code_table() -> None:
    documented = doc_grants()
    assert documented == {role: set(GRANTS[role]) | {Permission.PUBLIC} for role in Role}
    listed = {p for perms in documented.values() for p in perms}
    assert listed == set(Permission), "every permission has a row"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path_factory.mktemp('routes') / 'routes.db'}"
    loaded = load_demo_database(url, 6, seed=11)
    app = create_app(url)
    app.state.test_patient = loaded.cohort[0].patient.external_id
    yield app
    app.state.database.dispose()


def _routes(app: FastAPI) -> list[DeclaredRoute]:
    return declared_routes(app)


def _concrete(app: FastAPI, route: DeclaredRoute) -> str:
    """The route's path with its parameters filled with values that exist."""
    path = route.path.replace("{patient_id}", app.state.test_patient)
    path = path.replace("{alert_id}", "1")
    path = path.replace("{session_id}", "1")
    path = path.replace("{plan_id}", "1").replace("{exam_id}", "1")
    path = path.replace("{procedure_id}", "1").replace("{study_id}", "1")
    path = path.replace("{stage}", "before")
    path = path.replace("{result_id}", "1").replace("{accession}", "X").replace("{kind}", "core")
    path = path.replace("{resource_id}", "spec-1")
    path = path.replace("{cohort}", "no-such-cohort").replace("{study}", "no-such-study")
    assert "{" not in path, f"no sample value for a parameter of {route.path}"
    if route.static:
        return {
            "/static": "/static/trephine.css",
            "/static/swagger-ui": "/static/swagger-ui/swagger-ui.css",
        }[route.path]
    return path


def _request(client: TestClient, method: str, path: str) -> int:
    if method == "GET":
        return client.get(path, follow_redirects=False).status_code
    return client.request(method, path, json={}, follow_redirects=False).status_code


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/fhir/")) or path == "/openapi.json"


def test_every_route_declares_exactly_one_permission(app: FastAPI) -> None:
    routes = _routes(app)
    assert len(routes) >= 15  # API, pages, sign-in, explorer, static
    for route in routes:
        if route.static:
            continue
        assert len(route.permissions) == 1, f"{sorted(route.methods)} {route.path}"


def test_anonymous_requests_are_refused_except_public(app: FastAPI) -> None:
    with TestClient(app) as client:
        for route in _routes(app):
            path = _concrete(app, route)
            for method in sorted(route.methods - {"HEAD"}):
                response = client.request(
                    method, path, json={} if method != "GET" else None, follow_redirects=False
                )
                public = route.static or route.permissions == (Permission.PUBLIC,)
                where = f"anonymous {method} {path}: {response.status_code}"
                if public:
                    assert response.status_code not in (401, 403), where
                    assert "/sign-in?" not in response.headers.get("location", ""), where
                elif _is_api(path):
                    assert response.status_code == 401, where
                    assert response.json()["error"]["code"] == "not_authenticated", where
                    assert response.headers["www-authenticate"].startswith("Bearer"), where
                else:
                    assert response.status_code == 303, where
                    assert response.headers["location"].startswith("/sign-in?next="), where


def test_a_bad_or_foreign_credential_is_401_not_anonymous_access(app: FastAPI) -> None:
    with TestClient(app) as client:
        for headers in (
            {"Authorization": "Bearer trp_not-a-token"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ):
            r = client.get("/api/v1/patients", headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
        client.cookies.set("trephine_session", "forged")
        assert client.get("/api/v1/patients").status_code == 401


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_what_the_document_says(app: FastAPI, role: Role) -> None:
    allowed = doc_grants()[role]
    routes = sorted(_routes(app), key=lambda r: r.path == "/sign-out")  # signing out last
    with client_as(app, role) as client:
        for route in routes:
            if route.static:
                continue
            (permission,) = route.permissions
            path = _concrete(app, route)
            for method in sorted(route.methods - {"HEAD"}):
                status = _request(client, method, path)
                where = f"{role} {method} {path} ({permission}): {status}"
                if permission in allowed:
                    assert status not in (401, 403), where
                    assert status < 500, where
                else:
                    assert status == 403, where


def test_route_names_are_unique(app: FastAPI) -> None:
    """Pages build links and form actions with ``url_for(name)``, which takes the first route of
    that name: an API endpoint named like a page's route (``plan_procedure``) once sent the
    procedures page's form to the JSON API, which answered 422."""
    names = [r.name for r in declared_routes(app) if r.name and not r.static]
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, repeated
