"""The integrated marrow report: every signed-out result and no draft; versions as a lab issues
them, each kept and readable; an amended result shows as amended in the next version."""

from __future__ import annotations

import datetime as dt
import html

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from trephine.domain.report import ReportStatus
from trephine.errors import IllegalTransition, NotFound, ValidationError
from trephine.present import report as present
from trephine.present.results import summary
from trephine.services import audit, reports, results
from trephine.store.database import Database
from trephine.testing.report_seed import Seeded, differential, seed


def _html(seeded: Seeded, version: int | str | None = "current", identified: bool = False) -> str:
    with seeded.database.unit_of_work("reader") as uow:
        doc = reports.marrow_report(uow, seeded.procedure, version=version, identified=identified)
    return present.html(present.document(doc, lab="Test lab", software="test"))


def test_working_copy_shows_every_signed_out_result_and_no_draft(seeded: Seeded) -> None:
    with seeded.database.unit_of_work("reader") as uow:
        doc = reports.marrow_report(uow, seeded.procedure)
        shown = {r.result.id for r in doc.results}
        every = results.patient_results(uow, "P001")
    signed_out = {r.id for r in every if str(r.state) in ("verified", "amended")}
    assert shown == signed_out and seeded.ids["karyotype_draft"] not in shown
    assert doc.shown is None and doc.pending == (("karyotype", "A-1"),)
    page = _html(seeded)
    for r in every:
        if r.id in signed_out:
            assert html.escape(summary(r.value).split(",")[0], quote=False) in page
    assert "t(9;11)" not in page  # the draft's karyotype
    assert "1 result(s) not yet signed out (karyotype)" in page
    assert "NOT ISSUED" in page
    # Cellularity for age: born 1961, biopsy 2024 (age 63); 70 % is above both references.
    assert "hypercellular (expected 27–47 % at age 63)" in page
    assert "hypercellular (expected 30–60 % at age 63)" in page
    # CAP template sections, in order.
    order = [
        "Clinical information and indication",
        "Peripheral blood",
        "Aspirate: differential and adequacy",
        "Trephine core",
        "Ancillary studies",
        "Interpretation",
        "Integrated diagnosis",
        "Comments",
    ]
    positions = [page.index(title) for title in order]
    assert positions == sorted(positions)


def test_versions_amended_result_and_history(seeded: Seeded) -> None:
    db = seeded.database
    with db.unit_of_work("dr.path") as uow:
        v1 = reports.issue_report(uow, seeded.procedure, ReportStatus.PRELIMINARY)
    with db.unit_of_work("dr.path") as uow:
        v2 = reports.issue_report(
            uow,
            seeded.procedure,
            ReportStatus.FINAL,
            interpretation="Marrow with 6 % blasts.",
            diagnosis="AML with NPM1 mutation",
            diagnosis_classification="who 5th",
        )
    assert (v1.version, v1.status, v2.version, v2.status) == (1, "preliminary", 2, "final")
    assert v2.diagnosis_classification == "WHO 5th" and v2.issued_by == "dr.path"
    with db.unit_of_work("dr.amend") as uow:
        amended = results.amend_result(
            uow, seeded.ids["differential"], differential(60), "miscounted blasts"
        )
    with db.unit_of_work("dr.path") as uow:
        v3 = reports.issue_report(
            uow, seeded.procedure, ReportStatus.AMENDED, reason="blast count amended"
        )
    assert amended.id in v3.result_ids and seeded.ids["differential"] not in v3.result_ids
    assert v3.diagnosis == "AML with NPM1 mutation"  # carried over
    with db.unit_of_work("reader") as uow:
        current = reports.marrow_report(uow, seeded.procedure)
        old = reports.marrow_report(uow, seeded.procedure, version=2)
    assert current.shown == current.current and current.is_current and not old.is_current
    (changed,) = [r for r in current.results if r.previous is not None]
    assert changed.result.id == amended.id and changed.previous is not None
    assert changed.previous.id == seeded.ids["differential"]
    page3 = _html(seeded)
    assert "Amended since the previous report version" in page3
    assert "miscounted blasts" in page3 and "blasts 6.0 %" in page3  # what was reported before
    assert "Version 3 (amended) — current" in page3
    page2 = _html(seeded, version=2)
    assert "Version 2 (final) — superseded" in page2 and "Superseded by version 3" in page2
    assert "blasts 6.0 %" in page2 and "blasts 12.0 %" not in page2
    # The versions table lists all three, the current one marked.
    assert "3 (current)" in page2 and "blast count amended" in page2
    with db.unit_of_work("reader") as uow:
        (event,) = [e for e in audit.events(uow, "report") if e.entity_id.endswith("/v3")]
    assert event.actor == "dr.path" and event.detail["reason"] == "blast count amended"


def test_refusals(seeded: Seeded) -> None:
    db = seeded.database
    with pytest.raises(IllegalTransition, match="preliminary, final"), db.unit_of_work("x") as uow:
        reports.issue_report(uow, seeded.procedure, ReportStatus.AMENDED, reason="r")
    with db.unit_of_work("x") as uow:
        reports.issue_report(uow, seeded.procedure, ReportStatus.FINAL)
    with pytest.raises(ValidationError, match="reason"), db.unit_of_work("x") as uow:
        reports.issue_report(uow, seeded.procedure, ReportStatus.CORRECTED)
    with (
        pytest.raises(IllegalTransition, match="amended, corrected, addended"),
        db.unit_of_work("x") as uow,
    ):
        reports.issue_report(uow, seeded.procedure, ReportStatus.PRELIMINARY)
    with (
        pytest.raises(ValidationError, match="nothing differs from version 1"),
        db.unit_of_work("x") as uow,
    ):
        reports.issue_report(uow, seeded.procedure, ReportStatus.ADDENDED, reason="again")
    with pytest.raises(ValidationError, match="WHO 5th or ICC 2022"), db.unit_of_work("x") as uow:
        reports.issue_report(
            uow,
            seeded.procedure,
            ReportStatus.AMENDED,
            reason="r",
            diagnosis="x",
            diagnosis_classification="WHO 2008",
        )
    with pytest.raises(NotFound), db.unit_of_work("x") as uow:
        reports.marrow_report(uow, 999_999)
    with pytest.raises(NotFound, match="v7"), db.unit_of_work("x") as uow:
        reports.marrow_report(uow, seeded.procedure, version=7)


def test_nothing_signed_out_is_refused(database: Database) -> None:
    seed(database)
    from trephine.domain import Procedure, Site, Specimen, SpecimenType
    from trephine.services import procedures

    with database.unit_of_work("x") as uow:
        pid, _ = procedures.record_procedure(
            uow, "P001", Procedure(dt.datetime(2024, 6, 1, 9, tzinfo=dt.UTC), Site.STERNUM)
        )
        procedures.add_specimen(
            uow,
            "P001",
            Specimen("A-2", SpecimenType.ASPIRATE, dt.datetime(2024, 6, 1, 9, tzinfo=dt.UTC)),
            pid,
        )
        results.record_result(uow, "A-2", differential(5))  # a draft only
    with (
        pytest.raises(ValidationError, match="nothing to report"),
        database.unit_of_work("x") as uow,
    ):
        reports.issue_report(uow, pid, ReportStatus.FINAL)


def test_discussion_with_the_patient(seeded: Seeded) -> None:
    db = seeded.database
    with pytest.raises(ValidationError, match="issue the report"), db.unit_of_work("dr.k") as uow:
        reports.record_discussion(
            uow, seeded.procedure, discussed_with="patient", discussed_at=uow.now()
        )
    with db.unit_of_work("dr.path") as uow:
        v = reports.issue_report(uow, seeded.procedure, ReportStatus.FINAL)
    with (
        pytest.raises(ValidationError, match="between the issue of version 1"),
        db.unit_of_work("dr.k") as uow,
    ):
        reports.record_discussion(
            uow,
            seeded.procedure,
            discussed_with="patient",
            discussed_at=v.issued_at - dt.timedelta(days=1),
        )
    with db.unit_of_work("dr.k") as uow:
        d = reports.record_discussion(
            uow,
            seeded.procedure,
            discussed_with="patient and daughter",
            discussed_at=uow.now(),
            note="clinic visit",
        )
    assert d.discussed_by == "dr.k" and d.recorded_by == "dr.k"
    page = _html(seeded)
    assert "discussed by dr.k with patient and daughter" in page


def test_identity_only_when_asked(seeded: Seeded) -> None:
    assert "Synthetic Person" not in _html(seeded)
    assert "MRN-0001" not in _html(seeded)
    page = _html(seeded, identified=True)
    assert "Synthetic Person, MRN MRN-0001, born 1961-05-06" in page


def test_issued_versions_are_append_only(seeded: Seeded) -> None:
    db = seeded.database
    with db.unit_of_work("dr.path") as uow:
        reports.issue_report(uow, seeded.procedure, ReportStatus.FINAL)
        reports.record_discussion(
            uow, seeded.procedure, discussed_with="patient", discussed_at=uow.now()
        )
    for sql in (
        "UPDATE report_version SET diagnosis = 'changed'",
        "DELETE FROM report_version",
        "UPDATE report_discussion SET discussed_by = 'mallory'",
        "DELETE FROM report_discussion",
    ):
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            db.engine.begin() as conn,
        ):
            conn.execute(text(sql))


def test_populations_and_measurements_have_their_own_section(seeded: Seeded) -> None:
    """Issue 14: signed-out populations and measurements are in the marrow report (they were
    left out), with the population's 95 % Wilson intervals, after the other studies."""
    from decimal import Decimal

    from trephine.domain.quantity import Quantity
    from trephine.domain.results import Measurement, MeasurementMethod
    from trephine.testing.report_seed import microvessel_density, regulatory_t_cells

    treg, mvd = regulatory_t_cells(), microvessel_density()
    draft = Measurement.of(
        "CD271+ stromal cells", Quantity(Decimal("24.9"), "cells/mm2"), MeasurementMethod.IMAGE
    )
    with seeded.database.unit_of_work("lab") as uow:
        ids = [results.record_result(uow, a, v)[0].id for a, v in (("A-1", treg), ("C-1", mvd))]
        results.record_result(uow, "C-1", draft)
    with seeded.database.unit_of_work("dr.verify") as uow:
        for rid in ids:
            results.verify_result(uow, rid)
    page = _html(seeded)
    title = "Microenvironment: populations and measurements (research indices, not a grade)"
    assert title in page
    assert page.index("Ancillary studies") < page.index(title) < page.index("Interpretation")
    assert "310 of 5,000 CD4 T cells: 6.2 % (95 % CI 5.6–6.9 %)" in page
    assert "microvessel density 17.7 vessels/mm2" in page
    assert "24.9" not in page  # the draft
