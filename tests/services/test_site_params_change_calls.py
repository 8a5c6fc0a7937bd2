"""A site's parameters (``TREPHINE_ASSESS_PARAMS``) decide the calls ``trephine assess``
stores, for every rule set that declares them (SQLite and PostgreSQL, through the assess
service reading the setting, as the CLI and the web do).

Before: only the AML, ALL and aplastic-anaemia response rules received the site's parameters;
the CLL MRD threshold, the aplastic-anaemia severity reticulocyte threshold and the transplant
graft-failure days were accepted (or, for the graft, refused as unknown) and the documented
defaults applied whatever the site set. A cord-blood graft was also held to day +30, not to
its own day +42 (``primary_gf_day_ucb``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assess.test_issue13_acceptance import Site
from trephine.importers.clinical import import_path
from trephine.services.alerts import list_alerts
from trephine.services.assessments import AssessRun, assess_patient, patient_assessments
from trephine.settings import get_settings
from trephine.store.database import Database

D = dt.date
DAY0 = D(2024, 3, 1)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _site_sets(monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]) -> None:
    monkeypatch.setenv("TREPHINE_ASSESS_PARAMS", json.dumps(params))
    get_settings.cache_clear()


def _assess(database: Database, pid: str) -> AssessRun:
    with database.unit_of_work("clinician") as uow:
        return assess_patient(uow, pid)


def _calls(database: Database, pid: str, kind: str) -> list[tuple[dt.date, str, int]]:
    """(date, category, revision) of every stored row of a call kind, oldest first."""
    with database.unit_of_work("reader") as uow:
        return [
            (s.assessment.assessed_on, s.assessment.category, s.revision)
            for s in patient_assessments(uow, pid)
            if s.call_kind == kind
        ]


def _cll_site(tmp_path: Path) -> Path:
    site = Site()
    site.add("patients", "P-CLL", "male", 1960)
    site.add("diagnoses", "P-CLL", "CLL", D(2023, 12, 1))
    site.add("therapies", "P-CLL", 1, "venetoclax", "curative", "less intensive", D(2024, 1, 2), "")
    # 45 CLL cells in 300,000 leukocytes: 1.5 × 10^-4, at or above the default 10^-4.
    blood = site.specimen("P-CLL", "peripheral blood", D(2024, 9, 1))
    fields = {"mrd": ("0.015", "%"), "method": "DfN", "events_acquired": 300000}
    site.result(blood, "flow_mrd", {**fields, "abnormal_events": 45})
    return site.write(tmp_path / "cll")


def test_the_cll_mrd_call_follows_the_site_threshold(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_path(database, _cll_site(tmp_path), "importer")
    assert _assess(database, "P-CLL").new_assessments >= 1
    assert _calls(database, "P-CLL", "mrd") == [(D(2024, 9, 1), "MRD_POSITIVE", 1)]
    # Assessed again unchanged: nothing new.
    assert _assess(database, "P-CLL").new_assessments == 0
    # The site moves the uMRD threshold to 2 × 10^-4: the same sample is now undetectable,
    # stored as the call's next revision (the earlier row stays as history).
    _site_sets(monkeypatch, {"umrd_threshold": "0.0002"})
    assert _assess(database, "P-CLL").new_assessments == 1
    assert _calls(database, "P-CLL", "mrd") == [
        (D(2024, 9, 1), "MRD_POSITIVE", 1),
        (D(2024, 9, 1), "UNDETECTABLE_MRD4", 2),
    ]


def _aa_site(tmp_path: Path) -> Path:
    site = Site()
    site.add("patients", "P-AA", "female", 1985)
    site.add("diagnoses", "P-AA", "aplastic anemia", D(2024, 1, 5))
    core = site.specimen("P-AA", "trephine core", D(2024, 1, 5))
    site.result(core, "core", {"cellularity": ("10", "%")})
    blood = site.specimen("P-AA", "peripheral blood", D(2024, 1, 5))
    # Cellularity < 25 %, platelets < 20, ANC not < 0.5; reticulocytes 40 (automated):
    # below 60 (BSH 2016, automated), not below the classic 20.
    site.result(
        blood,
        "blood_count",
        {
            "anc": ("0.8", "10^9/L"),
            "platelets": ("15", "10^9/L"),
            "hemoglobin": ("8.0", "g/dL"),
            "reticulocytes": ("40", "10^9/L"),
            "reticulocyte_method": "automated",
        },
    )
    return site.write(tmp_path / "aa")


@pytest.mark.parametrize(
    ("params", "expected"), [({}, "SAA"), ({"aa_retic_threshold": 20}, "NON_SEVERE")]
)
def test_the_aa_severity_follows_the_site_reticulocyte_threshold(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, Any],
    expected: str,
) -> None:
    _site_sets(monkeypatch, params)
    import_path(database, _aa_site(tmp_path), "importer")
    _assess(database, "P-AA")
    assert _calls(database, "P-AA", "severity") == [(D(2024, 1, 5), expected, 1)]


def _graft_site(tmp_path: Path, donor: str, days: int) -> Path:
    """An AML patient transplanted on ``DAY0`` whose ANC stays at 0.1 for ``days`` days."""
    site = Site()
    site.add("patients", "P-HCT", "female", 1970)
    site.add("diagnoses", "P-HCT", "AML", D(2023, 10, 1))
    site.add("cellular_therapies", "P-HCT", "transplant", DAY0, donor, "intensive", "", "")
    for day in range(1, days + 1):
        on = DAY0 + dt.timedelta(days=day)
        fields = {"anc": ("0.1", "10^9/L"), "platelets": ("8", "10^9/L")}
        site.result(site.specimen("P-HCT", "peripheral blood", on), "blood_count", fields)
    return site.write(tmp_path / "hct")


@pytest.mark.parametrize(
    ("donor", "params", "failed_on_day"),
    [
        ("matched sibling", {}, 31),
        ("matched sibling", {"primary_gf_day": "35"}, 36),
        ("cord blood", {}, 43),  # ASTCT: day +42 for a cord-blood graft
        ("cord blood", {"primary_gf_day_ucb": "45"}, 46),
    ],
)
def test_primary_graft_failure_follows_the_site_day(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    donor: str,
    params: dict[str, Any],
    failed_on_day: int,
) -> None:
    _site_sets(monkeypatch, params)
    import_path(database, _graft_site(tmp_path, donor, 50), "importer")
    _assess(database, "P-HCT")
    on = DAY0 + dt.timedelta(days=failed_on_day)
    assert _calls(database, "P-HCT", "graft") == [(on, "PRIMARY_GRAFT_FAILURE", 1)]
    with database.unit_of_work("reader") as uow:
        (alert,) = [a for a in list_alerts(uow, patient="P-HCT") if "GRAFT" in a.code]
    assert alert.raised_on == on
    assert f"by day +{failed_on_day - 1} after" in alert.message
