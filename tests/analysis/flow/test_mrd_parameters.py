"""Flow MRD reads the ELN 2021 limits from the rule set that declares them (one source)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from trephine.analysis.flow.mrd import AML_ELN2021, MrdCall, criteria_sets, quantify_mrd
from trephine.criteria.sets import eln2021_mrd
from trephine.importers.flow_mrd import criteria_for


def _with_default(name: str, value: object) -> eln2021_mrd.RuleSet:
    params = tuple(
        dataclasses.replace(p, default=value) if p.name == name else p
        for p in eln2021_mrd.MRD.params
    )
    return dataclasses.replace(eln2021_mrd.MRD, params=params)


def test_the_defaults_are_the_rule_sets_parameters() -> None:
    declared = {p.name: p.default for p in eln2021_mrd.MRD.params}
    assert AML_ELN2021.lod_events.value == declared["mfc_lod_events"]
    assert AML_ELN2021.lloq_events.value == declared["mfc_lloq_events"]
    assert AML_ELN2021.negative_requires_events.value == declared["mfc_min_cd45_events"]
    assert AML_ELN2021.positivity.value == declared["mfc_threshold_pct"] / 100
    assert AML_ELN2021.target_sensitivity.value == Decimal("0.0001")


def test_a_site_changing_the_m6_lod_changes_flow_mrd(monkeypatch: pytest.MonkeyPatch) -> None:
    # 25 abnormal events: a population under the published LOD of 20 events ...
    assert quantify_mrd(25, 1_000_000, criteria_for("AML")).detected
    monkeypatch.setattr(eln2021_mrd, "MRD", _with_default("mfc_lod_events", 30))
    # ... but not under a site's LOD of 30 events, declared once in the rule set.
    crit = criteria_for("AML")
    assert crit.lod_events.value == 30 and crit.lod_events.rule == "M6"
    result = quantify_mrd(25, 1_000_000, crit)
    assert not result.detected and result.call is MrdCall.NEGATIVE
    assert result.lod_events == 30
    # The other diseases take the M6 limit from the same declaration.
    assert criteria_for("MM").lod_events.value == 30


def test_changing_the_m4_minimum_changes_when_a_negative_may_be_called() -> None:
    assert quantify_mrd(0, 600_000, criteria_sets()["AML"]).call is MrdCall.NEGATIVE
    stricter = criteria_sets({"mfc_min_cd45_events": 1_000_000})["AML"]
    assert quantify_mrd(0, 600_000, stricter).call is MrdCall.INSUFFICIENT_SENSITIVITY


def test_an_unknown_parameter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"params\.mfc_lod"):
        criteria_sets({"mfc_lod": 30})
