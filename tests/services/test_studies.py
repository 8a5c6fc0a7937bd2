"""Studies (issue 12 §1) on SQLite and PostgreSQL: arms, enrolment, a visit schedule with
anchors and windows, procedures mapped by window and by hand (audited, overriding), cohorts by
study arm, the import sheets (all or nothing, located errors), and the CLI's refusals and views."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.domain import Patient, PatientIdentity, Procedure, Sex, Site
from trephine.domain.cohort import CohortDefinition
from trephine.domain.patient import Classification, Diagnosis, Disease
from trephine.domain.study import Anchor, Enrolment, Visit
from trephine.domain.therapy import DonorType, Intensity, Transplant
from trephine.errors import Conflict, ImportRejected, NotFound, ValidationError
from trephine.services import cohorts, patients, procedures, studies
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow

START = dt.date(2024, 1, 10)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _at(day: int) -> dt.datetime:
    return dt.datetime.combine(START + dt.timedelta(days=day), dt.time(9), tzinfo=dt.UTC)


def _seed(db: Database) -> dict[str, int]:
    """Two patients; S-1 has biopsies on days -3, 12, 29, 33 and a transplant on day 60 with a
    biopsy 98 days after it; S-2 has only a screening biopsy."""
    ids: dict[str, int] = {}
    with db.unit_of_work("seed") as uow:
        for pid in ("S-1", "S-2"):
            patients.register_patient(
                uow,
                Patient(pid, Sex.FEMALE, 1970),
                PatientIdentity(f"Name Of {pid}", f"MRN-{pid}", dt.date(1970, 2, 3)),
            )
            patients.add_diagnosis(
                uow, pid, Diagnosis(Disease.AML, START - dt.timedelta(days=5), Classification.WHO_5)
            )
        for day in (-3, 12, 29, 33, 158):
            ids[f"S-1@{day}"], _ = procedures.record_procedure(
                uow, "S-1", Procedure(_at(day), Site.POSTERIOR_ILIAC_CREST)
            )
        ids["S-2@-2"], _ = procedures.record_procedure(
            uow, "S-2", Procedure(_at(-2), Site.POSTERIOR_ILIAC_CREST)
        )
        patients.add_cellular_therapy(
            uow,
            "S-1",
            Transplant(
                START + dt.timedelta(days=60), DonorType.MATCHED_UNRELATED, Intensity.INTENSIVE
            ),
        )
        studies.define(uow, "ST-1", "A test study")
        studies.add_arm(uow, "ST-1", "A")
        studies.add_arm(uow, "ST-1", "B")
        for v in (
            Visit("screening", "Screening", Anchor.ENROLMENT, -3, 3),
            Visit("end_of_induction", "End of induction", Anchor.ENROLMENT, 30, 7),
            Visit("day_100", "Day +100 after transplant", Anchor.TRANSPLANT, 100, 14),
        ):
            studies.set_visit(uow, "ST-1", v)
        studies.enrol(uow, "ST-1", Enrolment("S-1", "A", START, True, START))
        studies.enrol(uow, "ST-1", Enrolment("S-2", "B", START, False))
    return ids


def _visits(view: studies.StudyView, patient: str) -> dict[str, studies.VisitStatus]:
    (e,) = [e for e in view.enrolments if e.patient == patient]
    return {s.visit: s for s in e.visits}


def test_procedures_map_to_visits_by_window_nearest_the_due_day(database: Database) -> None:
    ids = _seed(database)
    with database.unit_of_work("reader") as uow:
        v = studies.view(uow, "ST-1")
    s1 = _visits(v, "S-1")
    assert s1["screening"].procedure_id == ids["S-1@-3"] and s1["screening"].how == "window"
    # Days 29 and 33 are both inside day 30 ± 7: the nearer (29) counts.
    assert s1["end_of_induction"].procedure_id == ids["S-1@29"]
    assert s1["end_of_induction"].due_on == START + dt.timedelta(days=30)
    # Day +100 counts from the transplant (day 60): due day 160, the biopsy on day 158.
    assert s1["day_100"].due_on == START + dt.timedelta(days=160)
    assert s1["day_100"].procedure_id == ids["S-1@158"]
    s2 = _visits(v, "S-2")
    assert s2["end_of_induction"].procedure_id is None and s2["end_of_induction"].how == "none"
    assert s2["day_100"].due_on is None
    assert s2["day_100"].anchor_missing == "no transplant recorded on or after enrolment"
    assert [(a, n) for a, _, n in v.arms] == [("A", 1), ("B", 1)]
    assert [vis.name for vis in v.schedule] == ["screening", "end_of_induction", "day_100"]


def test_a_hand_mapping_overrides_the_window_and_is_audited(database: Database) -> None:
    ids = _seed(database)
    with database.unit_of_work("coordinator") as uow:
        studies.map_visit(
            uow, "ST-1", "S-1", "end_of_induction", ids["S-1@33"], "day 29 marrow was inadequate"
        )
        studies.map_visit(uow, "ST-1", "S-1", "screening", None, "screening done elsewhere")
    with database.unit_of_work("reader") as uow:
        s1 = _visits(studies.view(uow, "ST-1"), "S-1")
        events = uow.session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "map")
        ).all()
    assert (s1["end_of_induction"].procedure_id, s1["end_of_induction"].how) == (
        ids["S-1@33"],
        "hand",
    )
    assert s1["end_of_induction"].reason == "day 29 marrow was inadequate"
    assert (s1["screening"].procedure_id, s1["screening"].how) == (None, "hand")
    assert [(e.actor, e.entity_id) for e in events] == [
        ("coordinator", "ST-1/S-1/end_of_induction"),
        ("coordinator", "ST-1/S-1/screening"),
    ]


def test_refusals_name_the_field_and_the_allowed_values(database: Database) -> None:
    ids = _seed(database)
    with database.unit_of_work("x") as uow:
        with pytest.raises(ValidationError, match=r"arm: 'C' is not allowed; allowed: A, B"):
            studies.enrol(uow, "ST-1", Enrolment("S-1", "C", START, True))
        with pytest.raises(ValidationError, match=r"study: 'NOPE'.*ST-1"):
            studies.add_arm(uow, "NOPE", "A")
        with pytest.raises(NotFound):
            studies.enrol(uow, "ST-1", Enrolment("S-9", "A", START, True))
        with pytest.raises(Conflict):
            studies.enrol(uow, "ST-1", Enrolment("S-1", "B", START, True, START))
        with pytest.raises(ValidationError, match="procedure"):
            studies.map_visit(uow, "ST-1", "S-2", "screening", ids["S-1@-3"], "wrong patient")
        with pytest.raises(ValidationError, match="visit: 'day_7'"):
            studies.map_visit(uow, "ST-1", "S-1", "day_7", None, "no such visit")
        with pytest.raises(ValidationError, match="reason"):
            studies.map_visit(uow, "ST-1", "S-1", "screening", None, "  ")
    with pytest.raises(ValidationError, match="visit"):
        Visit("Day 100", "x", Anchor.ENROLMENT, 100, 7)
    with pytest.raises(ValidationError, match="window"):
        Visit("day_100", "x", Anchor.ENROLMENT, 100, -1)
    with pytest.raises(ValidationError, match="consent_on"):
        Enrolment("S-1", "A", START, True, START + dt.timedelta(days=1))


def test_cohorts_select_by_study_arm(database: Database) -> None:
    _seed(database)
    with database.unit_of_work("r") as uow:
        cohorts.define(uow, "arm-a", CohortDefinition(study="ST-1", arms=("A",)))
        cohorts.define(uow, "st-1", CohortDefinition(diseases=("AML",), study="ST-1"))
        assert cohorts.evaluate(uow, "arm-a").members == ("S-1",)
        assert cohorts.evaluate(uow, "st-1").members == ("S-1", "S-2")
        assert "enrolled on study ST-1 arm A" in cohorts.get(uow, "arm-a").definition.describe()
        with pytest.raises(ValidationError, match=r"arms: 'Z'.*A, B"):
            cohorts.define(uow, "bad", CohortDefinition(study="ST-1", arms=("Z",)))
        with pytest.raises(ValidationError, match="study: 'ST-9'"):
            cohorts.define(uow, "bad", CohortDefinition(study="ST-9"))
    with pytest.raises(ValidationError, match="arms"):
        CohortDefinition(arms=("A",))


SHEETS = {
    "studies.csv": "study,title,description\nIMP-1,Imported study,\n",
    "study_arms.csv": "study,arm,description\nIMP-1,low,\nIMP-1,high,\n",
    "study_visits.csv": (
        "study,visit,label,anchor,day,window\n"
        "IMP-1,screening,Screening,enrolment,-7,7\n"
        "IMP-1,day_28_cart,Day 28 after CAR-T,CAR-T,28,7\n"
    ),
    "enrolments.csv": (
        "study,patient_id,arm,enrolled_on,research_consent,consent_on\n"
        "IMP-1,S-1,low,2024-01-10,yes,2024-01-09\n"
        "IMP-1,S-2,high,2024-01-11,no,\n"
    ),
}


def _write(folder: Path, sheets: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in sheets.items():
        (folder / name).write_text(text)
    return folder


def test_study_sheets_import_and_bad_rows_reject_the_whole_file(
    database: Database, tmp_path: Path
) -> None:
    from trephine.importers.clinical import import_path

    _seed(database)
    bad = dict(SHEETS)
    bad["enrolments.csv"] = SHEETS["enrolments.csv"].replace("S-2,high", "S-2,medium")
    bad["study_visits.csv"] = SHEETS["study_visits.csv"].replace("CAR-T,28", "infusion,28")
    with pytest.raises(ImportRejected) as rejected:
        import_path(database, _write(tmp_path / "bad", bad), "importer")
    text = "\n".join(str(i) for i in rejected.value.issues)
    assert "study_visits.csv" in text and "row 3" in text and "anchor" in text
    assert "CAR-T" in text  # the allowed values are listed
    with database.unit_of_work("r") as uow:
        assert [s.name for s, _ in studies.list_studies(uow)] == ["ST-1"]  # nothing written
    report = import_path(database, _write(tmp_path / "good", SHEETS), "importer")
    assert report.created["enrolments"] == 2 and report.created["study_visits"] == 2
    with database.unit_of_work("r") as uow:
        v = studies.view(uow, "IMP-1")
    assert [(e.patient, e.arm, e.research_consent) for e in v.enrolments] == [
        ("S-1", "low", True),
        ("S-2", "high", False),
    ]
    assert v.schedule[0].day == -7
    # Enrolment on an arm that does not exist: located on its row, nothing written.
    again = dict(SHEETS)
    again["enrolments.csv"] = (
        "study,patient_id,arm,enrolled_on,research_consent\nIMP-1,S-1,mid,2024-01-10,yes\n"
    )
    with pytest.raises(ImportRejected) as rejected:
        import_path(
            database, _write(tmp_path / "again", {"enrolments.csv": again["enrolments.csv"]}), "i"
        )
    (issue,) = rejected.value.issues
    assert "enrolments.csv" in str(issue) and "row 2" in str(issue) and "high, low" in str(issue)


def test_cli_enrols_maps_and_shows_researchers_pseudonyms_only(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trephine.testing.accounts import ensure_user

    ids = _seed(database)
    url = database.url
    runner = CliRunner()
    ensure_user(database, "researcher", "res")
    ensure_user(database, "clinician", "doc")
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", "a-test-secret-of-some-length")
    monkeypatch.setenv("TREPHINE_USER", "res")
    get_settings.cache_clear()
    refused = runner.invoke(
        app,
        [
            "study",
            "map",
            "ST-1",
            "S-1",
            "screening",
            "--none",
            "--reason",
            "x",
            "--database-url",
            url,
        ],
    )
    assert refused.exit_code == 2 and "does not grant studies:enrol" in refused.output
    shown = runner.invoke(app, ["study", "show", "ST-1", "--json", "--database-url", url])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    for text in ("S-1", "S-2", "Name Of", "MRN-", "1970-02-03"):
        assert text not in shown.output
    assert all(e["patient"].startswith("P") and len(e["patient"]) == 17 for e in data["enrolments"])
    # No date at all (Safe Harbor): days from the diagnosis (5 days before enrolment).
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shown.output), shown.output
    assert {e["enrolled_day"] for e in data["enrolments"]} == {5}
    assert {e["consent_day"] for e in data["enrolments"]} == {5, None}
    assert data["deidentified"] == "safe-harbor"
    text = runner.invoke(app, ["study", "show", "ST-1", "--database-url", url])
    assert text.exit_code == 0, text.output
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text.output), text.output
    assert "enrolled day 5" in text.output and "biopsy on day 2" in text.output
    monkeypatch.setenv("TREPHINE_USER", "doc")
    get_settings.cache_clear()
    mapped = runner.invoke(
        app,
        [
            "study",
            "map",
            "ST-1",
            "S-1",
            "end_of_induction",
            "--procedure",
            str(ids["S-1@33"]),
            "--reason",
            "inadequate day 29 marrow",
            "--database-url",
            url,
        ],
    )
    assert mapped.exit_code == 0, mapped.output
    shown = runner.invoke(app, ["study", "show", "ST-1", "--database-url", url])
    assert (
        f"procedure {ids['S-1@33']} on 2024-02-12 (by hand: inadequate day 29 marrow)"
        in shown.output
    )
    monkeypatch.setenv("TREPHINE_USER", "res")
    get_settings.cache_clear()
    shown = runner.invoke(app, ["study", "show", "ST-1", "--database-url", url])
    assert "biopsy on day 38 (by hand)" in shown.output, shown.output
    assert "inadequate" not in shown.output and "procedure " not in shown.output
    with database.unit_of_work("r") as uow:
        reads = [
            e.detail
            for e in uow.session.scalars(
                select(AuditEventRow).where(AuditEventRow.action == "query")
            )
        ]
    assert [r["view"] for r in reads if r.get("what") == "study ST-1"] == [
        "pseudonymised",
        "pseudonymised",
        "identified",
        "pseudonymised",
    ]


def test_cli_writes_name_the_accounts_role_and_client(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Study writes from the CLI are audited like the web's: the account, its role, client cli."""
    from trephine.testing.accounts import ensure_user

    ensure_user(database, "clinician", "doc")
    monkeypatch.setenv("TREPHINE_USER", "doc")
    get_settings.cache_clear()
    url = database.url
    runner = CliRunner()
    done = runner.invoke(
        app, ["study", "define", "ST-9", "--title", "Role trail", "--database-url", url]
    )
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["study", "arm", "ST-9", "only", "--database-url", url])
    assert done.exit_code == 0, done.output
    with database.unit_of_work("r") as uow:
        events = list(
            uow.session.scalars(
                select(AuditEventRow).where(AuditEventRow.actor == "doc").order_by(AuditEventRow.id)
            )
        )
    writes = [e for e in events if e.action != "query"]
    assert len(writes) >= 2
    assert all(e.detail.get("role") == "clinician" for e in writes), [e.detail for e in writes]
    assert all(e.detail.get("client") == "cli" for e in writes)
