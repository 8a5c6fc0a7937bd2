"""The order in which results were stored never changes a stored-timeline call (Hypothesis),
checked on the synthetic demo cohort's AML patients, without a database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trephine.assess import aml
from trephine.assess.inputs import PatientInputs, SpecimenFacts
from trephine.demo import generate_cohort
from trephine.domain.patient import Disease
from trephine.services.views import StoredResult
from trephine.workflow import ResultState


def _inputs() -> list[PatientInputs]:
    out = []
    for sp in generate_cohort(40, seed=11):
        if not sp.diagnoses or sp.diagnoses[-1].disease is not Disease.AML:
            continue
        specimens: dict[str, SpecimenFacts] = {}
        stored: list[StoredResult] = []
        for visit in sp.visits:
            for spec in visit.specimens:
                specimens[spec.accession] = SpecimenFacts(spec.accession, spec.type, spec.spicules)
            for result in visit.results:
                stored.append(
                    StoredResult(
                        id=len(stored) + 1,
                        patient_id=sp.patient.external_id,
                        accession=result.specimen,
                        kind=result.value.kind,
                        analyte=result.value.analyte,
                        collected_on=visit.on,
                        version=1,
                        state=ResultState.VERIFIED,
                        value=result.value,
                        created_by="t",
                        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                    )
                )
        out.append(
            PatientInputs(
                sp.patient.external_id,
                tuple(sp.diagnoses),
                tuple(sp.therapy_lines),
                specimens,
                tuple(stored),
            )
        )
    return out


COHORT = _inputs()


def keys(inputs: PatientInputs) -> list[tuple[str, ...]]:
    return sorted(a.key() for a in aml.assess(inputs, {}).calls)


@pytest.mark.skipif(not COHORT, reason="no AML patient in the synthetic sample")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_storage_order_does_not_change_a_call(data: st.DataObject) -> None:
    patient = data.draw(st.sampled_from(COHORT))
    shuffled = data.draw(st.permutations(patient.results))
    assert keys(replace(patient, results=tuple(shuffled))) == keys(patient)
