"""``assess_patient`` for ALL (MRD), CLL (iwCLL 2018 MRD) and MDS (IWG 2023) stored
timelines, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import update

from assess_case import D0, biopsy, blood, cll_marrow_and_blood_mrd, diff, flow, pc_diff, pp
from trephine.domain import Patient, Sex
from trephine.domain import quantity as q
from trephine.domain.patient import Diagnosis, Disease
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import (
    FREE_LIGHT_CHAIN,
    BloodCount,
    FlowMethod,
    FlowMRD,
    Immunofixation,
)
from trephine.services import alerts, assessments
from trephine.services import patients as patient_service
from trephine.services import results as results_service
from trephine.services.patient_search import PatientQuery, search
from trephine.store.database import Database
from trephine.store.tables import AlertRow


def patient(db: Database, disease: Disease) -> None:
    with db.unit_of_work("seed") as uow:
        patient_service.register_patient(uow, Patient("P1", Sex.MALE, 1980))
        patient_service.add_diagnosis(uow, "P1", Diagnosis(disease, D0))


def run(db: Database) -> assessments.AssessRun:
    with db.unit_of_work("t") as uow:
        return assessments.assess_patient(uow, "P1")


def test_all_mrd_negative_then_failure_raises_conversion(database: Database) -> None:
    patient(database, Disease.ALL)
    biopsy(database, 0, 0, [("A", diff(300))])
    biopsy(database, 30, 1, [("A", diff(5)), ("A", flow(1_000_000, None))])
    biopsy(database, 90, 2, [("A", diff(5)), ("A", flow(1_000_000, 500))])  # 0.05 %
    r = run(database)
    assert r.ruleset == "ALL-MRD"
    calls = [
        (s.assessment.assessed_on, s.assessment.category)
        for s in r.assessments
        if s.call_kind == "mrd"
    ]
    assert calls == [
        (D0 + dt.timedelta(days=30), "MRD_CR"),
        (D0 + dt.timedelta(days=90), "MRD_FAILURE"),
    ]
    # No blood count or extramedullary statement was stored with these marrows: the ALL
    # morphological response is not evaluable and names what is missing; MRD is still read,
    # on the spec's prerequisite (marrow blasts < 5 %).
    responses = [s.assessment for s in r.assessments if s.call_kind == "response"]
    assert [a.category for a in responses] == ["NOT_EVALUABLE", "NOT_EVALUABLE"]
    assert "circulating_blasts" in responses[0].missing_inputs
    assert [(a.raised_on, a.code) for a in r.alerts] == [
        (D0 + dt.timedelta(days=90), "MRD_CONVERSION")
    ]
    assert run(database).new_assessments == 0


def test_an_alert_stored_under_the_former_all_name_is_still_the_same_alert(
    database: Database,
) -> None:
    # Earlier versions stored ALL alerts under "ALL-MRD-2021" (the edition); the one name is now
    # "ALL-MRD". Re-assessing must neither raise the alert again nor withdraw the stored one.
    patient(database, Disease.ALL)
    biopsy(database, 0, 0, [("A", diff(300))])
    biopsy(database, 30, 1, [("A", diff(5)), ("A", flow(1_000_000, None))])
    biopsy(database, 90, 2, [("A", diff(5)), ("A", flow(1_000_000, 500))])
    (alert,) = run(database).alerts
    with database.unit_of_work("t") as uow:
        uow.session.execute(update(AlertRow).values(ruleset="ALL-MRD-2021"))
    again = run(database)
    assert (again.new_alerts, again.withdrawn_alerts) == (0, ())
    with database.unit_of_work("t") as uow:
        (listed,) = alerts.list_alerts(uow, patient="P1")
    assert (listed.id, listed.ruleset, listed.open) == (alert.id, "ALL-MRD", True)


def test_cll_mrd_at_the_uMRD4_threshold(database: Database) -> None:
    patient(database, Disease.CLL)
    biopsy(database, 200, 1, [("A", flow(500_000, 49))])  # 0.98e-4: undetectable MRD4
    biopsy(database, 400, 2, [("A", flow(500_000, 50))])  # exactly 1e-4: positive
    r = run(database)
    assert [s.assessment.category for s in r.assessments] == [
        "UNDETECTABLE_MRD4",
        "MRD_POSITIVE",
    ]
    assert {s.assessment.criteria_edition for s in r.assessments} == {"iwCLL2018"}
    assert [a.code for a in r.alerts] == ["MRD_CONVERSION"]


def test_mds_response_names_what_is_missing(database: Database) -> None:
    patient(database, Disease.MDS)
    biopsy(database, 0, 0, [("A", diff(60)), ("B", blood(anc="0.8", plt="40"))])  # 12 %
    biopsy(database, 120, 1, [("A", diff(10)), ("B", blood(anc="2.0", plt="150"))])
    with_hb = BloodCount(
        anc=q.ANC.parse("2.0"),
        platelets=q.PLATELETS.parse("150"),
        hemoglobin=q.HEMOGLOBIN.parse("12.5"),
        circulating_blasts=q.percent("circulating_blasts").parse("0"),
    )
    biopsy(database, 240, 2, [("A", diff(10)), ("B", with_hb)])
    r = run(database)
    assert r.ruleset == "IWG2023"
    first, second = r.assessments
    assert (first.call_kind, first.assessment.category) == ("response", "NOT_EVALUABLE")
    assert first.assessment.missing_inputs == ("hb",)
    evidence = {e["input"]: e["value"] for e in first.assessment.evidence}
    assert evidence["baseline_bm_blasts_pct"] == "12" and evidence["bm_blasts_pct"] == "2"
    assert second.assessment.category == "CR" and second.assessment.missing_inputs == ()
    assert r.computed.best_response == "CR"


def test_flc_in_mg_per_litre_is_stored_in_mg_per_decilitre() -> None:
    assert FREE_LIGHT_CHAIN.quantity(Decimal("452"), "mg/L").value == Decimal("45.2")
    assert pp("3", kappa_mg_l="452", lambda_mg_l="8").flc_ratio == Decimal("56.5")


def test_myeloma_vgpr_then_cr_with_flow_mrd_negative_at_ten_to_the_minus_five(
    database: Database,
) -> None:
    patient(database, Disease.MYELOMA)
    biopsy(
        database,
        0,
        0,
        [("A", pc_diff(200)), ("B", pp("3.2", urine="450", kappa_mg_l="452", lambda_mg_l="8"))],
    )
    biopsy(database, 120, 1, [("B", pp("0.2", urine="40", kappa_mg_l="30", lambda_mg_l="9"))])
    mrd = Quantity(None, "%", Qualifier.NOT_DETECTED, lod=Decimal("0.0007"), lloq=Decimal("0.002"))
    biopsy(
        database,
        220,
        2,
        [
            ("A", pc_diff(5)),  # 1 % plasma cells
            ("A", FlowMRD(mrd, FlowMethod.DFN, events_acquired=3_000_000, abnormal_events=0)),
            (
                "B",
                pp("0", urine="0", kappa_mg_l="14", lambda_mg_l="11", ife=Immunofixation.NEGATIVE),
            ),
        ],
    )
    r = run(database)
    assert r.ruleset == "IMWG2016"
    calls = [(s.call_kind, s.assessment.category) for s in r.assessments]
    assert ("response", "VGPR") in calls  # 94 % serum fall, urine < 100 mg/24 h
    # CR (IFE negative, < 5 % plasma cells); sCR needs IHC clonality, which is not stored.
    assert ("response", "CR") in calls
    assert ("mrd", "FLOW_MRD_NEGATIVE") in calls
    assert all(c != "PD" for _, c in calls) and r.alerts == ()
    assert r.computed.best_response == "CR"


def test_myeloma_progression_from_the_nadir_raises_an_alert(database: Database) -> None:
    patient(database, Disease.MYELOMA)
    biopsy(database, 0, 0, [("A", pc_diff(150)), ("B", pp("2.5"))])
    biopsy(database, 100, 1, [("B", pp("0.2"))])
    biopsy(database, 200, 2, [("B", pp("0.6"))])  # +0.4 g/dL: ≥ 25 % but < 0.5 g/dL
    biopsy(database, 260, 3, [("B", pp("0.9"))])  # +0.7 g/dL from the 0.2 nadir: PD
    r = run(database)
    pd = [
        (s.assessment.assessed_on, s.assessment.category)
        for s in r.assessments
        if s.call_kind == "progression"
    ]
    # Met on one assessment: to confirm on the next (IMWG: two consecutive assessments).
    assert [c for _, c in pd] == ["NOT_MET", "NOT_MET", "PD_UNCONFIRMED"]
    assert [(a.raised_on, a.code) for a in r.alerts] == [
        (D0 + dt.timedelta(days=260), "MYELOMA_PROGRESSION")
    ]


def _latest_response(db: Database) -> str | None:
    with db.unit_of_work("t") as uow:
        (hit,) = search(uow, PatientQuery()).items
    return hit.latest_response


def _current(db: Database) -> list[tuple[int, str, str]]:
    """The current calls (what the pages show) as (day, call, category)."""
    with db.unit_of_work("t") as uow:
        stored = assessments.patient_assessments(uow, "P1")
    return [
        ((s.assessment.assessed_on - D0).days, s.call_kind, s.assessment.category)
        for s in assessments.current_assessments(stored)
    ]


def test_myeloma_progression_is_listed_to_confirm_then_confirmed(database: Database) -> None:
    """The patient list's latest response (kept by migration 0029's triggers) and the current
    calls follow the progression: VGPR, then PD to confirm (over the response of its day),
    then confirmed on the next assessment; only the calls that change are stored again."""
    patient(database, Disease.MYELOMA)
    biopsy(database, 0, 0, [("A", pc_diff(150)), ("B", pp("2.5", urine="450"))])
    biopsy(database, 100, 1, [("B", pp("0.2", urine="40"))])
    first = run(database)
    assert _latest_response(database) == "VGPR"
    biopsy(database, 200, 2, [("B", pp("0.9", urine="40"))])  # +0.7 g/dL from the nadir
    second = run(database)
    assert second.new_assessments == 2  # the new day's response (superseded) and PD
    assert _latest_response(database) == "PD_UNCONFIRMED"
    assert _current(database) == [
        (100, "response", "VGPR"),
        (100, "progression", "NOT_MET"),
        (200, "progression", "PD_UNCONFIRMED"),
    ]
    biopsy(database, 260, 3, [("B", pp("1.2", urine="40"))])
    third = run(database)
    # Day 260's two calls, and day 200's restated as confirmed (its PD and the response call
    # it supersedes); day 100's are the rows stored before.
    assert third.new_assessments == 4
    before = max(s.id for s in second.assessments)
    new = {(s.assessment.assessed_on - D0).days for s in third.assessments if s.id > before}
    assert new == {200, 260}
    assert [s.id for s in third.assessments][:2] == [s.id for s in first.assessments]
    assert _latest_response(database) == "PD_CONFIRMED"
    assert _current(database) == [
        (100, "response", "VGPR"),
        (100, "progression", "NOT_MET"),
        (200, "progression", "PD_CONFIRMED"),
        (260, "progression", "PD_CONFIRMED"),
    ]
    assert [((a.raised_on - D0).days, a.code, a.open) for a in third.alerts] == [
        (200, "MYELOMA_PROGRESSION", True),
        (260, "MYELOMA_PROGRESSION_CONFIRMED", True),
    ]
    assert run(database).new_assessments == 0
    # The next assessment no longer progressing: its response is the latest again.
    biopsy(database, 320, 4, [("B", pp("0.5", urine="40"))])
    run(database)
    assert _latest_response(database) == "PR"


def test_calls_stored_before_progression_was_confirmed_stay_and_only_the_pd_changes(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before this version a PD was stored as the progression table's call (``PD``) beside the
    response call of its day, and the list showed that response. Re-assessed, only that day's
    two calls are stored anew (every other call keeps its digest); the earlier rows stay."""
    from trephine.assess import myeloma, story

    patient(database, Disease.MYELOMA)
    biopsy(database, 0, 0, [("A", pc_diff(150)), ("B", pp("2.5", urine="450"))])
    biopsy(database, 100, 1, [("B", pp("0.2", urine="40"))])
    biopsy(database, 200, 2, [("B", pp("0.9", urine="40"))])
    # The code before: no confirmation, and only relapse calls supersede a response.
    monkeypatch.setattr(myeloma, "_confirm", lambda *_: [])
    monkeypatch.setattr(story, "RELAPSE_KINDS", ("relapse",))
    before = run(database)
    monkeypatch.undo()
    assert ("progression", "PD") in [
        (s.call_kind, s.assessment.category) for s in before.assessments
    ]
    # Migration 0029 counts such a stored PD as progression already.
    assert _latest_response(database) == "PD"
    after = run(database)
    assert after.new_assessments == 2
    kept = {s.id for s in before.assessments} & {s.id for s in after.assessments}
    assert len(kept) == len(before.assessments) - 2
    assert _latest_response(database) == "PD_UNCONFIRMED"
    with database.unit_of_work("t") as uow:
        history = [
            (s.call_kind, s.assessment.category, s.assessment.flags)
            for s in assessments.patient_assessments(uow, "P1")
            if s.assessment.assessed_on == D0 + dt.timedelta(days=200)
        ]
    assert history == [
        ("response", "PR", ()),
        ("progression", "PD", ()),
        ("response", "PR", ("SUPERSEDED_BY_RELAPSE",)),
        ("progression", "PD_UNCONFIRMED", ()),
    ]


def _amend(db: Database, result_id: int, serum: str) -> int:
    from trephine.services import results as results_service

    with db.unit_of_work("dr.amend") as uow:
        return results_service.amend_result(
            uow, result_id, pp(serum, urine="40"), "transcription error"
        ).id


def test_a_progression_amended_away_is_no_longer_listed(database: Database) -> None:
    """A→B on one date: the day-200 paraprotein is amended so that it no longer meets PD. The
    re-assessment stores that day's calls anew (progression not met, the response no longer
    superseded); the PD row stays as history. The patient page showed the new calls, but the
    list (0029's triggers counted every stored row) still said PD to confirm."""
    patient(database, Disease.MYELOMA)
    biopsy(database, 0, 0, [("A", pc_diff(150)), ("B", pp("2.5", urine="450"))])
    biopsy(database, 100, 1, [("B", pp("0.2", urine="40"))])
    (day_200,) = biopsy(database, 200, 2, [("B", pp("0.9", urine="40"))]).values()
    run(database)
    assert _latest_response(database) == "PD_UNCONFIRMED"
    _amend(database, day_200, "0.3")  # +0.1 g/dL from the nadir: not PD
    assert run(database).new_assessments == 2
    assert _current(database)[-2:] == [(200, "response", "PR"), (200, "progression", "NOT_MET")]
    assert _latest_response(database) == "PR"


def test_a_progression_amended_away_and_back_is_current_again(database: Database) -> None:
    """A→B→A on one date: the amendment is itself amended back to the first value. The
    re-computed calls are those of the first revision again: they are stored again, as the
    call's third revision, and are current, on the page and in the list alike (migration 0031);
    then nothing changes and nothing more is stored."""
    patient(database, Disease.MYELOMA)
    biopsy(database, 0, 0, [("A", pc_diff(150)), ("B", pp("2.5", urine="450"))])
    biopsy(database, 100, 1, [("B", pp("0.2", urine="40"))])
    (day_200,) = biopsy(database, 200, 2, [("B", pp("0.9", urine="40"))]).values()
    first = run(database)
    amended = _amend(database, day_200, "0.3")
    run(database)
    _amend(database, amended, "0.9")  # the amendment was itself wrong: PD again
    again = run(database)
    assert again.new_assessments == 2  # day 200's PD and the response call it supersedes
    assert _current(database)[-1] == (200, "progression", "PD_UNCONFIRMED")
    assert _latest_response(database) == "PD_UNCONFIRMED"
    # The same evidence as the first rows, stored again beside them.
    day = D0 + dt.timedelta(days=200)
    digests = {
        (s.call_kind, s.inputs_digest) for s in first.assessments if s.assessment.assessed_on == day
    }
    restated = [s for s in again.assessments if s.assessment.assessed_on == day]
    assert {(s.call_kind, s.inputs_digest) for s in restated} == digests
    assert min(s.id for s in restated) > max(s.id for s in first.assessments)
    with database.unit_of_work("t") as uow:
        history = [
            (s.call_kind, s.assessment.category)
            for s in assessments.patient_assessments(uow, "P1")
            if s.assessment.assessed_on == day
        ]
    assert history == [
        ("response", "PR"),  # superseded by the PD
        ("progression", "PD_UNCONFIRMED"),
        ("response", "PR"),
        ("progression", "NOT_MET"),
        ("response", "PR"),  # superseded by the PD, again
        ("progression", "PD_UNCONFIRMED"),
    ]
    # The alert withdrawn after the first amendment stands again.
    assert [(a.code, a.open) for a in again.alerts] == [("MYELOMA_PROGRESSION", True)]
    # Idempotent from there: nothing changed, nothing stored, the same calls current.
    assert run(database).new_assessments == 0
    assert _current(database)[-1] == (200, "progression", "PD_UNCONFIRMED")
    assert _latest_response(database) == "PD_UNCONFIRMED"


def test_a_day_with_two_calls_of_a_kind_is_stored_once_and_restated_whole(
    database: Database,
) -> None:
    """Two flow MRD results of one date (marrow and blood) are two ``mrd`` calls of one date,
    rule set and edition. Re-assessing stores nothing; when one of them changes, the day's
    calls are stored again together (the next revision), and from then on nothing again."""
    patient(database, Disease.CLL)
    # The blood's result is recorded second: its id is the one kept.
    blood_mrd = biopsy(database, 200, 1, [("A", flow(500_000, 49)), ("B", flow(500_000, 200))])
    first = run(database)
    mrd = [s for s in first.assessments if s.call_kind == "mrd"]
    assert len(mrd) == 2 and first.new_assessments == len(first.assessments)
    assert run(database).new_assessments == 0
    with database.unit_of_work("dr.amend") as uow:
        results_service.amend_result(uow, blood_mrd["FlowMRD"], flow(500_000, 20), "recount")
    amended = run(database)
    assert amended.new_assessments == 2  # both MRD calls of the day, as one revision
    assert [s.assessment.category for s in amended.assessments if s.call_kind == "mrd"] == [
        "UNDETECTABLE_MRD4",
        "UNDETECTABLE_MRD4",
    ]
    assert run(database).new_assessments == 0


def _current_mrd(db: Database) -> list[tuple[str | None, str, int]]:
    """The current ``mrd`` calls as (sample, category, revision), in page order."""
    with db.unit_of_work("t") as uow:
        stored = assessments.patient_assessments(uow, "P1")
    return [
        (s.call.sample, s.assessment.category, s.revision)
        for s in assessments.current_assessments(stored)
        if s.call_kind == "mrd"
    ]


def test_both_calls_of_a_day_are_current_each_naming_its_sample(database: Database) -> None:
    """A marrow and a blood MRD result of one date: both calls are current (not only the
    latest row of the date and kind), each names its sample; an amendment restates both as the
    next revision (the first two are history), and amending back (A→B→A) makes the blood's
    positive call current again beside the marrow's."""
    ids = cll_marrow_and_blood_mrd(database)
    assert _current_mrd(database) == [
        ("bone marrow", "UNDETECTABLE_MRD4", 1),
        ("peripheral blood", "MRD_POSITIVE", 1),
    ]
    with database.unit_of_work("dr.amend") as uow:
        recount = results_service.amend_result(uow, ids["B"], flow(500_000, 20), "recount")
    run(database)
    assert _current_mrd(database) == [
        ("bone marrow", "UNDETECTABLE_MRD4", 2),
        ("peripheral blood", "UNDETECTABLE_MRD4", 2),
    ]
    with database.unit_of_work("dr.amend") as uow:
        results_service.amend_result(uow, recount.id, flow(500_000, 200), "recount was wrong")
    assert run(database).new_assessments == 2
    assert _current_mrd(database) == [
        ("bone marrow", "UNDETECTABLE_MRD4", 3),
        ("peripheral blood", "MRD_POSITIVE", 3),
    ]
    with database.unit_of_work("t") as uow:
        stored = assessments.patient_assessments(uow, "P1")
    assert len([s for s in stored if s.call_kind == "mrd"]) == 6  # two revisions of history


def test_a_marrow_and_a_blood_result_of_the_same_value_are_two_calls(database: Database) -> None:
    """The same MRD level in the marrow and the blood of one day: two calls (their samples
    differ), both stored and current — not one call counted once."""
    patient(database, Disease.CLL)
    biopsy(database, 200, 1, [("A", flow(500_000, 200))])
    with database.unit_of_work("lab") as uow:
        results_service.record_result(uow, "B1", flow(500_000, 200), verify=True)
    first = run(database)
    assert [s.call.sample for s in first.assessments if s.call_kind == "mrd"] == [
        "bone marrow",
        "peripheral blood",
    ]
    assert _current_mrd(database) == [
        ("bone marrow", "MRD_POSITIVE", 1),
        ("peripheral blood", "MRD_POSITIVE", 1),
    ]
    assert run(database).new_assessments == 0


def test_myeloma_without_a_baseline_paraprotein_makes_no_call(database: Database) -> None:
    patient(database, Disease.MYELOMA)
    biopsy(database, 200, 1, [("B", pp("0.4"))])  # no pre-treatment value to compare with
    r = run(database)
    assert r.assessments == () and r.alerts == ()
