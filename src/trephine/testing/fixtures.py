"""Helpers for tests (Trephine's own and plugin authors'): a migrated database with the demo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trephine.assess.call import Calls
from trephine.demo import DEFAULT_SEED, SyntheticPatient, generate_cohort
from trephine.demo.load import LoadReport, load_cohort
from trephine.store.database import Database


@dataclass(frozen=True)
class LoadedCohort:
    url: str
    cohort: list[SyntheticPatient]
    report: LoadReport


def load_demo_database(
    url: str, patients: int = 20, seed: int = DEFAULT_SEED, *, shift_days: int = 0
) -> LoadedCohort:
    """Migrate the database at ``url`` and load ``patients`` synthetic patients into it.

    20 patients hold one of every scenario of the demo cohort. The dates are those of the
    reference calendar unless ``shift_days`` moves them (``trephine demo --as-of``;
    :func:`trephine.demo.calendar.shift_for`).
    """
    database = Database(url)
    try:
        database.upgrade()
        cohort = list(generate_cohort(patients, seed, shift_days=shift_days))
        report = load_cohort(database, cohort)
    finally:
        database.dispose()
    return LoadedCohort(url, cohort, report)


def assess_demo(
    url: str, patients: int = 240, params: Mapping[str, Any] | None = None
) -> dict[str, Calls]:
    """Load ``patients`` demo patients into the database at ``url`` and assess each as
    ``trephine assess --all`` does (its disease's assessor and the addenda, with the site
    ``params``), without storing the calls: each assessed patient's calls and alerts by id.
    A patient whose diagnoses no assessor takes is left out, as ``assess --all`` skips it.
    The default 240 patients hold every call kind (80 still lack a CAR-T relapse and an
    aplastic anaemia's clonal evolution)."""
    from trephine.assess.registry import choose
    from trephine.errors import CriteriaNotApplicable
    from trephine.services.assessments import load_all_inputs

    load_demo_database(url, patients)
    database = Database(url)
    try:
        with database.unit_of_work("test") as uow:
            inputs = load_all_inputs(uow)
    finally:
        database.dispose()
    out: dict[str, Calls] = {}
    for patient, found in inputs.items():
        try:
            assessor = choose(found.diagnoses)
        except CriteriaNotApplicable:
            continue
        out[patient] = assessor.run(found, params or {})
    return out
