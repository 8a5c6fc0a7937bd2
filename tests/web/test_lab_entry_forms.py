"""Every result entry form of the lab (web/lab.py) through the real app, signed in as lab: a
form saved half-way and resumed as typed, then checked and saved as a draft result with the
values typed; and for each form one bad input refused on its field, naming what is allowed,
with nothing stored. The uploads (FCS + Gating-ML for flow MRD, a variant file for NGS) go
through the same engines as the command line. (The differential's own walk, with its counting
grid and Wilson intervals, is in test_lab_pages.py.)"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.api.deps import CSRF_FIELD
from trephine.domain.results import ResultKind
from trephine.services import results
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database
from trephine.workflow import ResultState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path_factory.mktemp('entry') / 'entry.db'}"
    load_demo_database(url, 3, seed=5)
    app = create_app(url)
    yield app
    app.state.database.dispose()


@pytest.fixture(scope="module")
def lab(app: FastAPI) -> Iterator[TestClient]:
    with client_as(app, "lab") as client:
        yield client


@dataclass(frozen=True)
class Marrow:
    patient: str
    aspirate: str
    core: str
    blood: str


_made = iter(range(1, 1000))


def _marrow(app: FastAPI) -> Marrow:
    """A new marrow (aspirate, core, same-day blood) on a demo patient, nothing on it yet."""
    from trephine.domain import Procedure, Site, Specimen, SpecimenType
    from trephine.services import patients, procedures

    n = next(_made)
    at = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC) + dt.timedelta(days=n)
    names = Marrow("", f"ENT-{n}-A", f"ENT-{n}-C", f"ENT-{n}-PB")
    with app.state.database.unit_of_work("t") as uow:
        patient = patients.list_patients(uow)[0].patient_id
        proc, _ = procedures.record_procedure(
            uow, patient, Procedure(at, Site.POSTERIOR_ILIAC_CREST)
        )
        for accession, kind in (
            (names.aspirate, SpecimenType.ASPIRATE),
            (names.core, SpecimenType.TREPHINE_CORE),
            (names.blood, SpecimenType.PERIPHERAL_BLOOD),
        ):
            extra = {"first_pull": True} if kind is SpecimenType.ASPIRATE else {}
            procedures.add_specimen(uow, patient, Specimen(accession, kind, at, **extra), proc)
    return Marrow(patient, names.aspirate, names.core, names.blood)


def _token(client: TestClient) -> str:
    return client.headers["X-CSRF-Token"]


def _stored(app: FastAPI, patient: str, accession: str) -> list[results.StoredResult]:
    with app.state.database.unit_of_work("t") as uow:
        return [r for r in results.list_results(uow, patient=patient) if r.accession == accession]


@dataclass(frozen=True)
class Form:
    kind: ResultKind
    specimen: str  # which of the marrow's specimens: aspirate, core, blood
    partial: dict[str, str]  # saved half-way
    full: dict[str, str]  # checked and saved
    bad: dict[str, str]  # one field wrong
    field: str  # the field the error is on
    allowed: tuple[str, ...]  # what the error says is allowed
    check: dict[str, object]  # attribute of the stored value -> its text


FORMS = [
    Form(
        ResultKind.BLOOD_COUNT,
        "blood",
        {"wbc": "3.2"},
        {
            "wbc": "3.2",
            "wbc__unit": "10^9/L",
            "anc": "1.1",
            "platelets": "45",
            "hemoglobin": "9.1",
            "hemoglobin__unit": "g/dL",
            "transfusion_dependence": "platelets",
        },
        {"wbc": "3.2", "transfusion_dependence": "sometimes"},
        "transfusion_dependence",
        ("none", "red cells", "platelets", "red cells and platelets"),
        {"wbc": "3.2", "platelets": "45", "transfusion_dependence": "platelets"},
    ),
    Form(
        ResultKind.CORE,
        "core",
        {"cellularity": "40"},
        {"cellularity": "40", "fibrosis": "MF-1", "iron_grade": "2", "iron_scale": "Gale 0-6"},
        {"cellularity": "40", "fibrosis": "MF-4"},
        "fibrosis",
        ("MF-0", "MF-1", "MF-2", "MF-3"),
        {"cellularity": "40", "fibrosis": "MF-1", "iron_grade": "2"},
    ),
    Form(
        ResultKind.FLOW_MRD,
        "aspirate",
        {"mrd": "0.05"},
        {
            "mrd": "0.05",
            "mrd__unit": "%",
            "mrd__lod": "0.002",
            "mrd__lloq": "0.005",
            "method": "LAIP",
            "events_acquired": "1000000",
            "abnormal_events": "500",
        },
        {"mrd": "0.05", "method": "by eye"},
        "method",
        ("LAIP", "DfN", "LAIP+DfN"),
        {"mrd": "0.05", "method": "LAIP", "events_acquired": "1000000"},
    ),
    Form(
        ResultKind.MOLECULAR_MRD,
        "aspirate",
        {"marker": "NPM1 type A"},
        {
            "marker": "NPM1 type A",
            "ratio": "0.012",
            "ratio__unit": "%",
            "ratio__lod": "0.001",
            "control_gene": "ABL1",
            "sensitivity": "0.00001",
            "method": "qPCR",
        },
        {"marker": "NPM1 type A", "ratio": "0.012", "method": "PCR by hand"},
        "method",
        ("qPCR", "ddPCR", "NGS"),
        {"marker": "NPM1 type A", "ratio": "0.012", "control_gene": "ABL1", "method": "qPCR"},
    ),
    Form(
        ResultKind.KARYOTYPE,
        "aspirate",
        {"iscn": "46,XY"},
        {"iscn": "46,XY,t(9;22)(q34;q11.2)[20]", "metaphases": "20", "abnormal_metaphases": "20"},
        {"iscn": "46,XY,t(9;22(q34;q11.2)[20]", "metaphases": "20"},
        "iscn",
        ("ISCN",),
        {"iscn": "46,XY,t(9;22)(q34;q11.2)[20]", "metaphases": "20"},
    ),
    Form(
        ResultKind.NGS_VARIANT,
        "aspirate",
        {"gene": "NPM1"},
        {
            "gene": "NPM1",
            "hgvs": "c.860_863dup",
            "hgvs_protein": "p.Trp288CysfsTer12",
            "vaf": "38.5",
            "vaf__unit": "%",
            "depth": "1500",
        },
        {"gene": "NPM1", "hgvs": "c.860_863dup", "vaf": "38.5", "vaf__unit": "per mille"},
        "vaf",
        ("%",),
        {"gene": "NPM1", "hgvs": "c.860_863dup", "vaf": "38.5", "depth": "1500"},
    ),
    Form(
        ResultKind.CHIMERISM,
        "blood",
        {"donor_percent": "97"},
        {"donor_percent": "97", "donor_percent__unit": "%", "lineage": "CD3", "method": "STR"},
        {"donor_percent": "97", "lineage": "plasma"},
        "lineage",
        ("whole blood", "bone marrow", "CD3", "CD33", "CD19", "CD56", "CD34"),
        {"donor_percent": "97", "lineage": "CD3", "method": "STR"},
    ),
    # Issue 14: a counted population (the vocabulary as choices) and a measurement.
    Form(
        ResultKind.POPULATION,
        "aspirate",
        {"count": "60"},
        {
            "population": "regulatory T cells",
            "count": "60",
            "parent": "CD4 T cells",
            "parent_count": "500",
            "total": "CD45+ cells",
            "total_count": "4000",
            "method": "flow panel",
            "panel": "Treg tube",
        },
        # A check of the whole result, shown on the field it names, not on the first row's.
        {
            "population": "regulatory T cells",
            "count": "600",
            "parent": "CD4 T cells",
            "parent_count": "500",
            "method": "flow panel",
        },
        "count",
        ("≤ parent_count (500)",),
        {
            "population": "regulatory T cells",
            "count": "60",
            "parent": "CD4 T cells",
            "parent_count": "500",
            "total_count": "4000",
            "method": "flow panel",
            "panel": "Treg tube",
        },
    ),
    Form(
        ResultKind.MEASUREMENT,
        "core",
        {"microvessel_density": "12.5"},
        {
            "microvessel_density": "12.5",
            "method": "image analysis",
            "stain": "CD34",
            "area_mm2": "4.2",
            "objects_counted": "52",
        },
        {"microvessel_density": "-3", "method": "image analysis"},
        "microvessel_density",
        ("0–100000 vessels/mm2",),
        {
            "index": "microvessel density",
            "value": "12.5",
            "method": "image analysis",
            "stain": "CD34",
            "objects_counted": "52",
        },
    ),
]


def _accession(m: Marrow, which: str) -> str:
    return {"aspirate": m.aspirate, "core": m.core, "blood": m.blood}[which]


def _text(value: object) -> str:
    found = getattr(value, "value", value)  # a Quantity's value, an Enum's value
    if isinstance(found, Decimal):
        return format(found.normalize(), "f")
    return str(found)


@pytest.mark.parametrize("form", FORMS, ids=[f.kind.value for f in FORMS])
def test_save_resume_and_submit(app: FastAPI, lab: TestClient, form: Form) -> None:
    marrow = _marrow(app)
    accession = _accession(marrow, form.specimen)
    url = f"/lab/entry/{accession}/{form.kind.value}"
    page = lab.get(url)
    assert page.status_code == 200 and f'action="{url}"' in page.text
    # Saved half-way: kept as typed, not a result, and resumed on the next visit.
    kept = lab.post(url, data={CSRF_FIELD: _token(lab), "intent": "draft", **form.partial})
    assert kept.status_code == 200 and "Form saved at" in kept.text
    assert _stored(app, marrow.patient, accession) == []
    resumed = lab.get(url)
    assert "Resumed the form saved by test-lab" in resumed.text
    for name, typed in form.partial.items():
        assert f'value="{html.escape(typed)}"' in resumed.text, name
    # Checked and saved: a draft result holding exactly what was typed.
    saved = lab.post(
        url, data={CSRF_FIELD: _token(lab), "intent": "save", **form.full}, follow_redirects=False
    )
    assert saved.status_code == 303, re.findall(r"<li>.*?</li>", saved.text)[:5]
    result_id = int(saved.headers["location"].rsplit("/", 1)[1])
    (stored,) = _stored(app, marrow.patient, accession)
    assert stored.id == result_id and stored.kind is form.kind
    assert stored.state is ResultState.DRAFT
    for name, want in form.check.items():
        assert _text(getattr(stored.value, name)) == want, name
    # The saved form is gone once the result is recorded: the page now edits the draft result.
    again = lab.get(url)
    assert "Resumed the form" not in again.text
    assert lab.get(f"/results/{result_id}").status_code == 200


@pytest.mark.parametrize("form", FORMS, ids=[f.kind.value for f in FORMS])
def test_bad_input_is_refused_on_its_field_and_nothing_is_stored(
    app: FastAPI, lab: TestClient, form: Form
) -> None:
    marrow = _marrow(app)
    accession = _accession(marrow, form.specimen)
    url = f"/lab/entry/{accession}/{form.kind.value}"
    bad = lab.post(url, data={CSRF_FIELD: _token(lab), "intent": "save", **form.bad})
    assert bad.status_code == 422
    listed = re.search(rf'<a href="#f-{form.field}">[^<]*</a>: ([^<]*)</li>', bad.text)
    assert listed, re.findall(r"<li>.*?</li>", bad.text)[:5]
    message = html.unescape(listed.group(1))
    for allowed in form.allowed:
        assert allowed in message, (allowed, message)
    # Nothing was recorded; the rest of what was typed stays in the form to correct.
    assert _stored(app, marrow.patient, accession) == []
    for name, typed in form.bad.items():
        if name != form.field and not name.endswith("__unit"):
            assert f'value="{html.escape(typed)}"' in bad.text, name


def test_a_control_character_is_refused_on_its_field(app: FastAPI, lab: TestClient) -> None:
    """A NUL typed (or pasted) into a text field is refused like an import cell's, before it
    reaches the database (PostgreSQL cannot store it): when checked and saved, and when the form
    is kept to finish later."""
    marrow = _marrow(app)
    url = f"/lab/entry/{marrow.core}/core"
    typed = {"cellularity": "40", "infiltrate_type": "CLL\x00"}
    bad = lab.post(url, data={CSRF_FIELD: _token(lab), "intent": "save", **typed})
    assert bad.status_code == 422
    listed = re.search(r'<a href="#f-infiltrate_type">[^<]*</a>: ([^<]*)</li>', bad.text)
    assert listed and "control characters" in html.unescape(listed.group(1)), bad.text[-2000:]
    assert _stored(app, marrow.patient, marrow.core) == []
    # Saving the form to finish later is unchecked, but not for control characters either.
    kept = lab.post(url, data={CSRF_FIELD: _token(lab), "intent": "draft", **typed})
    assert kept.status_code == 422 and "Form saved at" not in kept.text
    assert "control characters" in html.unescape(kept.text)
    assert "Resumed the form" not in lab.get(url).text


def test_flow_mrd_from_an_uploaded_fcs_and_gating_ml(app: FastAPI, lab: TestClient) -> None:
    """The FCS tube and its Gating-ML strategy, computed by the engine of `trephine flow mrd`;
    the result keeps both files' SHA-256. A gate the strategy does not have is refused naming
    the gates it has, and nothing is stored."""
    import hashlib

    marrow = _marrow(app)
    url = f"/lab/entry/{marrow.aspirate}/flow_mrd/fcs"
    fcs = (EXAMPLES / "flow" / "tube.fcs").read_bytes()
    strategy = (EXAMPLES / "flow" / "strategy.xml").read_bytes()

    def upload(abnormal: str):  # type: ignore[no-untyped-def]
        return lab.post(
            url,
            data={
                CSRF_FIELD: _token(lab),
                "denominator": "CD45pos",
                "abnormal": abnormal,
                "method": "LAIP",
                "criteria": "AML",
            },
            files={
                "fcs": ("tube.fcs", fcs, "application/octet-stream"),
                "strategy": ("strategy.xml", strategy, "application/xml"),
            },
            follow_redirects=False,
        )

    bad = upload("NoSuchGate")
    assert bad.status_code == 422 and "FCS upload" in bad.text
    assert "NoSuchGate" in bad.text and "CD34pos_CD117pos" in html.unescape(bad.text)
    assert _stored(app, marrow.patient, marrow.aspirate) == []
    done = upload("CD34pos_CD117pos")
    assert done.status_code == 303, re.findall(r"<li>.*?</li>", done.text)[:5]
    (stored,) = _stored(app, marrow.patient, marrow.aspirate)
    assert stored.kind is ResultKind.FLOW_MRD and stored.state is ResultState.DRAFT
    value = stored.value
    assert value.events_acquired and value.abnormal_events is not None
    shown = repr(value)
    assert hashlib.sha256(fcs).hexdigest() in shown
    assert hashlib.sha256(strategy).hexdigest() in shown


def test_ngs_variants_from_an_uploaded_file(app: FastAPI, lab: TestClient, tmp_path: Path) -> None:
    """A one-sample variant TSV goes on this specimen as drafts, all or nothing: a file with a
    bad row is refused naming file, row and column, and nothing is stored."""
    marrow = _marrow(app)
    url = f"/lab/entry/{marrow.aspirate}/ngs_variant/file"
    header = "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf\n"
    good = (
        header
        + f"{marrow.patient}\tS1\t0\tNPM1\tNPM1:c.860_863dup\t600\t1500\t0.4000\n"
        + f"{marrow.patient}\tS1\t0\tDNMT3A\tDNMT3A:c.2645G>A\t450\t1500\t0.3000\n"
    )
    broken = good.replace("0.3000", "lots")

    def upload(text: str):  # type: ignore[no-untyped-def]
        return lab.post(
            url,
            data={CSRF_FIELD: _token(lab)},
            files={"variants": ("calls.tsv", text.encode(), "text/tab-separated-values")},
        )

    bad = upload(broken)
    assert bad.status_code == 422
    said = html.unescape(bad.text)
    assert "calls.tsv" in said and "vaf" in said and "lots" in said, re.findall(
        r"<li>.*?</li>", said
    )[:5]
    assert _stored(app, marrow.patient, marrow.aspirate) == []
    done = upload(good)
    assert done.status_code == 200 and "2 variant(s) recorded as drafts" in done.text
    stored = _stored(app, marrow.patient, marrow.aspirate)
    assert sorted(r.value.gene for r in stored) == ["DNMT3A", "NPM1"]
    assert all(r.state is ResultState.DRAFT for r in stored)


@pytest.mark.shared_data
def test_flow_mrd_from_an_uploaded_flowjo_workspace(
    app: FastAPI, lab: TestClient, real_data: Path
) -> None:
    """The real FlowJo workspace and FCS file the flow tests ship (FlowKit's diamond example:
    one sample, four quadrant gates whose counts FlowJo stored) uploaded through the lab's
    flow MRD form: the gates come from the workspace, so the denominator is FlowJo's own count
    of its gate. A gate the workspace lacks is refused naming the gates it has; another FCS
    file than the sample's (FlowJo recorded 200,000 events, the file has 100) is refused saying
    so, where it used to be gated and stored with a warning nobody saw. Nothing is stored
    from either refusal."""
    import hashlib

    folder = real_data / "flow" / "flowjo_wsp" / "simple_diamond_example"
    fcs = (folder / "test_data_diamond_01.fcs").read_bytes()
    wsp = (folder / "simple_diamond_example_quad_gate.wsp").read_bytes()
    marrow = _marrow(app)
    url = f"/lab/entry/{marrow.aspirate}/flow_mrd/fcs"

    def upload(abnormal: str, data: bytes = fcs, name: str = "diamond.fcs"):  # type: ignore[no-untyped-def]
        return lab.post(
            url,
            data={
                CSRF_FIELD: _token(lab),
                "denominator": "Q1: channel_A- , channel_B+",
                "abnormal": abnormal,
                "method": "LAIP",
                "criteria": "AML",
            },
            files={
                "fcs": (name, data, "application/octet-stream"),
                "strategy": ("quad.wsp", wsp, "application/xml"),
            },
            follow_redirects=False,
        )

    bad = upload("Q9: nowhere")
    assert bad.status_code == 422 and "FCS upload" in bad.text
    assert "Q2: channel_A+ , channel_B+" in html.unescape(bad.text)
    other = real_data / "flow/flowjo_wsp/simple_line_example/data_set_simple_line_100.fcs"
    wrong = upload("Q2: channel_A+ , channel_B+", other.read_bytes(), "line.fcs")
    assert wrong.status_code == 422
    text = html.unescape(wrong.text)
    assert "line.fcs: 100 events, but FlowJo recorded 200000" in text
    assert "nothing was stored" in text and "/tmp" not in text
    assert _stored(app, marrow.patient, marrow.aspirate) == []
    done = upload("Q2: channel_A+ , channel_B+")
    assert done.status_code == 303, re.findall(r"<li>.*?</li>", done.text)[:5]
    (stored,) = _stored(app, marrow.patient, marrow.aspirate)
    assert stored.kind is ResultKind.FLOW_MRD and stored.state is ResultState.DRAFT
    value = stored.value
    # Q1 holds 49,671 of the 200,000 events in FlowJo's own count; Q2 is another quadrant.
    assert (value.events_acquired, value.abnormal_events) == (49671, 0)
    shown = repr(value)
    assert hashlib.sha256(fcs).hexdigest() in shown and hashlib.sha256(wsp).hexdigest() in shown


def test_population_entry_offers_the_vocabulary_and_locates_each_error(
    app: FastAPI, lab: TestClient
) -> None:
    """The cell types, parents and totals are chosen from domain/populations.py; a value
    outside it (a forged post) and a total count without its total are refused on their
    fields, naming what is allowed; the result page shows the shares with their intervals."""
    from trephine.domain.populations import CELL_TYPES, TOTALS

    marrow = _marrow(app)
    url = f"/lab/entry/{marrow.aspirate}/population"
    page = lab.get(url).text
    for name, offered in (("population", CELL_TYPES), ("parent", (*TOTALS, *CELL_TYPES)),
                          ("total", TOTALS)):  # fmt: skip
        select = re.search(rf'<select id="f-{name}" name="{name}".*?</select>', page, re.S)
        assert select, name
        options = re.findall(r'<option value="([^"]+)"', select.group(0))
        assert options == [html.escape(o) for o in offered], name
    typed = {"population": "regulatory T cells", "count": "60", "parent": "CD4 T cells",
             "parent_count": "500", "method": "flow panel"}  # fmt: skip
    for wrong, field, allowed in (
        ({"population": "unicorns"}, "population", ("regulatory T cells", "NK cells")),
        ({"total_count": "4000"}, "total_count", ("given together with total",)),
        ({"parent": "nucleated cells", "total": "CD45+ cells", "total_count": "400"},
         "parent_count", ("≤ total_count (400)",)),
    ):  # fmt: skip
        bad = lab.post(url, data={CSRF_FIELD: _token(lab), "intent": "save", **typed, **wrong})
        assert bad.status_code == 422
        listed = re.search(rf'<a href="#f-{field}">[^<]*</a>: ([^<]*)</li>', bad.text)
        assert listed, (field, re.findall(r"<li>.*?</li>", bad.text)[:5])
        for text in allowed:
            assert text in html.unescape(listed.group(1)), (text, listed.group(1))
    assert _stored(app, marrow.patient, marrow.aspirate) == []
    saved = lab.post(
        url,
        data={
            CSRF_FIELD: _token(lab),
            "intent": "save",
            **typed,
            "total": "CD45+ cells",
            "total_count": "4000",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = html.unescape(lab.get(saved.headers["location"]).text)
    # 60/500 = 12 % (Wilson 95 %: 9.4-15.1 %), 60/4000 = 1.5 % (1.2-1.9 %).
    found = re.search(r"<p id=\"result-population\">([^<]*)</p>", shown)
    assert found, shown[-3000:]
    assert "60 of 500 CD4 T cells: 12.0 % (95 % CI 9.4–15.1 %)" in found.group(1), found.group(1)
    assert "1.5 % (95 % CI 1.2–1.9 %)" in found.group(1), found.group(1)
