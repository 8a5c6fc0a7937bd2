"""The demo's marrow microenvironment (issue 14 §5): immune-population panels for some AML
patients before and after therapy, and niche measurements on aplastic-anaemia cores.

Added to a patient's finished visits (:func:`add_microenvironment`) from a random stream of its
own (``seed:index:niche``), so the rest of the cohort — every value the scenarios draw — is
unchanged. Deterministic: the same seed and index give the same numbers.

* AML: two patients of every block of 20 (the first intensive-induction-to-CR patient and the
  first on azacitidine + venetoclax, :data:`PANEL_POSITIONS`; kept few because every demo
  result costs ``trephine demo`` time): a flow immune panel on the aspirate of the diagnostic
  marrow and of the first marrow after therapy — T, CD4, CD8, regulatory T, NK and B cells and
  monocytic MDSC among ~40,000 CD45+ events. Regulatory T cells and MDSC fall after therapy,
  T and NK cells rise.
* Aplastic anaemia: on every core, the adipocyte area fraction (the complement of the core's
  own cellularity), CD34+ microvessel density and CD271+ stromal cells per mm² (low while the
  marrow is empty, recovering with it).

The numbers are synthetic and only shaped like published trends; they carry no clinical meaning.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from trephine.demo.model import Scenario, SyntheticResult, Visit
from trephine.domain.populations import MEASUREMENT_INDICES, TOTAL_CD45
from trephine.domain.results import (
    CoreFindings,
    Measurement,
    MeasurementMethod,
    Population,
    PopulationMethod,
)
from trephine.domain.specimen import SpecimenType

__all__ = ["IMMUNE_SCENARIOS", "PANEL_POSITIONS", "add_microenvironment"]

#: The AML scenarios some of whose patients carry an immune panel ...
IMMUNE_SCENARIOS = (Scenario.AML_INTENSIVE_CR, Scenario.AML_LESS_INTENSIVE)
#: ... those at these positions of each block of 20 patients (``index % 20``).
PANEL_POSITIONS = (0, 4)
PANEL = "demo marrow immune panel (CD45/CD3/CD4/CD8/CD25/CD127/CD56/CD19/CD14/HLA-DR)"

# (population, parent, % of parent at diagnosis, % of parent after therapy)
_IMMUNE: tuple[tuple[str, str, float, float], ...] = (
    ("T cells", TOTAL_CD45, 12.0, 22.0),
    ("CD4 T cells", "T cells", 45.0, 50.0),
    ("CD8 T cells", "T cells", 40.0, 38.0),
    ("regulatory T cells", "CD4 T cells", 11.0, 6.0),
    ("NK cells", TOTAL_CD45, 4.0, 7.0),
    ("B cells", TOTAL_CD45, 3.0, 2.0),
    ("monocytic MDSC", TOTAL_CD45, 6.0, 2.5),
)


def add_microenvironment(
    index: int, seed: int, scenario: Scenario, visits: Sequence[Visit]
) -> list[Visit]:
    """``visits`` with the scenario's microenvironment results added (unchanged otherwise)."""
    if scenario in IMMUNE_SCENARIOS and index % 20 in PANEL_POSITIONS:
        rng = random.Random(f"{seed}:{index}:niche")
        marrows = [v for v in visits if v.procedure is not None]
        chosen = {id(v): after for after, v in enumerate(marrows[:2])}
        return [
            _with(v, _immune_panel(rng, v, bool(chosen[id(v)]))) if id(v) in chosen else v
            for v in visits
        ]
    if scenario is Scenario.APLASTIC_ANEMIA:
        rng = random.Random(f"{seed}:{index}:niche")
        return [_with(v, _niche(rng, v)) for v in visits]
    return list(visits)


def _with(visit: Visit, extra: list[SyntheticResult]) -> Visit:
    return replace(visit, results=(*visit.results, *extra)) if extra else visit


def _specimen(visit: Visit, kind: SpecimenType) -> str | None:
    return next((s.accession for s in visit.specimens if s.type is kind), None)


def _immune_panel(rng: random.Random, visit: Visit, after: bool) -> list[SyntheticResult]:
    aspirate = _specimen(visit, SpecimenType.ASPIRATE)
    if aspirate is None:
        return []
    cd45 = rng.randint(30_000, 50_000)
    counts = {TOTAL_CD45: cd45}
    out = []
    for name, parent, before_pct, after_pct in _IMMUNE:
        mean = after_pct if after else before_pct
        pct = min(max(rng.gauss(mean, mean * 0.2), 0.1), 95.0)
        parent_count = counts[parent]
        count = round(parent_count * pct / 100)
        if name == "CD8 T cells":
            # CD4 and CD8 T cells split the T cells (the rest double negative): drawn apart,
            # they reached 72.7 % + 34.2 % of T cells on DEMO-0001.
            count = min(count, parent_count - counts["CD4 T cells"])
        counts[name] = count
        value = Population(
            population=name,
            count=count,
            parent=parent,
            parent_count=parent_count,
            method=PopulationMethod.FLOW,
            total=TOTAL_CD45,
            total_count=cd45,
            panel=PANEL,
        )
        out.append(SyntheticResult(aspirate, value))
    return out


def _measure(index: str, value: float, places: int) -> Decimal:
    measure = MEASUREMENT_INDICES[index].measure
    number = Decimal(str(round(max(value, 0.0), places)))
    return min(max(number, measure.minimum), measure.maximum)


def _niche(rng: random.Random, visit: Visit) -> list[SyntheticResult]:
    core = _specimen(visit, SpecimenType.TREPHINE_CORE)
    findings = next(
        (
            r.value
            for r in visit.results
            if r.specimen == core and isinstance(r.value, CoreFindings)
        ),
        None,
    )
    if core is None or findings is None or findings.cellularity is None:
        return []
    cellularity = float(findings.cellularity.value or 0)
    fat = 100 - cellularity + rng.uniform(-3, 3)
    vessels = 8 + 0.9 * cellularity + rng.gauss(0, 3)
    stromal = 15 + 1.5 * cellularity + rng.gauss(0, 5)
    area = Decimal(str(round(rng.uniform(4, 12), 1)))
    values = (
        ("adipocyte area fraction", _measure("adipocyte area fraction", fat, 1), None),
        ("microvessel density", _measure("microvessel density", vessels, 1), "CD34"),
        ("CD271+ stromal cells", _measure("CD271+ stromal cells", stromal, 1), "CD271"),
    )
    out = []
    for name, number, stain in values:
        quantity = MEASUREMENT_INDICES[name].measure.quantity(number)
        method = MeasurementMethod.POINT_COUNTING if stain is None else MeasurementMethod.MANUAL
        value = Measurement.of(name, quantity, method, stain=stain, area_mm2=area)
        out.append(SyntheticResult(core, value))
    return out
