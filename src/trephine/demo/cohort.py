"""A seeded, synthetic, clinically plausible demo cohort (pure: domain objects only, no I/O).

Every patient is generated from ``random.Random(f"{seed}:{index}")``, so patient *i* is the same
whatever the cohort size, and the same seed gives the same cohort on every machine. Dates are
drawn on a fixed reference calendar (never "today") for the same reason; ``shift_days`` moves
a patient's every date by whole weeks afterwards (:mod:`trephine.demo.calendar`, ``trephine demo
--as-of``), which changes nothing else.

Nothing here is real. Names come from a short list of obviously made-up words, MRNs start with
``SYN``, ids with ``DEMO-``; trajectories are drawn from textbook courses, not from patients:

* AML, intensive induction ("7+3"): day-14 and day-28 marrows; complete remission (blasts < 5 %,
  ANC ≥ 1.0, platelets ≥ 100 ×10^9/L) then HiDAC consolidation, follow-up and a relapse more
  often after day-28 MRD positivity; or refractory disease and salvage.
* AML, less-intensive (azacitidine + venetoclax, 28-day cycles): marrows at the end of cycles 1
  and 4.
* FLT3-ITD AML: 7+3 + midostaurin, remission, relapse, gilteritinib, response and a second
  relapse with an emerging resistance mutation (NRAS G12D or FLT3 F691L) whose VAF rises.
* NPM1-mutated AML: NPM1/ABL1 % by qPCR after each cycle; in some a ≥ 1 log rise (molecular
  relapse) after a period of negativity, more often when blood MRD persists after course 2.
* MDS on azacitidine: baseline and cycle 4 / 6 marrows.
* Myeloma: VRd induction, autologous transplant, flow MRD at 10^-5.
* CLL: venetoclax–obinutuzumab, marrow and MRD at the end of therapy (uMRD4 = < 10^-4).
* B-ALL: induction with day-15 and day-29 marrows and flow MRD; consolidation; follow-up and a
  relapse more often after day-29 MRD positivity.
* Aplastic anemia: hATG + ciclosporin + eltrombopag; cellularity and counts (with automated
  reticulocytes) over time.
* Post-transplant: allogeneic HSCT with day +30 / +100 / +180 chimerism; donor % falls in some,
  more often after MRD positivity before the transplant.

Relapse follows MRD status as published evidence says it does (:mod:`trephine.demo.prognosis`).
* CAR-T: relapsed B-ALL, tisagenlecleucel, day-28 marrow.

The loader that writes these through the services is :mod:`trephine.demo.load`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

from trephine.demo.builder import Builder
from trephine.demo.calendar import check_shift, shifted
from trephine.demo.microenvironment import add_microenvironment
from trephine.demo.model import (
    _FAMILY,
    _GIVEN,
    _PATTERN,
    AMEND_FRACTION,
    DEFAULT_PATIENTS,
    DEFAULT_SEED,
    FIRST_DIAGNOSIS,
    LAST_DIAGNOSIS,
    Amendment,
    Scenario,
    SyntheticPatient,
    Visit,
)
from trephine.demo.scenarios.aml import (
    aml_flt3_resistance,
    aml_intensive,
    aml_less_intensive,
    aml_npm1_mrd,
)
from trephine.demo.scenarios.aplastic import aplastic_anemia
from trephine.demo.scenarios.cll import cll
from trephine.demo.scenarios.lymphoblastic import b_all, car_t
from trephine.demo.scenarios.mds import mds_hma
from trephine.demo.scenarios.myeloma import myeloma
from trephine.demo.scenarios.transplant import post_transplant
from trephine.demo.values import days_after
from trephine.domain import quantity as q
from trephine.domain.patient import Patient, PatientIdentity, Sex
from trephine.domain.results import AspirateDifferential, BloodCount, CellClass, ResultValue
from trephine.errors import ValidationError

_SCENARIOS = {
    Scenario.AML_INTENSIVE_CR: lambda b: aml_intensive(b, refractory=False),
    Scenario.AML_INTENSIVE_REFRACTORY: lambda b: aml_intensive(b, refractory=True),
    Scenario.AML_LESS_INTENSIVE: aml_less_intensive,
    Scenario.AML_FLT3_RESISTANCE: aml_flt3_resistance,
    Scenario.AML_NPM1_MRD: aml_npm1_mrd,
    Scenario.MDS_HMA: mds_hma,
    Scenario.MYELOMA: myeloma,
    Scenario.CLL: cll,
    Scenario.ALL: b_all,
    Scenario.APLASTIC_ANEMIA: aplastic_anemia,
    Scenario.POST_TRANSPLANT: post_transplant,
    Scenario.CAR_T: car_t,
}


# ------------------------------------------------------------------------ amendments


def _amend(rng: random.Random, value: ResultValue) -> Amendment | None:
    """A plausible correction of a signed-out result, or None for kinds not amended here."""
    if isinstance(value, BloodCount) and value.platelets is not None:
        # A transposed-digit typo in the platelet count, corrected on review.
        assert value.platelets.value is not None
        digits = str(int(value.platelets.value))
        swapped = digits[::-1].lstrip("0") or "1"
        if swapped == digits:
            swapped = str(int(digits) + rng.randint(5, 15))
        return Amendment(
            replace(value, platelets=q.PLATELETS.quantity(Decimal(swapped))),
            "Platelet count transcribed with digits transposed; corrected from the analyser "
            "printout.",
        )
    if isinstance(value, AspirateDifferential):
        counts = dict(value.counts)
        moved = min(rng.randint(3, 8), counts.get(CellClass.PROMYELOCYTE, 0))
        if moved == 0:
            return None
        # Second reviewer recounted: some cells called promyelocytes were blasts.
        counts[CellClass.PROMYELOCYTE] -= moved
        counts[CellClass.BLAST] = counts.get(CellClass.BLAST, 0) + moved
        return Amendment(
            AspirateDifferential(counts=counts, cells_counted=value.cells_counted),
            f"Second-reviewer recount: {moved} cells reclassified from promyelocytes to blasts.",
        )
    return None


def _with_amendments(rng: random.Random, visits: list[Visit]) -> list[Visit]:
    out = []
    for v in visits:
        results = []
        for res in v.results:
            amendment = _amend(rng, res.value) if rng.random() < AMEND_FRACTION * 2.5 else None
            results.append(replace(res, amendment=amendment))
        out.append(replace(v, results=tuple(results)))
    return out


# -------------------------------------------------------------------------- public API


def synthetic_patient(
    index: int, seed: int = DEFAULT_SEED, *, shift_days: int = 0
) -> SyntheticPatient:
    """Patient number ``index`` (0-based) of the cohort drawn with ``seed``, on the reference
    calendar moved by ``shift_days`` (a multiple of 7; :func:`trephine.demo.calendar.shift_for`
    gives it for an as-of day)."""
    if index < 0:
        raise ValidationError("index", index, "an integer ≥ 0")
    check_shift(shift_days)
    rng = random.Random(f"{seed}:{index}")
    scenario = _PATTERN[index % len(_PATTERN)]
    span = (LAST_DIAGNOSIS - FIRST_DIAGNOSIS).days
    diagnosed_on = days_after(FIRST_DIAGNOSIS, rng.randrange(span))
    sex = Sex.FEMALE if rng.random() < 0.45 else Sex.MALE
    age = int(min(max(rng.gauss(64, 13), 19), 88))
    b = Builder(
        rng,
        index,
        scenario,
        diagnosed_on,
        sex,
        diagnosed_on.year - age,
        outcome_rng=random.Random(f"{seed}:{index}:outcome"),
    )
    _SCENARIOS[scenario](b)
    visits = _with_amendments(rng, sorted(b.visits, key=lambda v: v.on))
    # The outcome stream's visits (relapse, follow-up: demo/prognosis.py) are amended from that
    # stream, so the name below is drawn as it was before they existed.
    later = _with_amendments(b.outcome_rng, b.outcome_visits)
    visits = sorted(visits + later, key=lambda v: v.on)
    # Immune panels and niche measurements (issue 14 §5), from a random stream of their own.
    visits = add_microenvironment(index, seed, scenario, visits)
    birth_year = b.birth_year
    given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
    identity = PatientIdentity(
        name=f"{family}, {given}",
        mrn=f"SYN{index + 1:07d}",
        birth_date=dt.date(birth_year, rng.randint(1, 12), rng.randint(1, 28)),
    )
    drawn = SyntheticPatient(
        index=index,
        scenario=scenario,
        patient=Patient(b.pid, sex, birth_year),
        identity=identity,
        diagnoses=tuple(b.diagnoses),
        therapy_lines=tuple(b.lines),
        cellular_therapies=tuple(sorted(b.cellular, key=lambda c: c.on)),
        visits=tuple(visits),
    )
    if not shift_days:
        return drawn
    # The birth date moves with the rest (ages on every date stay what they were); the year of
    # birth follows it.
    moved = shifted(drawn, shift_days)
    assert moved.identity.birth_date is not None
    return replace(
        moved,
        patient=replace(moved.patient, birth_year=moved.identity.birth_date.year),
        shift_days=shift_days,
    )


def generate_cohort(
    n: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED, *, shift_days: int = 0
) -> Iterator[SyntheticPatient]:
    """``n`` synthetic patients, lazily (so a loader can write them one transaction each), on
    the reference calendar moved by ``shift_days``."""
    if n < 1:
        raise ValidationError("patients", n, "an integer ≥ 1")
    check_shift(shift_days)
    for i in range(n):
        yield synthetic_patient(i, seed, shift_days=shift_days)
