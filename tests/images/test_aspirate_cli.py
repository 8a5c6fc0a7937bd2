"""`trephine image differential IMAGE LABELS`: cells labelled on an aspirate image counted with
Wilson intervals, stored as a draft differential with its provenance (SQLite and PostgreSQL);
a bad line, a core specimen and an unreadable image are refused with nothing stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.domain import Procedure, Site, Specimen, SpecimenType
from trephine.domain.results import AspirateDifferential, CellClass, ResultKind
from trephine.io.images import write_png
from trephine.services import procedures, results
from trephine.store.database import Database
from trephine.workflow import ResultState

BIOPSY_AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)  # as tests/images/conftest.py


def _invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def _files(tmp_path: Path, lines: list[str]) -> tuple[Path, Path]:
    image = write_png(tmp_path / "smear.png", np.full((40, 60, 3), 200, np.uint8))
    labels = tmp_path / "cells.txt"
    labels.write_text("\n".join(lines) + "\n")
    return image, labels


def test_counts_with_wilson_intervals_and_stores_a_draft(tmp_path: Path, seeded: Database) -> None:
    with seeded.unit_of_work("seed") as uow:
        proc, _ = procedures.record_procedure(
            uow, "P001", Procedure(BIOPSY_AT, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, "P001", Specimen("A-1", SpecimenType.ASPIRATE, BIOPSY_AT, first_pull=True), proc
        )
    image, labels = _files(
        tmp_path, ["10,10,blasts", "20,10,blasts", "59,39,lymphocytes", "0,0,other"]
    )
    url = seeded.engine.url.render_as_string(hide_password=False)
    code, out, err = _invoke("image", "differential", str(image), str(labels))
    assert code == 0, err
    assert "blasts: 2, 50.0 % (95 % CI 15.0–85.0 %)" in out
    store = ("--store", "--specimen", "A-1", "--database-url", url, "--actor", "lab-a")
    code, out, err = _invoke("image", "differential", str(image), str(labels), "--json", *store)
    assert code == 0, err
    data = json.loads(out)
    assert data["cells_counted"] == 4
    assert data["classes"]["blasts"]["text"] == "50.0 % (95 % CI 15.0–85.0 %)"
    assert data["stored"]["state"] == "draft" and data["stored"]["created"] is True
    with seeded.unit_of_work("t") as uow:
        (stored,) = results.list_results(uow, kinds=[ResultKind.DIFFERENTIAL])
    assert stored.state is ResultState.DRAFT
    value = stored.value
    assert isinstance(value, AspirateDifferential) and value.count(CellClass.BLAST) == 2
    assert value.labelling is not None and value.labelling.labelled_by == "lab-a"
    assert value.labelling.source_sha256 == hashlib.sha256(image.read_bytes()).hexdigest()
    assert [(c.x, c.y) for c in value.labelling.cells][2] == (59, 39)
    # The same labels again add nothing; refusals store nothing.
    code, out, _ = _invoke("image", "differential", str(image), str(labels), "--json", *store)
    assert code == 0 and json.loads(out)["stored"]["created"] is False
    core = ("--store", "--specimen", "C-1", "--database-url", url)
    code, _, err = _invoke("image", "differential", str(image), str(labels), *core)
    assert code == 2 and "C-1" in err and "aspirate" in err
    (tmp_path / "bad").mkdir()
    bad_image, bad_labels = _files(tmp_path / "bad", ["10,10,blasts", "60,10,blasts"])
    code, _, err = _invoke("image", "differential", str(bad_image), str(bad_labels), *store)
    assert code == 2 and "cells.txt, row 2" in err and "0 to 59" in err
    with seeded.unit_of_work("t") as uow:
        assert len(results.list_results(uow, kinds=[ResultKind.DIFFERENTIAL])) == 1


def test_an_unreadable_image_is_refused_naming_it(tmp_path: Path) -> None:
    image = tmp_path / "smear.png"
    image.write_bytes(b"not an image")
    labels = tmp_path / "cells.txt"
    labels.write_text("1,1,blasts\n")
    code, _, err = _invoke("image", "differential", str(image), str(labels))
    assert code == 2 and "smear.png" in err and "not a readable image" in err
