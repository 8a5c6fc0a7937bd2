"""``trephine patients list`` and ``patients show`` name call categories in the words of the
pages (criteria/categories.category_words); ``--json`` keeps the codes (a contract). Both
databases."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assess_case import biopsy, marrow_items, seed_aml_patient
from trephine.cli.main import app
from trephine.services import assessments
from trephine.store.database import Database


@pytest.fixture
def url(database: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    # CR MRD- at day 30, then 8 % blasts after CR at day 150: a haematologic relapse.
    seed_aml_patient(database)
    biopsy(database, 150, 3, marrow_items(40))
    with database.unit_of_work("t") as uow:
        assessments.assess_patient(uow, "P1")
    monkeypatch.setenv("COLUMNS", "200")  # no cell of the list table cut short
    return database.engine.url.render_as_string(hide_password=False)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_patients_list_names_the_latest_call_in_words_and_json_keeps_the_code(url: str) -> None:
    table = invoke("patients", "list", "--database-url", url)
    assert "Haematologic relapse" in table and "HEMATOLOGIC_RELAPSE" not in table
    page = json.loads(invoke("patients", "list", "--json", "--database-url", url))
    assert [r["latest_response"] for r in page["items"]] == ["HEMATOLOGIC_RELAPSE"]


def test_patients_show_names_each_current_call_in_words(url: str, database: Database) -> None:
    out = invoke("patients", "show", "P1", "--database-url", url)
    assert "ELN2022-relapse: Haematologic relapse" in out
    assert "ELN2022: CR MRD-" in out and "ELN2021: Negative, bone marrow" in out
    with database.unit_of_work("t") as uow:
        codes = {s.assessment.category for s in assessments.patient_assessments(uow, "P1")}
    assert {"HEMATOLOGIC_RELAPSE", "CR_MRD-", "BEFORE_LANDMARK"} <= codes
    assert [c for c in sorted(codes) if "_" in c and c in out] == []
