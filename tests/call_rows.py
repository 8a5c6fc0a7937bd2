"""A stored call's row built directly (no evaluation), for tests that need calls in an exact
order and shape: a day's marrow and blood MRD calls, revisions, superseded rows
(tests/services/test_research_current.py, tests/services/test_export_current_calls.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from trephine.store.tables import AssessmentRow, DiagnosisRow, PatientRow

#: When every such row was computed (a fixed instant: the tests compare rows, not times).
COMPUTED_AT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def call_row(
    patient_id: int,
    on: dt.date,
    kind: str,
    category: str,
    *,
    ruleset: str,
    digest: str,
    sample: str | None = None,
    revision: int = 1,
    flags: Sequence[str] = (),
    value: tuple[str, Any] = ("blasts_pct", 0),
) -> AssessmentRow:
    """A row of an ELN 2022 edition call: one evidence item ``value`` (input, value), then the
    item naming its ``sample`` when it has one (as assess.call.on_sample ends an MRD call's)."""
    evidence: list[dict[str, Any]] = [
        {"input": value[0], "value": value[1], "comparator": None, "threshold": None}
    ]
    if sample is not None:
        evidence.append({"input": "sample", "value": sample, "comparator": None, "threshold": None})
    return AssessmentRow(
        patient_id=patient_id,
        assessed_on=on,
        category=category,
        ruleset=ruleset,
        criteria_edition="ELN 2022",
        matched_rule=None,
        evidence=evidence,
        missing_inputs=[],
        software_version="t",
        computed_at=COMPUTED_AT,
        recorded_by="t",
        flags=list(flags),
        params={},
        call_kind=kind,
        inputs_digest=digest,
        revision=revision,
    )


#: A patient's calls as (day after 2024-01-01, kind, category, sample, revision, flags).
CallSpec = tuple[int, str, str, str | None, int, Sequence[str]]
#: Day 0 of :func:`add_aml_patients`: the diagnosis, and the calls' days count from it.
DAY0 = dt.date(2024, 1, 1)


def add_aml_patients(
    session: Session,
    patients: Mapping[str, Sequence[CallSpec]],
    *,
    ruleset: Callable[[str], str],
    value_input: str,
) -> None:
    """Each patient (female, born 1960) with an AML diagnosis on :data:`DAY0` and its calls in
    the order given, the row ids following it; the ``i``-th call's evidence value is ``i``
    (``value_input``), its rule set ``ruleset(category)``."""
    for pid, rows in patients.items():
        p = PatientRow(external_id=pid, sex="female", birth_year=1960, created_at=COMPUTED_AT)
        session.add(p)
        session.flush()
        session.add(
            DiagnosisRow(
                patient_id=p.id,
                disease="AML",
                classification="WHO 5th",
                diagnosed_on=DAY0,
                genetics=[],
            )
        )
        for i, (day, kind, cat, sample, revision, flags) in enumerate(rows):
            session.add(
                call_row(
                    p.id,
                    DAY0 + dt.timedelta(days=day),
                    kind,
                    cat,
                    ruleset=ruleset(cat),
                    digest=f"{pid}-{i}",
                    sample=sample,
                    revision=revision,
                    flags=flags,
                    value=(value_input, i),
                )
            )
            # One row at a time, so that the row ids follow the order given.
            session.flush()
