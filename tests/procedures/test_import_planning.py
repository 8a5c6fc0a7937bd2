"""The importer accepts the checklist and consent columns of the procedures sheet: all or
nothing, located errors, idempotent re-import, the stored §10 decision."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trephine.errors import ImportRejected
from trephine.importers.clinical import import_paths
from trephine.services import procedure_plans
from trephine.store.database import Database

CONSENT_CELLS = (
    ",patient,dr.lee,2026-11-02T08:30:00+00:00,2026-1,pain; bruising or bleeding; infection,,"
)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "procedures"


def _copy(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    folder = tmp_path / "set"
    shutil.copytree(EXAMPLE, folder)
    if edit is not None:
        path = folder / "procedures.csv"
        text = path.read_text(encoding="utf-8")
        assert edit[0] in text
        path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    return folder


def test_checklist_and_consent_columns_are_stored_and_evaluated(
    database: Database, tmp_path: Path
) -> None:
    folder = _copy(tmp_path)
    import_paths(database, [folder], "importer")
    again = import_paths(database, [folder], "importer")
    assert not any(again.created.values())
    with database.unit_of_work("t") as uow:
        plans = procedure_plans.list_plans(uow)
    first, second = plans
    assert first.checklist is not None and first.checklist.call.decision == "REVIEW_REQUIRED"
    assert [r.code for r in first.checklist.call.reasons] == ["PLATELETS_LOW", "ANTICOAGULANT"]
    assert first.consent is not None and first.consent.consent.leaflet_version == "2026-1"
    assert second.checklist is not None and second.checklist.checklist.escort == "A. Friend"
    assert second.consent is not None and second.consent.consent.interpreter == "Polish (phone)"
    assert (
        second.procedure is not None and second.procedure.complications[0].kind.value == "hematoma"
    )


@pytest.mark.parametrize(
    ("edit", "column", "message"),
    [
        (
            (CONSENT_CELLS, ",,,,,,,"),
            "consent",
            "needs a consent record",
        ),
        ((",aspirin,", ",warfarin,"), "antiplatelet", "warfarin is an anticoagulant"),
        ((",fast,", ",starve,"), "fasting", "allowed: eat as usual, light meal, fast"),
        (("A. Friend", ""), "escort", "escort: a value is required"),
        (("; sedation effects", "; tiredness"), "risks_discussed", "'tiredness' is not allowed"),
        ((",18,", ",eighteen,"), "platelets", "platelets"),
    ],
)
def test_bad_planning_columns_refuse_the_whole_file(
    database: Database, tmp_path: Path, edit: tuple[str, str], column: str, message: str | None
) -> None:
    folder = _copy(tmp_path, edit)
    with pytest.raises(ImportRejected) as refused:
        import_paths(database, [folder], "importer")
    issues = [i for i in refused.value.issues if i.location is not None]
    assert any(i.location.column == column for i in issues), [str(i) for i in issues]
    if message is not None:
        assert any(message in i.message for i in issues), [i.message for i in issues]
    with database.unit_of_work("t") as uow:
        assert procedure_plans.list_plans(uow) == []
