"""Aspirate differential by people (issue 14 §3): an image and the cells a person labelled on
it (``x,y,class`` lines) become a draft-ready :class:`AspirateDifferential` carrying its
provenance. Used by the labelling page (``web/aspirate.py``) and ``trephine image
differential``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from trephine import __version__
from trephine.analysis.images.aspirate import count_cells, parse_labels
from trephine.domain.results import AspirateDifferential, ImageLabelling, LabelledCell
from trephine.errors import ValidationError
from trephine.io.images import read_image

__all__ = ["labelled_differential", "read_labelled"]


def labelled_differential(
    *,
    name: str,
    data: bytes,
    width: int,
    height: int,
    cells: Sequence[LabelledCell],
    labelled_by: str,
    model: str | None = None,
    model_sha256: str | None = None,
    proposals: int = 0,
    proposals_accepted: int = 0,
) -> AspirateDifferential:
    """The differential counted from ``cells`` on the image ``data`` (named ``name``)."""
    if not cells:
        raise ValidationError("labels", "", "at least one labelled cell", reason="none labelled")
    return AspirateDifferential(
        counts=count_cells(cells),
        cells_counted=len(cells),
        labelling=ImageLabelling(
            source_file=name,
            source_sha256=hashlib.sha256(data).hexdigest(),
            width=width,
            height=height,
            labelled_by=labelled_by,
            cells=tuple(cells),
            software=f"trephine {__version__}",
            model=model,
            model_sha256=model_sha256,
            proposals=proposals,
            proposals_accepted=proposals_accepted,
        ),
    )


def read_labelled(image: str | Path, labels: str | Path, labelled_by: str) -> AspirateDifferential:
    """Read an image and its labels file (``x,y,class`` a line) into a differential; a bad
    line is refused naming the labels file, its row and what is allowed."""
    picture = read_image(image)
    height, width = picture.rgb.shape[:2]
    labels_path = Path(labels)
    try:
        text = labels_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            "labels", str(labels_path), "a readable text file", reason=exc.strerror
        ) from None
    cells = parse_labels(text, width, height, source=str(labels_path))
    return labelled_differential(
        name=Path(image).name,
        data=Path(image).read_bytes(),
        width=width,
        height=height,
        cells=cells,
        labelled_by=labelled_by,
    )
