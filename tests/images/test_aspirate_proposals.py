"""The aspirate labelling core (analysis/images/aspirate.py): labels checked line by line,
counted per class, and class proposals from an ONNX classifier — a tiny model built here with
onnx.helper (mean colour of the crop → class), no weights downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trephine.analysis.images.aspirate import (
    count_cells,
    model_classes,
    parse_labels,
    propose_classes,
)
from trephine.domain.results import CellClass, LabelledCell
from trephine.errors import ValidationError
from trephine.testing.aspirate import tiny_colour_model as tiny_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _image() -> np.ndarray:
    """60×40 white image with a red cell at (10, 10), green at (30, 20), blue at (50, 30)."""
    rgb = np.full((40, 60, 3), 255, np.uint8)
    for (x, y), colour in zip(
        ((10, 10), (30, 20), (50, 30)), ((255, 0, 0), (0, 255, 0), (0, 0, 255)), strict=True
    ):
        rgb[y - 5 : y + 5, x - 5 : x + 5] = colour
    return rgb


def test_the_tiny_model_proposes_the_cell_colour_class(tmp_path: Path) -> None:
    path = tiny_model(tmp_path / "tiny.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    classes = model_classes(session.get_modelmeta().custom_metadata_map)
    assert classes == (CellClass.BLAST, CellClass.LYMPHOCYTE, CellClass.NEUTROPHIL)
    # The last point sits at the image corner: its crop is mirrored at the edge.
    proposed = propose_classes(_image(), [(10, 10), (30, 20), (50, 30), (0, 0)], session, classes)
    assert [p.cell_class for p in proposed[:3]] == [
        CellClass.BLAST,
        CellClass.LYMPHOCYTE,
        CellClass.NEUTROPHIL,
    ]
    assert [(p.x, p.y) for p in proposed] == [(10, 10), (30, 20), (50, 30), (0, 0)]
    assert all(0.9 < p.score <= 1.0 for p in proposed[:3])  # softmax of 10 vs 0
    assert propose_classes(_image(), [], session, classes) == []


def test_a_model_whose_outputs_do_not_match_its_classes_is_refused(tmp_path: Path) -> None:
    session = ort.InferenceSession(str(tiny_model(tmp_path / "t.onnx")))
    with pytest.raises(ValidationError, match="model output shape"):
        propose_classes(_image(), [(10, 10)], session, (CellClass.BLAST, CellClass.LYMPHOCYTE))
    with pytest.raises(ValidationError, match="trephine_classes"):
        model_classes({"trephine_classes": "blasts,dragons"})
    with pytest.raises(ValidationError, match="trephine_classes"):
        model_classes({})


def test_labels_are_checked_line_by_line_and_counted() -> None:
    cells = parse_labels("10,10,blasts\n\n 30, 20 ,blasts\n50,30,lymphocytes\n", 60, 40)
    assert cells[1] == LabelledCell(30, 20, CellClass.BLAST)
    assert count_cells(cells) == {CellClass.BLAST: 2, CellClass.LYMPHOCYTE: 1}
    with pytest.raises(ValidationError) as bad:
        parse_labels("10,10,blasts\n11,11,dragons\n", 60, 40)
    assert "row 2" in str(bad.value) and "class" in str(bad.value)
    assert "plasma cells" in str(bad.value)  # the allowed classes are named
    with pytest.raises(ValidationError, match=r"row 1.*0 to 59"):
        parse_labels("60,10,blasts\n", 60, 40)
    with pytest.raises(ValidationError, match="row 1"):
        parse_labels("5,-1,blasts\n", 60, 40)
    with pytest.raises(ValidationError, match="x,y,class"):
        parse_labels("5,blasts\n", 60, 40)


def test_a_deidentified_export_drops_who_labelled_and_the_file() -> None:
    """The labelling's people and file fields are free text to a de-identified export."""
    from trephine.domain.results import AspirateDifferential, ImageLabelling
    from trephine.present.deidentify import Deidentifier, Level
    from trephine.services.exports import _flatten
    from trephine.store.codec import encode_result

    cells = (LabelledCell(1, 1, CellClass.BLAST), LabelledCell(2, 2, CellClass.BLAST))
    value = AspirateDifferential(
        {CellClass.BLAST: 2},
        2,
        ImageLabelling("Smith-smear.png", "ab" * 32, 60, 40, "dr.jones", cells, "trephine 1"),
    )
    deid = Deidentifier(Level.SAFE_HARBOR, b"k" * 16)
    kept = {
        path: leaf
        for path, leaf in _flatten(encode_result(value))
        if deid.keeps(path.rsplit(".", 1)[-1])
    }
    assert kept["counts.blasts"] == 2
    assert not any(
        word in str(leaf) for leaf in kept.values() for word in ("dr.jones", "Smith", "abab")
    ), kept
    with pytest.raises(ValidationError, match="counts"):  # counts must be the labelled cells'
        AspirateDifferential({CellClass.BLAST: 1, CellClass.OTHER: 1}, 2, value.labelling)
