"""The JSON API against a database holding the demo cohort (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from trephine.demo import Scenario


def assert_error(body: dict[str, Any], code: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape: {"error": {"code", "message", "field"?, "allowed"?}}, nothing more."""
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "field", "allowed"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error["field"] == field
    return error


def test_healthz_reports_a_migrated_reachable_database(demo: Any) -> None:
    r = demo.client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] is True and body["database"]["up_to_date"] is True


def test_list_returns_every_patient_in_id_order_with_paging(demo: Any) -> None:
    r = demo.client.get("/api/v1/patients", params={"limit": 7, "offset": 0})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == len(demo.cohort)
    ids = [p["id"] for p in body["items"]]
    expected = sorted(p.patient.external_id for p in demo.cohort)
    assert ids == expected[:7]
    rest = demo.client.get("/api/v1/patients", params={"limit": 100, "offset": 7}).json()
    assert [p["id"] for p in rest["items"]] == expected[7:]


def test_list_row_matches_what_was_loaded(demo: Any) -> None:
    sp = demo.cohort[0]
    body = demo.client.get("/api/v1/patients", params={"limit": 1}).json()
    row = body["items"][0]
    assert row["id"] == sp.patient.external_id
    assert row["sex"] == str(sp.patient.sex)
    assert row["birth_year"] == sp.patient.birth_year
    assert row["diagnosis"] == str(sp.diagnoses[-1].disease)
    procedures = [v for v in sp.visits if v.procedure is not None]
    assert row["last_biopsy"] == procedures[-1].on.isoformat()
    # The last differential, after any amendment, to one decimal.
    last_diff = [
        r for v in procedures for r in v.results if type(r.value).__name__ == "AspirateDifferential"
    ][-1]
    value = last_diff.amendment.value if last_diff.amendment else last_diff.value
    assert row["last_marrow_blasts"]["value"] == f"{value.blast_percent:.1f}"  # type: ignore[attr-defined]
    assert row["last_marrow_blasts"]["unit"] == "%"


def test_filter_by_diagnosis_counts_match_the_cohort(demo: Any) -> None:
    expected = Counter(str(p.diagnoses[-1].disease) for p in demo.cohort)
    for disease, n in expected.items():
        body = demo.client.get("/api/v1/patients", params={"diagnosis": disease}).json()
        assert body["total"] == n, disease
        assert {p["diagnosis"] for p in body["items"]} == {disease}
    # Case-insensitive, as a person would type it.
    assert demo.client.get("/api/v1/patients?diagnosis=aml").json()["total"] == expected["AML"]


def test_the_research_view_never_carries_names_or_mrns(demo: Any) -> None:
    texts = [demo.client.get("/api/v1/patients", params={"limit": 500}).text]
    for sp in demo.cohort[:5]:
        pid = sp.patient.external_id
        texts.append(demo.client.get(f"/api/v1/patients/{pid}/timeline").text)
        texts.append(demo.client.get(f"/api/v1/patients/{pid}").text)
        texts.append(demo.client.get(f"/patients/{pid}").text)
    texts.append(demo.client.get("/").text)
    blob = "\n".join(texts)
    for sp in demo.cohort:
        assert sp.identity.mrn not in blob
        assert sp.identity.name not in blob
        assert sp.identity.name.split(", ")[0] not in blob


def test_timeline_has_therapy_biopsies_events_and_results(demo: Any) -> None:
    sp = next(p for p in demo.cohort if p.scenario is Scenario.POST_TRANSPLANT)
    tl = demo.client.get(f"/api/v1/patients/{sp.patient.external_id}/timeline").json()
    assert [t["regimen"] for t in tl["therapy_lines"]] == [t.regimen for t in sp.therapy_lines]
    assert len(tl["biopsies"]) == sum(1 for v in sp.visits if v.procedure is not None)
    assert [e["kind"] for e in tl["events"]] == ["allogeneic transplant"]
    kinds = Counter(r["kind"] for r in tl["results"])
    assert kinds["chimerism"] >= 4 and kinds["differential"] >= 3
    assert len(tl["results"]) == sum(1 for _ in sp.results)
    assert all(r["state"] in {"verified", "amended"} for r in tl["results"])


def test_qualified_values_keep_their_qualifier(demo: Any) -> None:
    """'not detected' is a qualifier with the LOD, never a '<' folded into a string value."""
    found = 0
    for sp in demo.cohort:
        tl = demo.client.get(f"/api/v1/patients/{sp.patient.external_id}/timeline").json()
        for r in tl["results"]:
            v = r["value"]
            if v and v["qualifier"] == "not detected":
                assert v["value"] is None and v["lod"] is not None
                assert v["display"].startswith("not detected")
                found += 1
            if v and v["value"] is not None:
                float(v["value"])  # a number, never "<0.01"
    assert found > 0


def test_amended_results_show_the_new_version_and_keep_the_original(demo: Any) -> None:
    amended = [(sp, r) for sp in demo.cohort for r in sp.results if r.amendment is not None]
    assert amended, "the demo cohort amends some results"
    sp, res = amended[0]
    tl = demo.client.get(f"/api/v1/patients/{sp.patient.external_id}/timeline").json()
    shown = [r for r in tl["results"] if r["specimen"] == res.specimen and r["version"] == 2]
    assert len(shown) == 1
    current = shown[0]
    assert current["state"] == "amended"
    assert current["amended_by"] == "demo-reviewer"
    assert res.amendment is not None and current["amendment_reason"] == res.amendment.reason
    (original,) = current["history"]
    assert original["version"] == 1 and original["state"] == "superseded"
    assert original["reason"] == res.amendment.reason
    assert original["summary"] != current["summary"]


def test_patient_detail(demo: Any) -> None:
    sp = demo.cohort[3]
    body = demo.client.get(f"/api/v1/patients/{sp.patient.external_id}").json()
    assert body["patient"]["id"] == sp.patient.external_id
    assert [d["disease"] for d in body["diagnoses"]] == [str(d.disease) for d in sp.diagnoses]


def test_unknown_patient_is_a_404_in_the_one_error_shape(demo: Any) -> None:
    for path in ("/api/v1/patients/NOPE-1", "/api/v1/patients/NOPE-1/timeline"):
        r = demo.client.get(path)
        assert r.status_code == 404
        error = assert_error(r.json(), "not_found")
        assert "NOPE-1" in error["message"]


def test_bad_diagnosis_names_the_field_and_what_is_allowed(demo: Any) -> None:
    r = demo.client.get("/api/v1/patients", params={"diagnosis": "leukaemia"})
    assert r.status_code == 422
    error = assert_error(r.json(), "validation_error", field="diagnosis")
    assert "AML" in error["allowed"] and "aplastic anemia" in error["allowed"]
    assert "leukaemia" in error["message"]


def test_bad_paging_parameters_name_the_field_and_the_bound(demo: Any) -> None:
    r = demo.client.get("/api/v1/patients", params={"limit": 0})
    assert r.status_code == 422
    assert assert_error(r.json(), "validation_error", field="limit")["allowed"] == ">= 1"
    r = demo.client.get("/api/v1/patients", params={"offset": "x"})
    assert r.status_code == 422
    assert_error(r.json(), "validation_error", field="offset")


def test_unknown_api_path_is_json_404(demo: Any) -> None:
    r = demo.client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert_error(r.json(), "not_found")


def test_populations_and_measurements_in_the_timeline(demo: Any) -> None:
    """Issue 14: the demo's immune panels (AML, before and after therapy) and aplastic-anaemia
    niche measurements come through the API as results like the other kinds: every loaded value,
    with the Wilson interval and Cell Ontology id of a population, the index of a measurement."""
    from trephine.domain.populations import CELL_TYPES
    from trephine.domain.results import Measurement, Population
    from trephine.present.results import population_intervals

    def with_kind(kind: type) -> list[Any]:
        return [sp for sp in demo.cohort if any(isinstance(r.value, kind) for r in sp.results)]

    panels, niches = with_kind(Population), with_kind(Measurement)
    assert panels and niches, "the demo has immune panels and niche measurements"
    assert {str(sp.diagnoses[-1].disease) for sp in panels} == {"AML"}
    assert {sp.scenario for sp in niches} == {Scenario.APLASTIC_ANEMIA}
    for sp, kind, cls in (
        (panels[0], "population", Population),
        (niches[0], "measurement", Measurement),
    ):
        loaded = [r for r in sp.results if isinstance(r.value, cls)]
        tl = demo.client.get(f"/api/v1/patients/{sp.patient.external_id}/timeline").json()
        shown = [r for r in tl["results"] if r["kind"] == kind]
        assert len(shown) == len(loaded)
        by_key = {(r["specimen"], r["analyte"]): r for r in shown}
        for res in loaded:
            row = by_key[(res.specimen, res.value.analyte)]
            assert row["state"] in {"verified", "amended"}
            if isinstance(res.value, Population):
                assert row["detail"]["count"] == res.value.count
                derived = row["detail"]["derived"]
                expected = population_intervals(res.value)["of_parent"]
                assert derived["intervals"]["of_parent"]["text"] == expected["text"]
                assert derived["cell_ontology"]["id"] == CELL_TYPES[res.value.population].cl_id
            else:
                assert row["value"]["value"] == str(res.value.value.value)
                assert row["value"]["unit"] == res.value.value.unit
    # Before and after therapy: a panel patient's populations on more than one date.
    dates = {
        r["collected_on"]
        for r in demo.client.get(
            f"/api/v1/patients/{panels[0].patient.external_id}/timeline"
        ).json()["results"]
        if r["kind"] == "population"
    }
    assert len(dates) >= 2
