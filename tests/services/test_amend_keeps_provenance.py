"""Amending a differential counted on an image keeps how it was counted (issue 14): the image,
its SHA-256, who labelled it, every cell and the model that proposed labels stay on the
amendment, marked ``amended``; the superseded version is unchanged. Through the service (the
web form's path: the corrected counts come without the labelling) and through the field-by-field
amendment of ``trephine results amend``. SQLite and PostgreSQL (``database``)."""

from __future__ import annotations

import pytest

from trephine.domain.results import (
    AspirateDifferential,
    CellClass,
    ImageLabelling,
    LabelledCell,
)
from trephine.errors import ValidationError
from trephine.importers.amendment import Assignment, amended_value
from trephine.services import results
from trephine.store.database import Database

CELLS = (
    *(LabelledCell(10 + i, 20, CellClass.BLAST) for i in range(3)),
    *(LabelledCell(10 + i, 40, CellClass.NEUTROPHIL) for i in range(5)),
    *(LabelledCell(10 + i, 60, CellClass.LYMPHOCYTE) for i in range(2)),
)
LABELLING = ImageLabelling(
    source_file="smear-7.png",
    source_sha256="ab" * 32,
    width=640,
    height=480,
    labelled_by="lab.sam",
    cells=CELLS,
    software="trephine test",
    model="tiny-cells",
    model_sha256="cd" * 32,
    proposals=10,
    proposals_accepted=8,
)
COUNTED = {CellClass.BLAST: 3, CellClass.NEUTROPHIL: 5, CellClass.LYMPHOCYTE: 2}


@pytest.fixture
def signed_out(seeded: Database) -> int:
    with seeded.unit_of_work("lab.sam") as uow:
        stored, _ = results.record_result(
            uow, "A-1", AspirateDifferential(COUNTED, 10, LABELLING), verify=True
        )
    return stored.id


def _value(database: Database, result_id: int) -> AspirateDifferential:
    with database.unit_of_work("t") as uow:
        value = results.get_result(uow, result_id).value
    assert isinstance(value, AspirateDifferential)
    return value


def test_the_amendment_of_an_image_count_keeps_its_provenance(
    seeded: Database, signed_out: int
) -> None:
    recount = {CellClass.BLAST: 4, CellClass.NEUTROPHIL: 4, CellClass.LYMPHOCYTE: 2}
    with seeded.unit_of_work("lab.kim") as uow:
        amended = results.amend_result(
            uow, signed_out, AspirateDifferential(recount, 10), "one neutrophil was a blast"
        )
    value = _value(seeded, amended.id)
    assert value.counts[CellClass.BLAST] == 4
    assert value.labelling is not None
    assert value.labelling.amended is True
    kept = {
        k: getattr(value.labelling, k)
        for k in ("source_file", "source_sha256", "labelled_by", "cells", "model", "model_sha256")
    }
    assert kept == {
        "source_file": "smear-7.png",
        "source_sha256": "ab" * 32,
        "labelled_by": "lab.sam",
        "cells": CELLS,
        "model": "tiny-cells",
        "model_sha256": "cd" * 32,
    }
    # The signed-out version is kept as it was.
    assert _value(seeded, signed_out) == AspirateDifferential(COUNTED, 10, LABELLING)


def test_the_same_counts_without_the_labelling_are_no_amendment(
    seeded: Database, signed_out: int
) -> None:
    with seeded.unit_of_work("lab.kim") as uow, pytest.raises(ValidationError, match="unchanged"):
        results.amend_result(uow, signed_out, AspirateDifferential(COUNTED, 10), "no change")


def test_a_field_by_field_amendment_keeps_the_provenance(seeded: Database, signed_out: int) -> None:
    old = _value(seeded, signed_out)
    corrected = amended_value(
        old, [Assignment("blasts", "4"), Assignment("neutrophils", "4")]
    )  # was refused: the labelled cells no longer added up to the counts
    with seeded.unit_of_work("lab.kim") as uow:
        amended = results.amend_result(uow, signed_out, corrected, "recount")
    value = _value(seeded, amended.id)
    assert value.labelling is not None and value.labelling.amended
    assert value.labelling.source_sha256 == "ab" * 32 and value.labelling.labelled_by == "lab.sam"
