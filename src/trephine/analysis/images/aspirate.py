"""Aspirate differential by people (issue 14 §3): cells a person labels on an image, checked
and counted, and class proposals from an optional user-supplied ONNX classifier.

Pure: the image is an RGB ``uint8`` array, the classifier anything with onnxruntime's
``InferenceSession`` interface (``get_inputs``/``run``), so this module never imports
onnxruntime (a dependency of Trephine, which runs its own nucleus detector with it).

Labels are written one cell a line, ``x,y,class`` in pixels (x = column, y = row, origin
top-left), the class one of :class:`~trephine.domain.results.CellClass`' values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from trephine.domain.results import CellClass, LabelledCell
from trephine.errors import Location, ValidationError

__all__ = [
    "ClassifierSession",
    "Proposal",
    "count_cells",
    "format_labels",
    "model_classes",
    "parse_labels",
    "propose_classes",
]

#: Metadata key of an ONNX model naming its output classes in order, comma-separated
#: CellClass values (``blasts,lymphocytes,...``).
CLASSES_KEY = "trephine_classes"


def parse_labels(
    text: str, width: int, height: int, *, source: str = "labels"
) -> list[LabelledCell]:
    """Every ``x,y,class`` line of ``text`` checked against the image size and the classes.

    A wrong line raises :class:`ValidationError` located at its line, naming the field and
    what is allowed; blank lines are skipped.
    """
    allowed = [str(c) for c in CellClass]
    cells: list[LabelledCell] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        where = Location(source, row=number)
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            raise ValidationError("label", line, "x,y,class", location=where)
        coordinates: list[int] = []
        for name, part, limit in (("x", parts[0], width), ("y", parts[1], height)):
            try:
                value = int(part)
            except ValueError:
                raise ValidationError(
                    name, part, "a whole number of pixels", location=where
                ) from None
            if not 0 <= value < limit:
                raise ValidationError(
                    name,
                    value,
                    f"0 to {limit - 1} (inside the {width}×{height} image)",
                    location=where,
                )
            coordinates.append(value)
        try:
            cls = CellClass(parts[2])
        except ValueError:
            raise ValidationError("class", parts[2], allowed, location=where) from None
        cells.append(LabelledCell(coordinates[0], coordinates[1], cls))
    return cells


def format_labels(cells: Sequence[LabelledCell]) -> str:
    return "".join(f"{c.x},{c.y},{c.cell_class}\n" for c in cells)


def count_cells(cells: Sequence[LabelledCell]) -> dict[CellClass, int]:
    """Cells per class, in the order of :class:`CellClass`."""
    tally = Counter(c.cell_class for c in cells)
    return {cls: tally[cls] for cls in CellClass if tally[cls]}


class _Input(Protocol):
    name: str
    shape: Sequence[Any]


class ClassifierSession(Protocol):
    """What :func:`propose_classes` uses of ``onnxruntime.InferenceSession``."""

    def get_inputs(self) -> Sequence[_Input]: ...

    def run(self, output_names: Any, input_feed: Mapping[str, Any]) -> Sequence[Any]: ...


@dataclass(frozen=True)
class Proposal:
    x: int
    y: int
    cell_class: CellClass
    score: float


def model_classes(metadata: Mapping[str, str]) -> tuple[CellClass, ...]:
    """The classes a model's outputs stand for, from its ``trephine_classes`` metadata."""
    raw = metadata.get(CLASSES_KEY)
    allowed = [str(c) for c in CellClass]
    if not raw:
        raise ValidationError(
            f"model metadata {CLASSES_KEY}", None, f"comma-separated cell classes of {allowed}"
        )
    out = []
    for name in raw.split(","):
        try:
            out.append(CellClass(name.strip()))
        except ValueError:
            raise ValidationError(f"model metadata {CLASSES_KEY}", name, allowed) from None
    return tuple(out)


def _crop(rgb: np.ndarray, x: int, y: int, height: int, width: int) -> np.ndarray:
    """A ``height``×``width`` crop centred on (x, y); edges mirrored where it leaves the image."""
    top, left = y - height // 2, x - width // 2
    pad = max(height, width)
    padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    return padded[top + pad : top + pad + height, left + pad : left + pad + width]


def _softmax(scores: np.ndarray) -> np.ndarray:
    if np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3):
        return scores  # already probabilities
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def propose_classes(
    rgb: np.ndarray,
    points: Sequence[tuple[int, int]],
    session: ClassifierSession,
    classes: Sequence[CellClass],
) -> list[Proposal]:
    """The model's class and score (probability) for the cell at each point.

    The model takes a float32 batch ``N×3×H×W`` of RGB crops scaled to 0–1 (H and W read from
    its input shape) and returns ``N×K`` scores, K = ``len(classes)``; scores that are not
    probabilities are passed through a softmax.
    """
    if not points:
        return []
    (first,) = session.get_inputs()[:1]
    shape = list(first.shape)
    if len(shape) != 4 or shape[1] != 3 or not all(isinstance(d, int) for d in shape[2:]):
        raise ValidationError("model input shape", shape, "N×3×H×W with fixed H and W")
    height, width = int(shape[2]), int(shape[3])
    batch = np.stack([_crop(rgb, x, y, height, width) for x, y in points])
    batch = (batch.astype(np.float32) / 255.0).transpose(0, 3, 1, 2)
    scores = np.asarray(session.run(None, {first.name: np.ascontiguousarray(batch)})[0], float)
    if scores.shape != (len(points), len(classes)):
        raise ValidationError(
            "model output shape", list(scores.shape), f"[{len(points)}, {len(classes)}]"
        )
    probabilities = _softmax(scores)
    best = probabilities.argmax(axis=1)
    return [
        Proposal(x, y, classes[int(k)], float(probabilities[i, k]))
        for i, ((x, y), k) in enumerate(zip(points, best, strict=True))
    ]
