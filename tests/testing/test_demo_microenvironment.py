"""The demo's microenvironment scenario (issue 14 §5): immune panels before and after therapy for
some AML patients, niche measurements on aplastic-anaemia cores; deterministic, and added
without changing anything else the cohort draws."""

from __future__ import annotations

from statistics import mean

import pytest

from trephine.demo import cohort
from trephine.demo.microenvironment import IMMUNE_SCENARIOS, add_microenvironment
from trephine.demo.model import Scenario
from trephine.domain.results import CoreFindings, Measurement, Population


def _extra(patient: cohort.SyntheticPatient) -> list[tuple[str, object]]:
    return [
        (r.specimen, r.value)
        for v in patient.visits
        for r in v.results
        if isinstance(r.value, Population | Measurement)
    ]


def test_added_results_only_and_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    indices = [0, 1, 4, 11, 31]
    with_niche = [cohort.synthetic_patient(i) for i in indices]
    assert [_extra(p) for p in with_niche] == [_extra(cohort.synthetic_patient(i)) for i in indices]
    monkeypatch.setattr(cohort, "add_microenvironment", lambda i, s, sc, visits: list(visits))
    for i, patient in zip(indices, with_niche, strict=True):
        plain = cohort.synthetic_patient(i)
        stripped = [
            tuple(r for r in v.results if not isinstance(r.value, Population | Measurement))
            for v in patient.visits
        ]
        assert stripped == [v.results for v in plain.visits]
        assert patient.identity == plain.identity and patient.therapy_lines == plain.therapy_lines


def test_immune_panels_before_and_after_for_some_aml_patients() -> None:
    before, after, with_panel, without = [], [], 0, 0
    for i in range(40):
        p = cohort.synthetic_patient(i)
        marrows = [v for v in p.visits if v.procedure is not None]
        tregs = [
            [r.value for r in v.results if isinstance(r.value, Population)
             and r.value.population == "regulatory T cells"]
            for v in marrows
        ]  # fmt: skip
        if p.scenario not in IMMUNE_SCENARIOS:
            assert not any(tregs)
            continue
        if not tregs[0]:
            without += 1
            continue
        with_panel += 1
        assert len(tregs[0]) == len(tregs[1]) == 1 and not any(tregs[2:])
        assert all(r.specimen.endswith("-A") for v in marrows[:2] for r in v.results
                   if isinstance(r.value, Population))  # fmt: skip
        before.append(float(tregs[0][0].percent_of_parent))
        after.append(float(tregs[1][0].percent_of_parent))
    assert with_panel >= 4 and without >= 1
    assert mean(after) < mean(before)


def test_aplastic_cores_carry_niche_measurements_matching_their_cellularity() -> None:
    p = cohort.synthetic_patient(11)
    assert p.scenario is Scenario.APLASTIC_ANEMIA
    cores = 0
    for v in p.visits:
        values = {r.specimen: r.value for r in v.results if isinstance(r.value, CoreFindings)}
        found = {r.value.index: r for r in v.results if isinstance(r.value, Measurement)}
        if not values:
            assert not found
            continue
        cores += 1
        core, findings = next(iter(values.items()))
        assert set(found) == {"adipocyte area fraction", "microvessel density",
                              "CD271+ stromal cells"}  # fmt: skip
        assert all(r.specimen == core for r in found.values())
        fat = found["adipocyte area fraction"].value
        assert isinstance(fat, Measurement) and findings.cellularity is not None
        total = float(fat.value.value or 0) + float(findings.cellularity.value or 0)
        assert abs(total - 100) <= 3.05
    assert cores >= 2


def test_other_scenarios_untouched() -> None:
    visits = cohort.synthetic_patient(3).visits  # myeloma
    assert add_microenvironment(3, 1, Scenario.MYELOMA, visits) == list(visits)


def test_cd4_and_cd8_t_cells_never_exceed_the_t_cells() -> None:
    """Drawn apart, the demo's CD4 and CD8 shares of the T cells summed to more than 100 %
    (DEMO-0001: 72.7 % + 34.2 %); every panel of the 240-patient demo now splits them."""
    panels = 0
    for i in range(240):
        for v in cohort.synthetic_patient(i).visits:
            shares = {
                r.value.population: r.value.count
                for r in v.results
                if isinstance(r.value, Population) and r.value.parent == "T cells"
            }
            if shares:
                panels += 1
                t_cells = next(
                    r.value.count
                    for r in v.results
                    if isinstance(r.value, Population) and r.value.population == "T cells"
                )
                assert shares["CD4 T cells"] + shares["CD8 T cells"] <= t_cells, (i, shares)
    assert panels >= 20
