"""Saved cohorts evaluated in SQL (SQLite and PostgreSQL): every criterion selects what it says,
versions are kept, every evaluation is kept with its members; the analysis report and plots."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.domain.cohort import CohortDefinition
from trephine.errors import ValidationError
from trephine.services import cohorts, research
from trephine.store.database import Database
from trephine.store.tables import (
    AlertRow,
    AssessmentRow,
    AuditEventRow,
    CohortEvaluationRow,
    DiagnosisRow,
    PatientRow,
    ResultRow,
    TherapyLineRow,
)

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
D0 = dt.date(2024, 1, 1)


def _dx(markers: dict[str, str]) -> list[dict[str, object]]:
    return [{"marker": m, "status": s, "detail": None} for m, s in markers.items()]


# id → disease, diagnosis day offset, genetics, regimen, calls (day, kind, category), alerts
PATIENTS = {
    "R-1": (
        "AML",
        0,
        {"FLT3-ITD": "detected", "NPM1": "detected"},
        "7+3 + midostaurin",
        [(30, "response", "CR"), (90, "mrd", "NEGATIVE"), (300, "relapse", "HEMATOLOGIC_RELAPSE")],
        ["HEMATOLOGIC_RELAPSE"],
    ),
    "R-2": (
        "AML",
        10,
        {"FLT3-TKD": "detected"},
        "7+3 + midostaurin",
        [(40, "response", "CRi_MRD-"), (100, "mrd", "POSITIVE")],
        [],
    ),
    "R-3": (
        "AML",
        0,
        {"FLT3-ITD": "not detected", "NPM1": "detected"},
        "7+3 (cytarabine + daunorubicin)",
        [(30, "response", "CR"), (200, "response", "CR_MRD-"), (95, "mrd", "LOW_LEVEL")],
        [],
    ),
    "R-4": (
        "myeloma",
        0,
        {"t(4;14)": "detected"},
        "VRd",
        [(60, "response", "VGPR"), (400, "progression", "PD")],
        ["MYELOMA_PROGRESSION"],
    ),
    "R-5": (
        "AML",
        400,
        {"NPM1": "not detected"},
        "azacitidine + venetoclax",
        [(30, "response", "NO_RESPONSE")],
        [],
    ),
}


@pytest.fixture
def cohort_db(database: Database) -> Database:
    with database.unit_of_work("seed") as uow:
        s = uow.session
        for pid, (disease, offset, genetics, regimen, calls, alerts) in PATIENTS.items():
            p = PatientRow(external_id=pid, sex="female", birth_year=1960, created_at=NOW)
            s.add(p)
            s.flush()
            on = D0 + dt.timedelta(days=offset)
            s.add(
                DiagnosisRow(
                    patient_id=p.id,
                    disease=disease,
                    classification="WHO 5th",
                    subtype="AML with mutated NPM1"
                    if "NPM1" in genetics and genetics["NPM1"] == "detected"
                    else None,
                    diagnosed_on=on,
                    genetics=_dx(genetics),
                )
            )
            s.add(
                TherapyLineRow(
                    patient_id=p.id,
                    line=1,
                    regimen=regimen,
                    intent="curative",
                    intensity="intensive",
                    start=on + dt.timedelta(days=1),
                    end=None,
                )
            )
            for i, (day, kind, cat) in enumerate(calls):
                s.add(
                    AssessmentRow(
                        patient_id=p.id,
                        assessed_on=on + dt.timedelta(days=day),
                        category=cat,
                        ruleset="X",
                        criteria_edition="X",
                        evidence=[],
                        missing_inputs=[],
                        software_version="t",
                        computed_at=NOW,
                        recorded_by="t",
                        flags=[],
                        params={},
                        call_kind=kind,
                        inputs_digest=f"{pid}{i}",
                    )
                )
            for code in alerts:
                s.add(
                    AlertRow(
                        patient_id=p.id,
                        raised_on=on + dt.timedelta(days=300),
                        code=code,
                        message="m",
                        ruleset="X",
                        software_version="t",
                        raised_at=NOW,
                        raised_by="t",
                    )
                )
    return database


def members(db: Database, name: str, **criteria: object) -> tuple[str, ...]:
    with db.unit_of_work("researcher-1") as uow:
        cohorts.define(uow, name, CohortDefinition(**criteria))  # type: ignore[arg-type]
        return cohorts.evaluate(uow, name).members


def test_each_criterion_selects_in_sql(cohort_db: Database) -> None:
    assert members(cohort_db, "aml", diseases=("AML",)) == ("R-1", "R-2", "R-3", "R-5")
    # FLT3 matches FLT3-ITD and FLT3-TKD, detected only (R-3's is "not detected").
    assert members(cohort_db, "flt3", genes=("FLT3",)) == ("R-1", "R-2")
    assert members(cohort_db, "itd", markers=("FLT3-ITD",)) == ("R-1",)
    assert members(cohort_db, "npm1sub", subtype="npm1") == ("R-1", "R-3")
    assert members(cohort_db, "mido", regimen="MIDOSTAURIN") == ("R-1", "R-2")
    assert members(cohort_db, "cr", response=("CR", "CRi_MRD-")) == ("R-1", "R-2", "R-3")
    # CR_MRD- only on day 200: not by day 100.
    assert members(cohort_db, "crm100", response=("CR_MRD-",), response_by_day=100) == ()
    assert members(cohort_db, "crm", response=("CR_MRD-",), response_by_day=200) == ("R-3",)
    # Day 90 ± 14 of each patient's own diagnosis (R-2 was diagnosed on day 10: MRD on day 90).
    assert members(cohort_db, "neg", mrd="negative", mrd_day=90, mrd_window=14) == ("R-1",)
    assert members(cohort_db, "pos", mrd="positive", mrd_day=90, mrd_window=14) == ("R-2",)
    assert members(cohort_db, "pos5", mrd="positive", mrd_day=80, mrd_window=5) == ()
    assert members(cohort_db, "rel", alerts=("HEMATOLOGIC_RELAPSE", "MYELOMA_PROGRESSION")) == (
        "R-1",
        "R-4",
    )
    assert members(cohort_db, "late", diagnosed_from=dt.date(2024, 6, 1)) == ("R-5",)
    assert members(
        cohort_db, "both", diseases=("AML",), genes=("FLT3",), mrd="negative", mrd_day=90
    ) == ("R-1",)


def test_versions_and_every_evaluation_kept(cohort_db: Database) -> None:
    with cohort_db.unit_of_work("researcher-1") as uow:
        c1, new1 = cohorts.define(uow, "x", CohortDefinition(diseases=("AML",)))
        again, new2 = cohorts.define(uow, "x", CohortDefinition(diseases=("AML",)))
        c2, new3 = cohorts.define(uow, "x", CohortDefinition(diseases=("AML",), genes=("FLT3",)))
        assert (c1.version, new1, again.version, new2, c2.version, new3) == (
            1,
            True,
            1,
            False,
            2,
            True,
        )
        assert cohorts.evaluate(uow, "x").members == ("R-1", "R-2")
        assert cohorts.evaluate(uow, "x", 1).members == ("R-1", "R-2", "R-3", "R-5")
        kept = cohorts.evaluations(uow, "x")
        assert [(e.cohort.version, len(e.members)) for e in kept] == [(1, 4), (2, 2)]
        assert uow.session.scalar(select(func.count()).select_from(CohortEvaluationRow)) == 2
        assert [c.name for c in cohorts.list_cohorts(uow)] == ["x"]
        with pytest.raises(ValidationError, match="cohort: 'nope'"):
            cohorts.get(uow, "nope")
        with pytest.raises(ValidationError, match="version"):
            cohorts.get(uow, "x", 9)
    with cohort_db.unit_of_work("t") as uow:
        actions = uow.session.scalars(
            select(AuditEventRow.entity_id).where(AuditEventRow.entity == "cohort")
        ).all()
        assert actions == ["x v1", "x v2"]


def test_bad_definitions_refused() -> None:
    with pytest.raises(ValidationError, match="disease"):
        CohortDefinition(diseases=("leukaemia",))
    with pytest.raises(ValidationError, match="mrd"):
        CohortDefinition(mrd="undetectable", mrd_day=90)
    with pytest.raises(ValidationError, match="mrd_day"):
        CohortDefinition(mrd="negative")
    with pytest.raises(ValidationError, match="cohort"):
        from trephine.domain.cohort import check_name

        check_name("bad name!")


def test_analysis_report_from_stored_calls(cohort_db: Database) -> None:
    with cohort_db.unit_of_work("researcher-1") as uow:
        cohorts.define(uow, "aml", CohortDefinition(diseases=("AML",)))
        ev = cohorts.evaluate(uow, "aml")
        report = research.analyse(uow, ev, landmark_day=90, window=14, at=[180])
    rates = report["response_rates"][0]
    assert (rates["responders"], rates["n"]) == (3, 4)
    lm = {r["patient"]: r for r in report["landmark"]["rows"]}
    # R-1 negative at day 90, relapse on day 300: 210 days; R-3 low-level on day 95, followed to
    # day 200; R-2's positive sample on day 100 is its last record (no follow-up after it): out.
    assert lm["R-1"]["group"] == "negative" and (lm["R-1"]["time"], lm["R-1"]["event"]) == (210, 1)
    assert "R-2" not in lm and (lm["R-3"]["group"], lm["R-3"]["time"]) == ("low-level", 105)
    km = report["landmark"]["relapse_free_survival_by_mrd"]
    assert set(km["groups"]) == {"negative", "low-level"} and "logrank" in km
    assert report["overall_survival"] is None and report["limitations"]


def test_cli_define_show_list_analyse(cohort_db: Database, tmp_path: Path) -> None:
    runner = CliRunner()
    url = cohort_db.url

    def ok(*args: str) -> str:
        r = runner.invoke(app, [*args, "--database-url", url])
        assert r.exit_code == 0, r.stderr
        return r.stdout

    out = ok("cohort", "define", "flt3", "--disease", "AML", "--gene", "FLT3")
    assert "version 1" in out and "2 patient(s)" in out
    doc = json.loads(ok("cohort", "show", "flt3", "--json"))
    assert doc["members"] == ["R-1", "R-2"] and doc["definition"] == {
        "diseases": ["AML"],
        "genes": ["FLT3"],
    }
    assert "flt3  v1" in ok("cohort", "list")
    rep = json.loads(
        ok(
            "cohort",
            "analyse",
            "flt3",
            "--landmark-day",
            "90",
            "--plots",
            str(tmp_path),
            "--format",
            "svg",
            "--json",
        )
    )
    assert sorted(Path(p).name for p in rep["plots"]) == ["flt3-km-mrd.svg", "flt3-swimmer.svg"]
    # The text gives the rate as the cohort page does (the one number rule, 4 significant
    # digits): it printed '86.9 % (95% CI 80 % to 92 %, exact)' beside the page's 86.86 %.
    from trephine.present.numbers import format_value

    rate = rep["response_rates"][0]
    lo, hi = rate["ci95"]
    shown = (
        f"{format_value(100 * rate['rate'])} % (95 % CI {format_value(100 * lo)} % to "
        f"{format_value(100 * hi)} %, exact)"
    )
    assert shown in ok("cohort", "analyse", "flt3", "--landmark-day", "90")
    assert (tmp_path / "flt3-swimmer.svg").read_text().startswith("<?xml")
    r = runner.invoke(
        app, ["cohort", "define", "bad", "--mrd", "gone", "--mrd-day", "9", "--database-url", url]
    )
    assert r.exit_code == 2 and "'gone'" in r.stderr and "negative, low-level, positive" in r.stderr
    r = runner.invoke(app, ["cohort", "show", "nope", "--database-url", url])
    assert r.exit_code == 2 and "flt3" in r.stderr
    with cohort_db.unit_of_work("t") as uow:
        assert uow.session.scalar(select(func.count()).select_from(ResultRow)) == 0
