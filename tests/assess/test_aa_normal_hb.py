"""Aplastic anaemia complete response: "Hb normal for age and sex" is a site parameter by sex.

BSH 2016 (Killick et al., Br J Haematol 2016;172:187) complete response: Hb normal, ANC > 1.5,
platelets > 150 ×10⁹/L [R]. The normal Hb is the laboratory's lower limit: ``hb_lln`` when given,
else ``hb_normal_female`` / ``hb_normal_male`` (defaults: WHO 2011 anaemia cut-offs, 12.0 and
13.0 g/dL [R]), set by a site through ``TREPHINE_ASSESS_PARAMS``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assess.test_issue13_acceptance import Site, _calls, _load
from trephine.assess.common import run
from trephine.criteria.model import Tag
from trephine.criteria.sets import aa_response
from trephine.errors import ValidationError
from trephine.services.assessments import assess_patient
from trephine.settings import get_settings
from trephine.store.database import Database

D = dt.date
# Severe AA before IST; the counts after it clear every other complete-response criterion.
BASE = {
    "baseline_severe": True,
    "baseline_hb": "7.0",
    "baseline_anc": "0.3",
    "baseline_plt": "10",
    "transfusion_independent": True,
    "anc": "1.6",
    "plt": "151",
}


def _category(hb: str, sex: str | None, params: dict[str, Any] | None = None) -> str:
    values: dict[str, Any] = {**BASE, "hb": hb}
    if sex is not None:
        values["sex"] = sex
    return run(aa_response.RESPONSE, values, "test", params or {}).category


@pytest.mark.parametrize(
    ("sex", "hb", "expected"),
    [
        ("female", "11.9", "PARTIAL_RESPONSE"),
        ("female", "12.0", "COMPLETE_RESPONSE"),
        ("male", "12.9", "PARTIAL_RESPONSE"),
        ("male", "13.0", "COMPLETE_RESPONSE"),
        # No sex-specific limit for "other"/"unknown" or no sex: complete response not claimed.
        ("other", "15.0", "PARTIAL_RESPONSE"),
        ("unknown", "15.0", "PARTIAL_RESPONSE"),
        (None, "15.0", "PARTIAL_RESPONSE"),
    ],
)
def test_default_normal_hb_by_sex_at_the_boundaries(
    sex: str | None, hb: str, expected: str
) -> None:
    assert _category(hb, sex) == expected


@pytest.mark.parametrize(
    ("hb", "expected"), [("11.4", "PARTIAL_RESPONSE"), ("11.5", "COMPLETE_RESPONSE")]
)
def test_a_site_sets_its_laboratory_limit(hb: str, expected: str) -> None:
    assert _category(hb, "female", {"hb_normal_female": "11.5"}) == expected


def test_a_laboratory_lln_given_with_the_case_wins_over_the_site_default() -> None:
    values = {**BASE, "hb": "12.5", "sex": "male", "hb_lln": "12.5"}
    assert run(aa_response.RESPONSE, values, "test", {}).category == "COMPLETE_RESPONSE"


def test_the_parameters_are_recalled_and_documented() -> None:
    params = {p.name: p for p in aa_response.RESPONSE.params}
    for name in ("hb_normal_female", "hb_normal_male"):
        assert params[name].tag is Tag.RECALLED and "WHO 2011" in params[name].description


@pytest.fixture
def site_params(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TREPHINE_ASSESS_PARAMS", '{"hb_normal_female": "11.5"}')
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _aa_site(hb: str) -> Site:
    site = Site()
    pid = "P-AA"
    site.add("patients", pid, "female", 1985)
    site.add("diagnoses", pid, "aplastic anemia", D(2024, 1, 5))
    site.add(
        "therapies", pid, 1, "hATG + ciclosporin", "curative", "not applicable", D(2024, 1, 15), ""
    )
    site.result(
        site.specimen(pid, "trephine core", D(2024, 1, 5)), "core", {"cellularity": ("10", "%")}
    )
    site.result(
        site.specimen(pid, "peripheral blood", D(2024, 1, 5)),
        "blood_count",
        {
            "anc": ("0.3", "10^9/L"),
            "platelets": ("10", "10^9/L"),
            "hemoglobin": ("7.5", "g/dL"),
            "reticulocytes": ("15", "10^9/L"),
            "reticulocyte_method": "manual",
            "transfusion_dependence": "red cells and platelets",
        },
    )
    site.result(
        site.specimen(pid, "peripheral blood", D(2024, 7, 15)),
        "blood_count",
        {
            "anc": ("1.6", "10^9/L"),
            "platelets": ("151", "10^9/L"),
            "hemoglobin": (hb, "g/dL"),
            "transfusion_dependence": "none",
        },
    )
    return site


def test_the_stored_call_reads_the_patients_sex(database: Database, tmp_path: Path) -> None:
    stored, _ = _load(database, _aa_site("12.0"), tmp_path, "P-AA")
    assert _calls(stored, "response") == [(D(2024, 7, 15), "COMPLETE_RESPONSE")]


def test_the_stored_call_follows_the_site_setting(
    database: Database, tmp_path: Path, site_params: None
) -> None:
    stored, _ = _load(database, _aa_site("11.5"), tmp_path, "P-AA")
    assert _calls(stored, "response") == [(D(2024, 7, 15), "COMPLETE_RESPONSE")]


def test_an_unknown_site_parameter_is_refused(database: Database, tmp_path: Path) -> None:
    _load(database, _aa_site("12.0"), tmp_path, "P-AA")
    with database.unit_of_work("clinician") as uow, pytest.raises(ValidationError) as refused:
        assess_patient(uow, "P-AA", params={"hb_normal_women": "12"})
    assert "hb_normal_female" in str(refused.value)
