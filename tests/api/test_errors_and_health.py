"""The error mapping and /healthz on databases that are missing or not migrated."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.api.errors import body_for, status_for
from trephine.errors import (
    Conflict,
    IllegalTransition,
    Location,
    NotFound,
    ParseError,
    TrephineError,
    ValidationError,
)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound("patient", "P1"), 404, "not_found"),
        (ValidationError("limit", 0, ">= 1"), 422, "validation_error"),
        (ParseError("bad", location=Location("f.csv", row=3, field="x")), 422, "parse_error"),
        (IllegalTransition("result 1", "verified", "draft"), 409, "illegal_transition"),
        (TrephineError("something"), 400, "error"),
    ],
)
def test_each_error_kind_has_a_status_and_code(
    error: TrephineError, status: int, code: str
) -> None:
    assert status_for(error) == status
    body = body_for(error)
    assert body.code == code and body.message == str(error)


def test_conflict_maps_to_409() -> None:
    error = Conflict("patient", "P1", "sex", "female", "male")
    assert status_for(error) == 409
    assert body_for(error).code == "conflict"


def test_validation_error_keeps_field_and_allowed() -> None:
    body = body_for(ValidationError("diagnosis", "flu", ["AML", "MDS"]))
    assert (body.field, body.allowed) == ("diagnosis", "AML, MDS")


def test_unexpected_errors_are_500_without_internals(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'x.db'}")

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret SQL text")

    @app.get("/boom-page")
    def boom_page() -> None:
        raise RuntimeError("secret SQL text")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/v1/boom")
        assert r.status_code == 500
        assert r.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
        page = client.get("/boom-page")
        assert page.status_code == 500 and "secret" not in page.text
        assert page.headers["content-type"].startswith("text/html")


def test_healthz_is_503_on_an_empty_database_and_200_once_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with TestClient(create_app(url)) as client:
        r = client.get("/healthz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["database"]["up_to_date"] is False
        assert "trephine init" in body["hint"]
        client.app.state.database.upgrade()  # type: ignore[attr-defined]
        assert client.get("/healthz").status_code == 200


def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    # A port nobody listens on: the driver fails to connect.
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"
    with TestClient(create_app(url)) as client:
        r = client.get("/healthz")
        assert r.status_code == 503
        assert r.json()["database"] == {"reachable": False, "error": "OperationalError"}


def test_api_on_an_unmigrated_database_is_503_with_the_fix(tmp_path: Path) -> None:
    with TestClient(
        create_app(f"sqlite:///{tmp_path / 'e.db'}"), raise_server_exceptions=False
    ) as client:
        # Credentials must be checked against the (missing) tables: 503, not 401.
        r = client.get("/api/v1/patients", headers={"Authorization": "Bearer trp_x"})
        assert r.status_code == 503
        error = r.json()["error"]
        assert error["code"] == "database_unavailable" and "trephine init" in error["message"]
        assert "SELECT" not in r.text
        client.cookies.set("trephine_session", "x")
        page = client.get("/")
        assert page.status_code == 503 and "trephine init" in page.text
