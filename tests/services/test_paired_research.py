"""Paired samples from stored data (issue 12 §2): the clonal comparison of one patient's two
stored specimens, and paired Wilcoxon tests of stored numeric measurements between two study
visits across a cohort (effect size, Benjamini–Hochberg), checked against scipy directly."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from scipy import stats
from sqlalchemy import func, select
from typer.testing import CliRunner

from trephine.analysis.clonal.records import VariantObservation
from trephine.analysis.cohort.paired import compare_specimens
from trephine.cli.main import app
from trephine.demo.study import STUDY, ensure_demo_study
from trephine.domain.cohort import CohortDefinition
from trephine.errors import ValidationError
from trephine.present.deidentify import Deidentifier, Level
from trephine.services import cohorts, research
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow, PatientRow, ResultRow
from trephine.testing.fixtures import load_demo_database

KEY = "a-paired-test-key-0123456789"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", KEY)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def demo(database: Database) -> Database:
    load_demo_database(database.url, 24, seed=7)
    with database.unit_of_work("coordinator") as uow:
        ensure_demo_study(uow)
        cohorts.define(uow, "ind", CohortDefinition(study=STUDY))
        cohorts.define(uow, "aml", CohortDefinition(diseases=("AML",)))
    return database


def _obs(sample: str, day: float, mutation: str, vaf: float) -> VariantObservation:
    return VariantObservation("P", sample, day, mutation.split(":")[0], mutation, 40, 200, vaf)


def test_two_specimens_persistent_cleared_emerging() -> None:
    obs = [
        _obs("A", 0, "NPM1:c.860_863dup", 0.4),
        _obs("A", 0, "FLT3:ITD", 0.3),
        _obs("A", 0, "DNMT3A:R882H", 0.2),
        _obs("B", 100, "NPM1:c.860_863dup", 0.05),
        _obs("B", 100, "DNMT3A:R882H", 0.21),
        _obs("B", 100, "TP53:R248Q", 0.1),
        _obs("C", 50, "FLT3:ITD", 0.02),
    ]
    got = {c.mutation_id: c for c in compare_specimens(obs, "A", "B")}
    assert got["NPM1:c.860_863dup"].status == "persistent"
    assert (got["NPM1:c.860_863dup"].vaf_before, got["NPM1:c.860_863dup"].vaf_after) == (0.4, 0.05)
    assert got["FLT3:ITD"].status == "cleared"  # C (day 50) is not one of the two specimens
    assert got["TP53:R248Q"].status == "emerging" and got["TP53:R248Q"].vaf_before is None
    assert got["DNMT3A:R882H"].chip and not got["TP53:R248Q"].chip
    with pytest.raises(ValidationError, match="before: 'B'"):
        compare_specimens(obs, "B", "A")
    with pytest.raises(ValidationError, match=r"after: 'Z'.*A, B, C"):
        compare_specimens(obs, "A", "Z")


def test_clonal_compare_reads_a_patients_stored_specimens(demo: Database) -> None:
    with demo.unit_of_work("r") as uow:
        patient, n = uow.session.execute(
            select(PatientRow.external_id, func.count(func.distinct(ResultRow.specimen_id)))
            .join(ResultRow, ResultRow.patient_id == PatientRow.id)
            .where(ResultRow.kind == "ngs_variant")
            .group_by(PatientRow.external_id)
            .order_by(func.count(func.distinct(ResultRow.specimen_id)).desc())
        ).first()
    assert n >= 2, "the demo has a patient sequenced twice"
    out = runner.invoke(
        app, ["clonal", "compare", "--patient", patient, "--json", "--database-url", demo.url]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["before"]["day"] < data["after"]["day"]
    assert data["mutations"] and {m["status"] for m in data["mutations"]} <= {
        "persistent",
        "cleared",
        "emerging",
        "not_detected",
    }
    for m in data["mutations"]:
        assert (m["vaf_before"] is not None) or m["status"] in ("emerging", "not_detected")
    bad = runner.invoke(
        app,
        ["clonal", "compare", "--patient", patient, "--before", "NOPE", "--database-url", demo.url],
    )
    assert bad.exit_code == 2 and "--before: 'NOPE' is not allowed" in bad.output
    with demo.unit_of_work("r") as uow:
        reads = uow.session.scalars(
            select(AuditEventRow).where(AuditEventRow.entity_id == patient)
        ).all()
    assert any(e.detail.get("what") == "variants" for e in reads)


def test_paired_visits_match_scipy_and_bh(demo: Database) -> None:
    deid = Deidentifier(Level.SAFE_HARBOR, KEY.encode())
    with demo.unit_of_work("r") as uow:
        ev = cohorts.evaluate(uow, "ind")
        results, read = research.paired_visits(
            uow, ev, deid, before="screening", after="end_of_induction"
        )
    assert read and set(read) <= set(ev.members)
    tested = [r for r in results if r.test is not None]
    assert tested, "the demo has values at screening and at the end of induction"
    blasts = next(r for r in tested if r.feature == "differential counts.blasts")
    before = [p.before for p in blasts.pairs]
    after = [p.after for p in blasts.pairs]
    assert blasts.test is not None
    assert blasts.test.p_value == pytest.approx(stats.wilcoxon(before, after).pvalue, rel=1e-9)
    assert blasts.test.effect_size < 0  # blasts fall with induction
    assert all(p.patient.startswith("P") and len(p.patient) == 17 for p in blasts.pairs)
    ps = [r.test.p_value for r in tested if r.test is not None]
    expected = stats.false_discovery_control(ps)
    assert [r.q_value for r in tested] == pytest.approx(list(expected), rel=1e-9)
    with demo.unit_of_work("r") as uow:
        with pytest.raises(ValidationError, match="before: 'day_7'"):
            research.paired_visits(uow, ev, deid, before="day_7", after="end_of_induction")
        with pytest.raises(ValidationError, match="selects on a study"):
            research.paired_visits(
                uow, cohorts.evaluate(uow, "aml"), deid, before="screening", after="day_14"
            )


def test_cohort_paired_cli(demo: Database) -> None:
    out = runner.invoke(
        app,
        [
            "cohort", "paired", "ind", "--before", "screening", "--after", "end_of_induction",
            "--json", "--database-url", demo.url,
        ],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["before"] == "screening" and data["features"]
    assert "DEMO-0" not in out.output
    text = runner.invoke(
        app,
        [
            "cohort", "paired", "ind", "--before", "screening", "--after", "end_of_induction",
            "--database-url", demo.url,
        ],
    )  # fmt: skip
    assert "differential counts.blasts" in text.output
