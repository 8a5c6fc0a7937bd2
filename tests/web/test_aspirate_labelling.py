"""The aspirate labelling page (web/aspirate.py) through the real app: a lab user uploads an
image, labels cells, and records a draft differential with its provenance; bad classes,
points outside the image and unreadable files are refused on their line or file with nothing
stored; a clinician is refused; the site's ONNX classifier (a tiny model built in the test)
proposes classes that the user keeps or changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from trephine.api.app import create_app
from trephine.domain.results import AspirateDifferential, CellClass, ResultKind
from trephine.services import results
from trephine.settings import Settings
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database
from trephine.workflow import ResultState


def _png() -> bytes:
    """60×40 white image with a red cell at (10, 10), green at (30, 20), blue at (50, 30)."""
    rgb = np.full((40, 60, 3), 255, np.uint8)
    for (x, y), colour in zip(
        ((10, 10), (30, 20), (50, 30)), ((255, 0, 0), (0, 255, 0), (0, 0, 255)), strict=True
    ):
        rgb[y - 5 : y + 5, x - 5 : x + 5] = colour
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    folder = tmp_path_factory.mktemp("aspirate")
    url = f"sqlite:///{folder / 'aspirate.db'}"
    load_demo_database(url, 3, seed=5)
    model = None
    try:
        from trephine.testing.aspirate import tiny_colour_model

        model = str(tiny_colour_model(folder / "tiny.onnx"))
    except ImportError:
        pass
    app = create_app(settings=Settings(database_url=url, aspirate_model=model))
    yield app
    app.state.database.dispose()


@pytest.fixture(scope="module")
def lab(app: FastAPI) -> Iterator[TestClient]:
    with client_as(app, "lab") as client:
        yield client


_made = iter(range(1, 1000))


def _aspirate(app: FastAPI) -> tuple[str, str]:
    """A new aspirate on a demo patient with nothing on it: (patient, accession)."""
    from trephine.domain import Procedure, Site, Specimen, SpecimenType
    from trephine.services import patients, procedures

    n = next(_made)
    at = dt.datetime(2025, 7, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(days=n)
    with app.state.database.unit_of_work("t") as uow:
        patient = patients.list_patients(uow)[0].patient_id
        proc, _ = procedures.record_procedure(
            uow, patient, Procedure(at, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, patient, Specimen(f"IMG-{n}-A", SpecimenType.ASPIRATE, at, first_pull=True), proc
        )
    return patient, f"IMG-{n}-A"


def _stored(app: FastAPI, patient: str, accession: str) -> list[results.StoredResult]:
    with app.state.database.unit_of_work("t") as uow:
        return [r for r in results.list_results(uow, patient=patient) if r.accession == accession]


def _token(client: TestClient) -> str:
    return client.headers["X-CSRF-Token"]


def _upload(client: TestClient, accession: str, name: str = "smear.png", data: bytes = PNG):
    return client.post(
        "/lab/aspirate",
        data={"specimen": accession, "csrf_token": _token(client)},
        files={"image": (name, data, "application/octet-stream")},
    )


def _carried(page: str) -> dict[str, list[str]]:
    """The hidden fields of the labelling form, as the browser would send them back."""
    form = page[page.index('id="aspirate-labels"') :]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        fields.setdefault(name, []).append(html.unescape(value))
    return fields


def test_a_lab_user_labels_an_image_and_records_a_draft_differential(
    app: FastAPI, lab: TestClient
) -> None:
    patient, accession = _aspirate(app)
    page = lab.get("/lab/aspirate")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    shown = _upload(lab, accession)
    assert shown.status_code == 200, shown.text
    assert 'src="data:image/png;base64,' in shown.text and "60 × 40 px" in shown.text
    assert "aspirate.js" in shown.text and "<script>" not in shown.text  # no inline script
    fields = _carried(shown.text)
    labels = "10,10,blasts\n12,9,blasts\n30,20,lymphocytes\n50,30,neutrophils\n"
    done = lab.post(
        "/lab/aspirate/labels",
        data={**fields, "specimen": accession, "labels": labels, "intent": "record"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    (stored,) = _stored(app, patient, accession)
    assert stored.state is ResultState.DRAFT and stored.kind is ResultKind.DIFFERENTIAL
    value = stored.value
    assert isinstance(value, AspirateDifferential)
    assert value.cells_counted == 4
    assert dict(value.counts) == {
        CellClass.BLAST: 2,
        CellClass.LYMPHOCYTE: 1,
        CellClass.NEUTROPHIL: 1,
    }
    labelling = value.labelling
    assert labelling is not None
    assert labelling.source_sha256 == hashlib.sha256(PNG).hexdigest()
    assert labelling.source_file == "smear.png" and (labelling.width, labelling.height) == (60, 40)
    assert labelling.labelled_by == "test-lab" and len(labelling.cells) == 4
    assert labelling.model is None and labelling.proposals == 0
    # The result page shows the counts with their Wilson intervals (2 of 4 blasts: 15.0–85.0 %).
    result = lab.get(done.headers["location"])
    assert result.status_code == 200
    assert "15.0" in result.text and "85.0" in result.text
    assert "Counted on the image smear.png (60 × 40 px" in html.unescape(result.text)
    assert "by test-lab, 4 cells labelled." in html.unescape(result.text)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("10,10,blasts\n11,11,dragons\n", ["row 2", "class", "plasma cells"]),
        ("10,10,blasts\n60,5,blasts\n", ["row 2", "x", "0 to 59"]),
        ("10,40,blasts\n", ["row 1", "y", "0 to 39"]),
        ("", ["no cell labelled"]),
    ],
)
def test_bad_labels_are_refused_on_their_line_and_nothing_is_stored(
    app: FastAPI, lab: TestClient, labels: str, expected: list[str]
) -> None:
    patient, accession = _aspirate(app)
    fields = _carried(_upload(lab, accession).text)
    refused = lab.post(
        "/lab/aspirate/labels",
        data={**fields, "specimen": accession, "labels": labels, "intent": "record"},
    )
    assert refused.status_code == 422
    errors = html.unescape(refused.text[refused.text.index('id="aspirate-errors"') :])
    errors = errors[: errors.index("</div>")]
    for word in expected:
        assert word in errors, errors
    assert "nothing was recorded" in errors
    assert 'id="aspirate-labels"' in refused.text  # the image and the labels stay on the page
    assert _stored(app, patient, accession) == []


def test_a_damaged_carried_image_or_unknown_specimen_is_refused(
    app: FastAPI, lab: TestClient
) -> None:
    patient, accession = _aspirate(app)
    fields = _carried(_upload(lab, accession).text)
    damaged = {**fields, "image_data": ["not base64!"]}
    r = lab.post(
        "/lab/aspirate/labels",
        data={**damaged, "specimen": accession, "labels": "10,10,blasts\n", "intent": "record"},
    )
    assert r.status_code == 422 and "upload it again" in r.text
    r = lab.post(
        "/lab/aspirate/labels",
        data={**fields, "specimen": "NO-SUCH", "labels": "10,10,blasts\n", "intent": "record"},
    )
    assert r.status_code == 422 and "NO-SUCH" in html.unescape(r.text)
    assert _stored(app, patient, accession) == []


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("notes.txt", PNG, ["notes.txt", "file type .txt", ".png"]),
        ("broken.png", b"this is not an image", ["broken.png", "not a readable image"]),
        ("huge.png", b"\0" * (8 * 1024 * 1024 + 1), ["huge.png", "at most 8,388,608 bytes"]),
    ],
)
def test_a_bad_file_is_refused_naming_it(
    app: FastAPI, lab: TestClient, name: str, data: bytes, expected: list[str]
) -> None:
    _, accession = _aspirate(app)
    refused = _upload(lab, accession, name, data)
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    for word in expected:
        assert word in text, text[text.index("aspirate-errors") :][:600]
    assert 'id="aspirate-labels"' not in refused.text
    assert str(Path(".").resolve()) not in text  # no server path leaks


def test_a_clinician_is_refused(app: FastAPI) -> None:
    _, accession = _aspirate(app)
    with client_as(app, "clinician") as clinician:
        assert clinician.get("/lab/aspirate", follow_redirects=False).status_code == 403
        assert _upload(clinician, accession).status_code == 403
        r = clinician.post(
            "/lab/aspirate/labels",
            data={"csrf_token": _token(clinician), "labels": "1,1,blasts", "specimen": accession},
        )
        assert r.status_code == 403


def test_the_classifier_proposes_and_the_kept_proposals_are_counted(
    app: FastAPI, lab: TestClient
) -> None:
    pytest.importorskip("onnxruntime")
    patient, accession = _aspirate(app)
    fields = _carried(_upload(lab, accession).text)
    points = "10,10,other\n30,20,other\n50,30,other\n"
    proposed = lab.post(
        "/lab/aspirate/labels",
        data={**fields, "specimen": accession, "labels": points, "intent": "propose"},
    )
    assert proposed.status_code == 200, proposed.text
    text = html.unescape(proposed.text)
    assert "Classes proposed by tiny-colour 1" in text
    labels = re.search(r'<textarea id="a-labels" name="labels"[^>]*>([^<]*)</textarea>', text)
    assert labels is not None
    assert labels.group(1) == "10,10,blasts\n30,20,lymphocytes\n50,30,neutrophils\n"
    kept = _carried(proposed.text)
    assert kept["proposed"] == ["yes"]
    # The person overrides the third proposal.
    changed = "10,10,blasts\n30,20,lymphocytes\n50,30,eosinophils\n"
    done = lab.post(
        "/lab/aspirate/labels",
        data={**kept, "specimen": accession, "labels": changed, "intent": "record"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    (stored,) = _stored(app, patient, accession)
    assert isinstance(stored.value, AspirateDifferential)
    labelling = stored.value.labelling
    assert labelling is not None
    assert labelling.model == "tiny-colour 1" and labelling.model_sha256 is not None
    assert (labelling.proposals, labelling.proposals_accepted) == (3, 2)
    assert stored.value.count(CellClass.EOSINOPHIL) == 1
    page = html.unescape(lab.get(done.headers["location"]).text)
    assert "tiny-colour 1 proposed 3 classes and 2 were kept" in page
