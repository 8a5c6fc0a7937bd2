"""The synthetic demo cohort: a seeded generator split by scenario, and its loader.

* :mod:`trephine.demo.model` — the cohort's calendar, scenarios and synthetic records;
* :mod:`trephine.demo.values` and :mod:`trephine.demo.builder` — numbers and the per-patient
  builder the scenarios share;
* :mod:`trephine.demo.scenarios` — one module per clinical course (AML, MDS, myeloma, CLL,
  B-ALL and CAR-T, aplastic anaemia, allogeneic transplant);
* :mod:`trephine.demo.cohort` — :func:`generate_cohort` / :func:`synthetic_patient` (pure);
* :mod:`trephine.demo.load` — writes a cohort through the services (``trephine demo``).

Patient *i* of seed *s* is drawn from ``random.Random(f"{s}:{i}")`` in a fixed order of draws;
``tests/testing/test_cohort.py`` and ``test_demo_calls.py`` guard that the cohort never changes.
"""

from __future__ import annotations

from trephine.demo.cohort import generate_cohort, synthetic_patient
from trephine.demo.model import (
    COHORT_END,
    DEFAULT_PATIENTS,
    DEFAULT_SEED,
    FIRST_DIAGNOSIS,
    ID_PREFIX,
    LAST_DIAGNOSIS,
    Amendment,
    Scenario,
    SyntheticPatient,
    SyntheticResult,
    Visit,
)
from trephine.demo.values import differential

__all__ = [
    "COHORT_END",
    "DEFAULT_PATIENTS",
    "DEFAULT_SEED",
    "FIRST_DIAGNOSIS",
    "ID_PREFIX",
    "LAST_DIAGNOSIS",
    "Amendment",
    "Scenario",
    "SyntheticPatient",
    "SyntheticResult",
    "Visit",
    "differential",
    "generate_cohort",
    "synthetic_patient",
]
