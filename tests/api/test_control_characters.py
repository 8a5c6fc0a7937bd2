"""A control character in a path or query is refused at the edge (422), on both databases.

A NUL in a patient id used to reach PostgreSQL, which cannot store it, and came back as 503.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.store.database import Database


@pytest.mark.parametrize(
    "url",
    [
        "/api/patients/EX%00001",
        "/api/patients/EX%1B001",
        "/api/patients/EX-001?view=%00",
        "/api/patients?q%00=1",
    ],
)
def test_control_characters_in_the_api_are_422(database: Database, url: str) -> None:
    with TestClient(create_app(database.url)) as client:
        response = client.get(url)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "control characters" in error["message"]
    assert "EX" not in error["message"]  # the value is not echoed


def test_a_control_character_in_a_page_path_is_422_as_a_page(database: Database) -> None:
    with TestClient(create_app(database.url)) as client:
        response = client.get("/patients/EX%00001")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
