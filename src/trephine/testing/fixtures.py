"""Helpers for tests (Trephine's own and plugin authors'): a migrated database with the demo."""

from __future__ import annotations

from dataclasses import dataclass

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
