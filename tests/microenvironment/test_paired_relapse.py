"""Issue 14 §5: paired specimens at diagnosis and at relapse (``microenv compare --pairs
relapse``), besides before/after therapy. The diagnosis value is the last one on or before the
first therapy line, the relapse value the first one on or after the patient's first relapse call;
a ``relapse`` call that says remission continues is not a relapse."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from scipy import stats
from typer.testing import CliRunner

from trephine.assess.story import SUPERSEDED
from trephine.cli.main import app
from trephine.domain import Patient, Procedure, Sex, Site, Specimen, SpecimenType
from trephine.domain.patient import Classification, Diagnosis, Disease
from trephine.domain.results import Population, PopulationMethod
from trephine.domain.therapy import Intensity, TherapyIntent, TherapyLine
from trephine.errors import ValidationError
from trephine.services import patients, procedures, results
from trephine.services.microenvironment import paired_features
from trephine.store.database import Database
from trephine.store.tables import AssessmentRow, PatientRow

D0 = dt.date(2024, 1, 8)
TREG = "regulatory T cells (% of CD4 T cells)"
#: patient -> (Tregs per 1,000 CD4 T cells at diagnosis, after induction, at relapse),
#: relapse call (day, category) or None
PATIENTS = {
    "M-1": ((50, 20, 90), (300, "HEMATOLOGIC_RELAPSE")),
    "M-2": ((40, 25, 70), (250, "HEMATOLOGIC_RELAPSE")),
    "M-3": ((60, 30, 110), (280, "HEMATOLOGIC_RELAPSE")),
    # A relapse check that found remission continuing: no relapse pair.
    "M-4": ((55, 22, 58), (300, "NO_RELAPSE")),
    # Never in remission: no relapse call at all.
    "M-5": ((45, 52), None),
}
DAYS = (0, 30)
#: response calls (day 30, then day 60); "!" marks one superseded by a relapse of its marrow
RESPONSES = {
    "M-1": ("CR",),
    "M-2": ("PR", "CRi_MRD-"),
    "M-3": ("CR",),
    "M-4": ("CRh",),
    "M-5": ("NO_RESPONSE", "CR!"),
}


def _at(day: int) -> dt.datetime:
    return dt.datetime.combine(D0 + dt.timedelta(days=day), dt.time(9), tzinfo=dt.UTC)


@pytest.fixture
def cohort(database: Database) -> Database:
    with database.unit_of_work("seed") as uow:
        for pid, (counts, relapse) in PATIENTS.items():
            patients.register_patient(uow, Patient(pid, Sex.FEMALE, 1960))
            patients.add_diagnosis(
                uow, pid, Diagnosis(Disease.AML, D0, Classification.WHO_5, subtype="test AML")
            )
            patients.add_therapy_line(
                uow,
                pid,
                TherapyLine(
                    1, "7+3", TherapyIntent.INDUCTION, Intensity.INTENSIVE, D0 + dt.timedelta(1)
                ),
            )
            days = (*DAYS, relapse[0]) if relapse is not None else DAYS
            for day, tregs in zip(days, counts, strict=True):
                proc, _ = procedures.record_procedure(
                    uow, pid, Procedure(_at(day), Site.POSTERIOR_ILIAC_CREST)
                )
                acc = f"{pid}-{day}"
                procedures.add_specimen(
                    uow, pid, Specimen(acc, SpecimenType.ASPIRATE, _at(day), first_pull=True), proc
                )
                value = Population(
                    "regulatory T cells", tregs, "CD4 T cells", 1000, PopulationMethod.FLOW
                )
                results.record_result(uow, acc, value, verify=True)
            patient_id = uow.session.query(PatientRow.id).filter_by(external_id=pid).scalar()
            calls = [(30 * (i + 1), "response", c) for i, c in enumerate(RESPONSES[pid])]
            if relapse is not None:
                calls.append((relapse[0], "relapse", relapse[1]))
            for i, (day, kind, category) in enumerate(calls):
                uow.session.add(
                    AssessmentRow(
                        patient_id=patient_id,
                        assessed_on=D0 + dt.timedelta(days=day),
                        category=category.rstrip("!"),
                        ruleset="ELN2022",
                        criteria_edition="ELN2022",
                        evidence=[],
                        missing_inputs=[],
                        software_version="t",
                        computed_at=_at(day),
                        recorded_by="t",
                        flags=[SUPERSEDED] if category.endswith("!") else [],
                        params={},
                        call_kind=kind,
                        inputs_digest=f"{pid}-{i}",
                    )
                )
    return database


def _pairs(db: Database, pairs: str, response: str | None = None) -> dict[str, tuple[float, float]]:
    with db.unit_of_work("reader") as uow:
        features, read = paired_features(uow, pairs=pairs, response=response)
    _, found = features[TREG]
    assert sorted(read) == sorted(p.patient for p in found)
    return {p.patient: (p.before, p.after) for p in found}


def test_diagnosis_and_relapse_are_paired_and_remission_checks_left_out(
    cohort: Database,
) -> None:
    assert _pairs(cohort, "relapse") == {
        pid: (counts[0] / 10, counts[2] / 10)
        for pid, (counts, relapse) in PATIENTS.items()
        if relapse is not None and relapse[1] == "HEMATOLOGIC_RELAPSE"
    }
    # Before/after therapy is unchanged: the first marrow after the line's start.
    assert _pairs(cohort, "therapy") == {
        pid: (counts[0] / 10, counts[1] / 10) for pid, (counts, _) in PATIENTS.items()
    }
    with cohort.unit_of_work("reader") as uow, pytest.raises(ValidationError, match="relapse"):
        paired_features(uow, pairs="remission")


def test_cli_compares_diagnosis_with_relapse(cohort: Database) -> None:
    url = cohort.engine.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(
        app, ["microenv", "compare", "--pairs", "relapse", "--json", "--database-url", url]
    )
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["pairs"] == "relapse"
    (treg,) = [f for f in doc["features"] if f["feature"] == TREG]
    assert {p["patient"] for p in treg["pairs"]} == {"M-1", "M-2", "M-3"}
    before = [p["before"] for p in treg["pairs"]]
    after = [p["after"] for p in treg["pairs"]]
    assert treg["p_value"] == pytest.approx(float(stats.wilcoxon(after, before).pvalue))
    assert treg["effect_size"] == pytest.approx(1.0)  # every patient rose at relapse
    bad = CliRunner().invoke(
        app, ["microenv", "compare", "--pairs", "remission", "--database-url", url]
    )
    assert bad.exit_code == 2 and "--pairs" in bad.stderr and "therapy, relapse" in bad.stderr


def test_research_page_compares_diagnosis_with_relapse(
    cohort: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trephine.api.app import create_app
    from trephine.present.paired import number
    from trephine.settings import get_settings
    from trephine.testing.accounts import client_as

    monkeypatch.setenv("TREPHINE_EXPORT_KEY", "a-paired-relapse-key-0123456789")
    get_settings.cache_clear()
    app = create_app(cohort.engine.url.render_as_string(hide_password=False))
    try:
        with client_as(app, "clinician") as c:
            page = c.get("/research/microenvironment?pairs=relapse")
            default = c.get("/research/microenvironment")
            bad = c.get("/research/microenvironment?pairs=remission")
            non = c.get("/research/microenvironment?response=non-responders")
            bad_group = c.get("/research/microenvironment?response=partial")
    finally:
        app.state.database.dispose()
        get_settings.cache_clear()
    assert page.status_code == 200, page.text[:400]
    assert "Diagnosis → first relapse: 1 feature(s), 3 patient(s)" in page.text
    assert '<option value="relapse" selected>' in page.text
    for pid, (counts, relapse) in PATIENTS.items():
        if len(counts) < 3:
            continue
        row = (
            f'<td data-label="Patient">{pid}</td><td data-label="Before" class="num">'
            f'{number(counts[0] / 10)}</td><td data-label="After" class="num">'
            f"{number(counts[2] / 10)}</td>"
        )
        assert (row in page.text) is (relapse is not None and relapse[1] != "NO_RELAPSE"), pid
    assert "Before → after the first therapy line: 1 feature(s), 5 patient(s)" in default.text
    assert bad.status_code == 422 and "relapse" in bad.text
    assert "Before → after the first therapy line: 1 feature(s), 1 patient(s)" in non.text
    assert '<option value="non-responders" selected>' in non.text
    assert bad_group.status_code == 422 and "non-responders" in bad_group.text


def test_responders_and_non_responders_are_compared_apart(cohort: Database) -> None:
    """Responders reached complete remission (CR, CRh, CRi, with or without an MRD note) at some
    time; a CR superseded by a relapse of its marrow does not count."""
    therapy = {pid: (c[0] / 10, c[1] / 10) for pid, (c, _) in PATIENTS.items()}
    assert _pairs(cohort, "therapy", "responders") == {
        pid: v for pid, v in therapy.items() if pid != "M-5"
    }
    with cohort.unit_of_work("reader") as uow:
        features, read = paired_features(uow, response="non-responders")
    assert read == ["M-5"] and [p.patient for p in features[TREG][1]] == ["M-5"]
    url = cohort.engine.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(
        app,
        ["microenv", "compare", "--response", "responders", "--json", "--database-url", url],
    )
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["response"] == "responders"
    (treg,) = doc["features"]
    assert sorted(p["patient"] for p in treg["pairs"]) == ["M-1", "M-2", "M-3", "M-4"]
    bad = CliRunner().invoke(
        app, ["microenv", "compare", "--response", "partial", "--database-url", url]
    )
    assert bad.exit_code == 2 and "responders, non-responders" in bad.stderr
