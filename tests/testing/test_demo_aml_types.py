"""The demo's AML types are the WHO 5th names its karyotypes give: DEMO-0001 (t(8;21)) read
"AML, defined by differentiation", a type WHO 5th keeps for AML without a defining genetic
abnormality, and the diagnostic criteria's own WHO5-RUNX1_RUNX1T1 row says otherwise."""

from __future__ import annotations

from trephine.demo import generate_cohort, synthetic_patient
from trephine.domain.patient import Disease


def test_a_core_binding_factor_karyotype_names_its_fusion() -> None:
    seen = set()
    for patient in generate_cohort(240):
        for d in patient.diagnoses:
            if d.disease is not Disease.AML or not d.karyotype:
                continue
            if "t(8;21)" in d.karyotype:
                assert d.subtype == "AML with RUNX1::RUNX1T1 fusion", (d.karyotype, d.subtype)
            elif "inv(16)" in d.karyotype:
                assert d.subtype == "AML with CBFB::MYH11 fusion", (d.karyotype, d.subtype)
            else:
                assert "fusion" not in (d.subtype or "")
            assert d.subtype != "AML with myelodysplasia-related changes"  # WHO 2016's name
            seen.add(d.subtype)
    assert {"AML with RUNX1::RUNX1T1 fusion", "AML with CBFB::MYH11 fusion"} <= seen
    first = synthetic_patient(0).diagnoses[0]
    assert "t(8;21)" in (first.karyotype or "")
    assert first.subtype == "AML with RUNX1::RUNX1T1 fusion"
