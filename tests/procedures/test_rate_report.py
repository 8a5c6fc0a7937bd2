"""The rate report against hand-computed counts and exact intervals on a small fixture.

Fixture: operator dr.a does 5 procedures with no complication, each with an adequate aspirate
and a core (3 of 20 mm, 2 of 12 mm); operator dr.b does 2 (2025), both with a complication, one
severe, each with an aparticulate aspirate, one with a core whose length was not recorded.

Hand-computed Clopper–Pearson 95 % limits (closed forms: x = 0 → upper 1 − 0.025^(1/n);
x = n → lower 0.025^(1/n); x = 1 → lower 1 − 0.975^(1/n); x = n − 1 → upper 0.975^(1/n)),
the others from published tables (1/7: 0.36–57.87 %; 8/10: 44.39–97.48 %):
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trephine.analysis.cohort.procedure_rates import PUBLISHED, ProcedureFacts, report
from trephine.domain.procedure import (
    Complication,
    ComplicationKind,
    ComplicationSeverity,
    Procedure,
    Site,
)
from trephine.domain.specimen import Specimen, SpecimenType
from trephine.errors import ValidationError
from trephine.services import procedure_report, procedures
from trephine.store.database import Database


def _seed(database: Database) -> None:
    with database.unit_of_work("seed") as uow:
        for i in range(5):
            at = dt.datetime(2024, 1, 2 + i, 9, tzinfo=dt.UTC)
            pid, _ = procedures.record_procedure(
                uow,
                "P001",
                Procedure(at, Site.POSTERIOR_ILIAC_CREST, operator="dr.a", needle="Jamshidi 11G"),
            )
            procedures.add_specimen(
                uow,
                "P001",
                Specimen(f"A{i}", SpecimenType.ASPIRATE, at, first_pull=True, spicules=True),
                pid,
            )
            core = Decimal("20") if i < 3 else Decimal("12")
            procedures.add_specimen(
                uow,
                "P001",
                Specimen(f"C{i}", SpecimenType.TREPHINE_CORE, at, core_length_mm=core),
                pid,
            )
        for i, severity in enumerate((ComplicationSeverity.MILD, ComplicationSeverity.SEVERE)):
            at = dt.datetime(2025, 3, 2 + i, 9, tzinfo=dt.UTC)
            pid, _ = procedures.record_procedure(
                uow,
                "P002",
                Procedure(
                    at,
                    Site.ANTERIOR_ILIAC_CREST,
                    operator="dr.b",
                    complications=(Complication(ComplicationKind.HEMATOMA, severity),),
                ),
            )
            procedures.add_specimen(
                uow, "P002", Specimen(f"B{i}", SpecimenType.ASPIRATE, at, spicules=False), pid
            )
            if i == 0:
                procedures.add_specimen(
                    uow, "P002", Specimen("BC", SpecimenType.TREPHINE_CORE, at), pid
                )


def _ci(rate: dict[str, object]) -> list[float]:
    return [round(v, 2) for v in rate["ci95_percent"]]  # type: ignore[union-attr]


def test_overall_and_per_operator_rates(clinic: Database) -> None:
    _seed(clinic)
    with clinic.unit_of_work("dr.audit") as uow:
        result = procedure_report.procedure_report(uow, "operator").as_dict()
    overall = result["overall"]
    assert overall["procedures"] == 7
    assert (overall["complication_rate"]["x"], overall["complication_rate"]["n"]) == (2, 7)
    assert overall["serious_complication_rate"]["x"] == 1
    assert _ci(overall["serious_complication_rate"]) == [0.36, 57.87]
    assert (overall["adequacy_rate"]["x"], overall["adequacy_rate"]["n"]) == (8, 12)
    assert overall["adequacy_not_recorded"] == 1
    a, b = result["groups"]
    assert a["group"] == "dr.a" and b["group"] == "dr.b"
    assert a["complication_rate"]["percent"] == 0
    assert _ci(a["complication_rate"]) == [0.0, round((1 - 0.025 ** (1 / 5)) * 100, 2)]
    assert (a["adequacy_rate"]["x"], a["adequacy_rate"]["n"]) == (8, 10)
    assert _ci(a["adequacy_rate"]) == [44.39, 97.48]
    assert _ci(b["complication_rate"]) == [round(0.025 ** (1 / 2) * 100, 2), 100.0]
    assert _ci(b["serious_complication_rate"]) == [
        round((1 - 0.975**0.5) * 100, 2),
        round(0.975**0.5 * 100, 2),
    ]
    assert (b["adequacy_rate"]["x"], b["adequacy_rate"]["n"]) == (0, 2)
    assert b["adequacy_not_recorded"] == 1


def test_by_site_needle_and_period(clinic: Database) -> None:
    _seed(clinic)
    with clinic.unit_of_work("dr.audit") as uow:
        by_needle = procedure_report.procedure_report(uow, "needle")
        by_period = procedure_report.procedure_report(uow, "period")
        by_site = procedure_report.procedure_report(uow, "site")
    assert [(g.group, g.procedures) for g in by_needle.groups] == [
        ("Jamshidi 11G", 5),
        ("not recorded", 2),
    ]
    assert [(g.group, g.procedures) for g in by_period.groups] == [("2024", 5), ("2025", 2)]
    assert [g.group for g in by_site.groups] == ["posterior iliac crest", "anterior iliac crest"]


def test_published_rates_and_bad_grouping() -> None:
    bain = PUBLISHED[0]
    assert (bain.events, bain.procedures) == (26, 54_890)
    assert bain.rate.interval is not None and bain.rate.interval.contains(26 / 54_890)
    with pytest.raises(ValidationError, match="operator, site, needle, period"):
        report([], "surgeon")
    empty = report([ProcedureFacts(dt.date(2024, 1, 1), "sternum", None, None, 0, 0)])
    assert empty.overall.adequacy.interval is None and empty.overall.adequacy.n == 0
