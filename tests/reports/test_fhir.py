"""FHIR R4 bundles: validated with fhir.resources (R4B), codes and UCUM units on every value, a
round trip that reads the same values back, identity only for the identified view."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from trephine.domain import quantity as quantity_module
from trephine.domain import results as results_module
from trephine.domain.quantity import Measure, Quantity
from trephine.domain.report import ReportStatus
from trephine.present import fhir
from trephine.services import reports, results
from trephine.testing.report_seed import Seeded, differential


def _issue(seeded: Seeded, status: ReportStatus = ReportStatus.FINAL, **kw: Any) -> None:
    with seeded.database.unit_of_work("dr.path") as uow:
        reports.issue_report(uow, seeded.procedure, status, **kw)


def _bundle(seeded: Seeded, identified: bool = False, **kw: Any) -> dict[str, Any]:
    with seeded.database.unit_of_work("reader") as uow:
        doc = reports.marrow_report(uow, seeded.procedure, identified=identified)
    ref = (
        fhir.identified_patient(doc.patient, doc.identity)
        if identified
        else fhir.pseudonymised_patient(doc.patient)
    )
    return fhir.report_bundle(doc, patient=ref, **kw)


def _expected(seeded: Seeded) -> dict[str, Any]:
    """Every reported value of the signed-out results, by Observation identifier."""
    out: dict[str, Any] = {}
    with seeded.database.unit_of_work("reader") as uow:
        for r in results.patient_results(uow, "P001"):
            if str(r.state) == "draft":
                continue
            for v in fhir.values(r.value):
                out[f"{r.id}/{v.key}"] = v.value
    return out


def test_report_bundle_validates_and_every_observation_is_coded(seeded: Seeded) -> None:
    _issue(seeded, diagnosis="AML with NPM1 mutation", diagnosis_classification="WHO 5th")
    bundle = _bundle(seeded)
    model = fhir.validate(bundle)
    assert model.type == "collection"
    (report,) = fhir.resources(bundle, "DiagnosticReport")
    assert report["status"] == "final"
    assert report["code"]["coding"][0]["code"] == "33721-2"
    assert report["conclusion"].startswith("AML with NPM1 mutation (WHO 5th)")
    observations = fhir.resources(bundle, "Observation")
    assert len(report["result"]) == len(observations)
    for obs in observations:
        assert obs["code"]["coding"], obs["id"]
        assert any(c["system"] == "urn:trephine:local" for c in obs["code"]["coding"])
        q = obs.get("valueQuantity")
        if q is not None:
            assert q["system"] == "http://unitsofmeasure.org" and q["code"], obs["id"]
    (mrd,) = [o for o in observations if o["id"].endswith("-mrd")]
    assert mrd["valueQuantity"]["comparator"] == "<" and mrd["valueQuantity"]["code"] == "%"
    (variant,) = [o for o in observations if o["id"].endswith("-variant")]
    vaf = [c for c in variant["component"] if c["code"]["coding"][0]["code"] == "81258-6"]
    assert vaf[0]["valueQuantity"]["value"] == Decimal("0.385")
    assert vaf[0]["valueQuantity"]["code"] == "1"
    blood = {
        o["code"]["coding"][0]["code"]
        for o in observations
        if o["code"]["coding"][-1]["code"].startswith("blood_count.")
    }
    assert {"718-7", "6690-2"} <= blood
    assert len(fhir.resources(bundle, "Specimen")) == 3
    (proc,) = fhir.resources(bundle, "Procedure")
    assert proc["code"]["coding"][0]["code"] == "234326005"
    assert proc["bodySite"][0] == {"text": "posterior iliac crest"}  # no code exists for it


def test_round_trip_reads_the_same_values(seeded: Seeded) -> None:
    _issue(seeded)
    text = fhir.dumps(_bundle(seeded))
    back = fhir.loads(text)
    found: dict[str, Any] = {}
    for entry in back.entry:
        res = entry.resource
        if res.get_resource_type() != "Observation" or not res.identifier:
            continue
        key = res.identifier[0].value
        if res.valueQuantity is not None:
            vq = res.valueQuantity
            found[key] = (Decimal(str(vq.value)), vq.code, vq.comparator)
        elif res.valueCodeableConcept is not None:
            found[key] = res.valueCodeableConcept.coding[0].code
        elif res.valueString is not None:
            found[key] = res.valueString
        elif res.valueBoolean is not None:
            found[key] = res.valueBoolean
        elif res.valueInteger is not None:
            found[key] = res.valueInteger
    expected = _expected(seeded)
    assert set(found) == set(expected)
    for key, value in expected.items():
        if isinstance(value, Quantity):
            comparator = {"<": "<", ">": ">"}.get(value.qualifier.value)
            assert found[key] == (value.value, fhir.ucum(value.unit), comparator), key
        elif hasattr(value, "code"):
            assert found[key] == value.code, key
        else:
            assert found[key] == value, key


def test_amended_version_status_and_observation(seeded: Seeded) -> None:
    _issue(seeded)
    with seeded.database.unit_of_work("dr.amend") as uow:
        amended = results.amend_result(uow, seeded.ids["differential"], differential(60), "recount")
    _issue(seeded, ReportStatus.AMENDED, reason="blasts recounted")
    bundle = _bundle(seeded)
    (report,) = fhir.resources(bundle, "DiagnosticReport")
    assert report["status"] == "amended" and report["id"].endswith("-v2")
    blasts = [
        o
        for o in fhir.resources(bundle, "Observation")
        if o["id"] == f"res-{amended.id}-percent-blast"
    ]
    assert blasts and blasts[0]["status"] == "amended"
    assert blasts[0]["valueQuantity"]["value"] == Decimal("12.0")
    assert {"text": "amended: recount"} in blasts[0]["note"]


def test_identity_only_in_the_identified_view(seeded: Seeded) -> None:
    _issue(seeded)
    plain = json.dumps(_bundle(seeded), default=str)
    assert "Synthetic Person" not in plain and "MRN-0001" not in plain and "1961-05-06" not in plain
    (patient,) = fhir.resources(_bundle(seeded), "Patient")
    assert patient["birthDate"] == "1961" and "name" not in patient
    identified = _bundle(seeded, identified=True)
    (patient,) = fhir.resources(identified, "Patient")
    assert patient["name"] == [{"text": "Synthetic Person"}]
    assert {"system": fhir.MRN_SYSTEM, "value": "MRN-0001"} in patient["identifier"]


def test_date_policies(seeded: Seeded) -> None:
    _issue(seeded)
    year = _bundle(seeded, dates=fhir.YearOnly())
    fhir.validate(year)
    for entry in year["entry"]:
        res = entry["resource"]
        assert "issued" not in res
        for key in ("effectiveDateTime", "performedDateTime", "onsetDateTime", "birthDate"):
            if key in res:
                assert res[key] == "2024" or res[key] == "1961", (res["id"], key)
    shifted = _bundle(seeded, dates=fhir.Shifted(-10))
    (proc,) = fhir.resources(shifted, "Procedure")
    assert proc["performedDateTime"].startswith("2024-02-23T09:30")


def test_unverified_codes_can_be_left_out(seeded: Seeded) -> None:
    _issue(seeded)
    bundle = _bundle(seeded, unverified_codes="omit")
    codes = {
        c["code"]
        for o in fhir.resources(bundle, "Observation")
        for c in o["code"]["coding"]
        if c["system"] == "http://loinc.org"
    }
    assert "67128-9" not in codes and "11150-0" not in codes  # unverified
    assert "718-7" in codes  # verified


def test_relative_references_for_the_api(seeded: Seeded) -> None:
    _issue(seeded)
    bundle = _bundle(seeded, references="relative", base_url="http://h/fhir/r4")
    (report,) = fhir.resources(bundle, "DiagnosticReport")
    assert report["subject"]["reference"] == "Patient/P001"
    assert bundle["entry"][0]["fullUrl"] == "http://h/fhir/r4/Patient/P001"


def test_validate_refuses_what_fhir_resources_lets_through() -> None:
    bad = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "id": "x",
                    "status": "bogus",
                    "code": {"text": "x"},
                }
            }
        ],
    }
    with pytest.raises(ValueError, match="status 'bogus'"):
        fhir.validate(bad)
    del bad["entry"][0]["resource"]["status"]
    with pytest.raises(ValueError):
        fhir.validate(bad)


def test_every_canonical_unit_has_a_ucum_code() -> None:
    measures = [
        m
        for module in (quantity_module, results_module)
        for m in vars(module).values()
        if isinstance(m, Measure)
    ]
    assert len(measures) > 10
    for m in measures:
        assert fhir.ucum(m.unit)
    with pytest.raises(ValueError, match="no UCUM code"):
        fhir.ucum("furlongs")


def test_populations_and_measurements_are_observations(seeded: Seeded) -> None:
    """Issue 14: the two microenvironment kinds reach the FHIR API and bundles like the other
    kinds (they were left out): a population's % of parent and of the total with the counts
    and the 95 % Wilson interval, a measurement's value in UCUM with its method and flags."""
    from trephine.testing.report_seed import microvessel_density, regulatory_t_cells

    treg = regulatory_t_cells()
    mvd = microvessel_density(stain="CD34", flags=("detector note",))
    with seeded.database.unit_of_work("lab") as uow:
        ids = [results.record_result(uow, acc, v)[0].id for acc, v in (("A-1", treg), ("C-1", mvd))]
    with seeded.database.unit_of_work("dr.verify") as uow:
        for rid in ids:
            results.verify_result(uow, rid)
    _issue(seeded)
    bundle = _bundle(seeded)
    fhir.validate(bundle)
    by_id = {o["identifier"][0]["value"]: o for o in fhir.resources(bundle, "Observation")}
    parent = by_id[f"{ids[0]}/percent_of_parent"]
    assert parent["valueQuantity"]["value"] == Decimal("6.2")
    assert parent["code"]["text"] == "regulatory T cells (% of CD4 T cells)"
    assert parent["note"][0]["text"].startswith("310 of 5000 cells; 95 % Wilson interval 5.6–6.9 %")
    total = by_id[f"{ids[0]}/percent_of_total"]
    assert total["valueQuantity"]["value"] == Decimal("0.8")
    assert by_id[f"{ids[0]}/count"]["valueQuantity"]["value"] == Decimal(310)
    vessels = by_id[f"{ids[1]}/value"]
    assert vessels["valueQuantity"] == {
        "value": Decimal("17.7"),
        "unit": "vessels/mm2",
        "system": "http://unitsofmeasure.org",
        "code": "{vessels}/mm2",
    }
    assert vessels["note"][0]["text"] == "image analysis; whole core; CD34; detector note"


def test_a_myeloma_progression_is_the_disease_status_of_its_day() -> None:
    """A progression call that stands for the patient's state (PD to confirm, or confirmed) is
    exported as a CancerDiseaseStatus, worsened, in place of the response call of its day, which
    is then not current (one assessment, one story); a progression not met says nothing."""
    import datetime as dt

    from trephine.assess.call import Call
    from trephine.assess.story import SUPERSEDED
    from trephine.domain.assessment import Assessment
    from trephine.services.views import StoredAssessment

    def stored(n: int, kind: str, category: str, day: int, *flags: str) -> StoredAssessment:
        on = dt.date(2024, 1, 1) + dt.timedelta(days=day)
        a = Assessment(
            category, "IMWG2016", "IMWG2016", on, "0.1", dt.datetime(2024, 9, 1, tzinfo=dt.UTC),
            flags=flags,
        )  # fmt: skip
        call = Call(on, kind, category, "IMWG2016", "IMWG2016", "0.1", flags=flags)
        return StoredAssessment(n, "P1", a, call, "test", kind)

    class Recorder:
        def __init__(self) -> None:
            self.shown: list[tuple[str, str]] = []

        def disease_status(self, s: StoredAssessment, _condition: str | None) -> str:
            self.shown.append(
                (s.assessment.category, fhir.status_code(s.assessment.category).display)
            )
            return ""

    b = Recorder()
    fhir._statuses(
        b,  # type: ignore[arg-type]
        [
            stored(1, "response", "VGPR", 100),
            stored(2, "progression", "NOT_MET", 100),
            stored(3, "response", "PR", 200, SUPERSEDED),
            stored(4, "progression", "PD_UNCONFIRMED", 200),
            stored(5, "progression", "PD_CONFIRMED", 260),
        ],
        {},
    )
    worsened = fhir.STATUS_WORSENED.display
    assert b.shown == [
        ("VGPR", fhir.STATUS_PARTIAL_REMISSION.display),
        ("PD_UNCONFIRMED", worsened),
        ("PD_CONFIRMED", worsened),
    ]
