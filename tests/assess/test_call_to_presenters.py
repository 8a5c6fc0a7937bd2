"""One typed call from the engine to the presenters (issue 13 §1).

The :class:`trephine.assess.call.Call` objects an evaluator returns are the ones the stored view
carries to ``present.assessments`` (no dict round trip in between), and a call read back from
the store is the same call (equal fields, the stored digest) with the same public JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assess.test_issue13_acceptance import Site
from trephine.assess.call import Call, Calls
from trephine.assess.inputs import PatientInputs
from trephine.assess.registry import lookup
from trephine.importers.clinical import import_path
from trephine.present.assessments import assessment_dict
from trephine.services.assessments import assess_patient, patient_assessments
from trephine.store.database import Database

D = dt.date


def test_the_engines_call_objects_reach_the_presenter_and_read_back_equal(
    database: Database, tmp_path: Path
) -> None:
    site = Site()
    site.add("patients", "P-ALL", "female", 1990)
    site.add("diagnoses", "P-ALL", "ALL", D(2024, 1, 1))
    site.add("therapies", "P-ALL", 1, "hyper-CVAD", "curative", "intensive", D(2024, 1, 2), "")
    site.marrow("P-ALL", D(2024, 1, 1), 80)
    site.marrow("P-ALL", D(2024, 2, 1), 2, mrd="0.5")
    site.marrow("P-ALL", D(2024, 6, 1), 39, anc="0.8", plt="60")
    import_path(database, site.write(tmp_path / "import"), "importer")
    computed: list[Call] = []

    def evaluator(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
        calls = lookup("ALL").run(inputs, params)
        computed.extend(calls.calls)
        return calls

    with database.unit_of_work("clinician") as uow:
        run = assess_patient(uow, "P-ALL", evaluator=evaluator)
        fresh = {s.id: s for s in run.assessments}
        # The very objects the evaluator returned, carried to the stored view.
        assert [s.call for s in run.assessments] == computed
        assert all(a.call is c for a, c in zip(run.assessments, computed, strict=True))
        assert all(s.call.digest == s.inputs_digest != "" for s in run.assessments)
    with database.unit_of_work("reader") as uow:
        again = patient_assessments(uow, "P-ALL")
    assert {s.id for s in again} == set(fresh)
    for s in again:
        assert s.call == fresh[s.id].call  # rebuilt from the row: same fields, same digest
        assert assessment_dict(s) == assessment_dict(fresh[s.id])
    relapse = next(s for s in again if s.call.kind == "relapse" and s.call.date == D(2024, 6, 1))
    shown = assessment_dict(relapse)
    assert (shown["call"], shown["category"], shown["date"]) == (
        "relapse",
        "HEMATOLOGIC_RELAPSE",
        "2024-06-01",
    )
