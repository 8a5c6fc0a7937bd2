"""Seeded synthetic H&E marrow phantoms with a known answer.

A phantom is an RGB image drawn from a label map, so its true cellularity and nucleus centres
are known exactly. It holds haematopoietic marrow (pink-purple cytoplasm crowded with dark
nuclei, small sinusoids), adipocytes (white vacuoles with thin pink membranes), and the things
the cellularity definition must exclude: bone trabeculae (smooth eosinophilic bands with a few
flat osteocyte nuclei), bare glass around the core, and artefacts (a knife tear, a tissue fold,
an ink mark). Nothing is read from disk: tests, the benchmark and the docs generate them.

The scale is that of a 20x scan, :data:`PHANTOM_MPP` micrometres per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "PHANTOM_MPP",
    "Label",
    "Phantom",
    "degrade",
    "make_phantom",
    "true_cellularity",
]

#: Micrometres per pixel of a phantom.
PHANTOM_MPP = 0.5


class Label(IntEnum):
    BACKGROUND = 0
    HAEMATOPOIETIC = 1
    FAT = 2
    BONE = 3
    ARTEFACT = 4


@dataclass(frozen=True)
class Phantom:
    rgb: np.ndarray
    labels: np.ndarray
    #: Nucleus centres (x = column, y = row) of the haematopoietic nuclei.
    nuclei: np.ndarray
    seed: int

    @property
    def cellularity_pct(self) -> float:
        return true_cellularity(self.labels)


def true_cellularity(labels: np.ndarray) -> float:
    """Haematopoietic area as % of haematopoietic + fat area of a label map."""
    cells = int(np.count_nonzero(labels == Label.HAEMATOPOIETIC))
    fat = int(np.count_nonzero(labels == Label.FAT))
    return 100.0 * cells / (cells + fat) if cells + fat else float("nan")


_CYTOPLASM = np.array([222, 170, 214], dtype=np.float32)
_NUCLEUS = np.array([70, 40, 120], dtype=np.float32)
_MEMBRANE = np.array([225, 160, 205], dtype=np.float32)
_BONE = np.array([240, 150, 190], dtype=np.float32)
_GLASS = np.array([243, 242, 246], dtype=np.float32)
_FOLD = np.array([105, 40, 120], dtype=np.float32)
_INKS = (
    np.array([40, 120, 70], dtype=np.float32),
    np.array([35, 35, 40], dtype=np.float32),
    np.array([40, 70, 160], dtype=np.float32),
)


def _disk_mask(
    shape: tuple[int, int], cy: float, cx: float, r: float
) -> tuple[slice, slice, np.ndarray]:
    h, w = shape
    y0, y1 = max(0, int(cy - r - 1)), min(h, int(cy + r + 2))
    x0, x1 = max(0, int(cx - r - 1)), min(w, int(cx + r + 2))
    yy, xx = np.ogrid[y0:y1, x0:x1]
    return slice(y0, y1), slice(x0, x1), (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    noise = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return np.asarray(noise / (noise.std() + 1e-6))


def make_phantom(
    seed: int,
    size: int = 600,
    *,
    cellularity: float | None = None,
    bone: bool | None = None,
    artefacts: bool = True,
    background: bool = True,
) -> Phantom:
    """A seeded phantom ``size``×``size`` pixels whose marrow is about ``cellularity`` %
    haematopoietic (drawn between 5 and 95 % when not given); the exact value is
    :attr:`Phantom.cellularity_pct`."""
    rng = np.random.default_rng(seed)
    shape = (size, size)
    target = float(rng.uniform(5, 95)) if cellularity is None else float(cellularity)
    labels = np.full(shape, Label.HAEMATOPOIETIC, dtype=np.uint8)
    # Glass around the core: the core is a wobbly band leaving glass on one or two sides.
    if background:
        edge = _smooth_noise(rng, shape, size / 6)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        angle = rng.uniform(0, np.pi)
        across = (yy - 0.5) * np.cos(angle) - (xx - 0.5) * np.sin(angle)
        half_width = rng.uniform(0.32, 0.45)
        labels[np.abs(across + 0.04 * edge) > half_width] = Label.BACKGROUND
    # Bone trabeculae: thick curved bands.
    with_bone = bool(rng.random() < 0.6) if bone is None else bone
    if with_bone:
        for _ in range(int(rng.integers(1, 3))):
            field = _smooth_noise(rng, shape, size / 5)
            level = rng.uniform(-0.6, 0.6)
            thickness = rng.uniform(0.08, 0.2)
            band = np.abs(field - level) < thickness
            labels[band & (labels != Label.BACKGROUND)] = Label.BONE
    marrow = labels == Label.HAEMATOPOIETIC
    # Adipocytes: vacuoles placed until the marrow's fat share reaches the target.
    fat_goal = (1 - target / 100.0) * marrow.sum()
    fat_now = 0
    membrane = np.zeros(shape, dtype=bool)
    attempts = 0
    while fat_now < fat_goal * 0.97 and attempts < 20000:
        attempts += 1
        r = float(rng.uniform(18, 55))
        cy, cx = rng.uniform(0, size, 2)
        sy, sx, disk = _disk_mask(shape, cy, cx, r)
        region = labels[sy, sx]
        if disk.sum() < np.pi * r * r * 0.9:  # cut by the image edge
            continue
        inside = region[disk]
        if (inside == Label.BONE).any() or (inside == Label.BACKGROUND).any():
            continue
        if (inside == Label.FAT).mean() > 0.3:
            continue
        place = disk & (region == Label.HAEMATOPOIETIC)
        added = int(place.sum())
        if added > fat_goal - fat_now + 0.5 * np.pi * r * r:
            continue
        region[place] = Label.FAT
        yy, xx = np.ogrid[sy, sx]
        inner = (yy - cy) ** 2 + (xx - cx) ** 2 <= (r - 2) ** 2
        membrane[sy, sx] |= place & ~inner
        fat_now += added
    # Colours.
    rgb = np.empty((*shape, 3), dtype=np.float32)
    rgb[:] = _GLASS
    tint = _smooth_noise(rng, shape, 12)[..., None]
    rgb[labels == Label.HAEMATOPOIETIC] = _CYTOPLASM
    rgb[labels == Label.FAT] = _GLASS + 4
    rgb[membrane] = _MEMBRANE
    rgb[labels == Label.BONE] = _BONE
    lamellae = (np.sin(_smooth_noise(rng, shape, size / 8) * 9.0) > 0.85) & (labels == Label.BONE)
    rgb[lamellae] -= np.array([10, 25, 15], dtype=np.float32)
    rgb += tint * np.array([6, 8, 6], dtype=np.float32) * (labels != Label.BACKGROUND)[..., None]
    # Nuclei of the haematopoietic cells (and a few flat osteocytes in bone).
    centres: list[tuple[float, float]] = []
    cells = np.argwhere(labels == Label.HAEMATOPOIETIC)
    density = 1.0 / 260.0  # one nucleus per ~260 px^2 of haematopoietic marrow
    count = int(len(cells) * density)
    for k in rng.choice(len(cells), size=min(count, len(cells)), replace=False) if count else []:
        cy, cx = (float(v) for v in cells[k])
        r = float(rng.uniform(3.5, 7.5))
        sy, sx, disk = _disk_mask(shape, cy, cx, r)
        own = disk & (labels[sy, sx] == Label.HAEMATOPOIETIC)
        darkness = float(rng.uniform(0.7, 1.1))
        rgb[sy, sx][own] = _CYTOPLASM + (_NUCLEUS - _CYTOPLASM) * darkness
        centres.append((cx, cy))
    bone_px = np.argwhere(labels == Label.BONE)
    for k in (
        rng.choice(len(bone_px), size=len(bone_px) // 4000, replace=False) if len(bone_px) else []
    ):
        cy, cx = (float(v) for v in bone_px[k])
        sy, sx, disk = _disk_mask(shape, cy, cx, 3)
        rgb[sy, sx][disk & (labels[sy, sx] == Label.BONE)] = _NUCLEUS + 40
    # Small sinusoids in haematopoietic marrow stay haematopoietic (white but tiny).
    for k in rng.choice(len(cells), size=len(cells) // 6000, replace=False) if len(cells) else []:
        cy, cx = (float(v) for v in cells[k])
        sy, sx, disk = _disk_mask(shape, cy, cx, float(rng.uniform(2, 4)))
        rgb[sy, sx][disk & (labels[sy, sx] == Label.HAEMATOPOIETIC)] = _GLASS
    if artefacts:
        _add_artefacts(rng, rgb, labels)
    rgb += rng.normal(0, 3.0, rgb.shape).astype(np.float32)
    rgb = ndi.gaussian_filter(rgb, sigma=(0.7, 0.7, 0))
    out = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    keep = np.array(
        [labels[int(y), int(x)] == Label.HAEMATOPOIETIC for x, y in centres], dtype=bool
    )
    nuclei = np.array(centres, dtype=float).reshape(-1, 2)[keep] if centres else np.zeros((0, 2))
    return Phantom(out, labels, nuclei, seed)


def _add_artefacts(rng: np.random.Generator, rgb: np.ndarray, labels: np.ndarray) -> None:
    size = labels.shape[0]
    tissue = labels != Label.BACKGROUND
    # A knife tear: a long, narrow white crack through the tissue.
    t = np.linspace(0, 1, 400)
    y0, x0 = rng.uniform(0.2, 0.8, 2) * size
    angle = rng.uniform(0, np.pi)
    length = rng.uniform(0.4, 0.8) * size
    wobble = rng.uniform(5, 20)
    ys = y0 + (t - 0.5) * length * np.sin(angle) + wobble * np.sin(t * 6)
    xs = x0 + (t - 0.5) * length * np.cos(angle) + wobble * np.cos(t * 5)
    width = float(rng.uniform(3, 6))
    tear = np.zeros(labels.shape, dtype=bool)
    inside = (ys >= 0) & (ys < size) & (xs >= 0) & (xs < size)
    tear[ys[inside].astype(int), xs[inside].astype(int)] = True
    # A crack through an empty vacuole changes nothing: it stays fat.
    tear = ndi.binary_dilation(tear, iterations=int(width)) & tissue & (labels != Label.FAT)
    labels[tear] = Label.ARTEFACT
    rgb[tear] = _GLASS
    # A fold: a band of doubled tissue, dark and saturated.
    field = _smooth_noise(rng, labels.shape, size / 6)
    level = rng.uniform(-1, 1)
    fold = (np.abs(field - level) < rng.uniform(0.12, 0.2)) & tissue & ~tear
    labels[fold] = Label.ARTEFACT
    rgb[fold] = _FOLD + rng.normal(0, 8, (int(fold.sum()), 3)).astype(np.float32)
    # An ink mark: a blob of non-H&E colour.
    cy, cx = rng.uniform(0.2, 0.8, 2) * size
    sy, sx, disk = _disk_mask(labels.shape, cy, cx, float(rng.uniform(15, 35)))
    ink = np.zeros(labels.shape, dtype=bool)
    ink[sy, sx] = disk
    ink &= tissue
    labels[ink] = Label.ARTEFACT
    rgb[ink] = _INKS[int(rng.integers(len(_INKS)))]


def degrade(rgb: np.ndarray, how: str, seed: int = 0) -> np.ndarray:
    """A copy of ``rgb`` made unusable: ``blur`` (out of focus), ``empty`` (bare glass),
    ``unstained`` (greyscale)."""
    rng = np.random.default_rng(seed)
    if how == "blur":
        return np.clip(ndi.gaussian_filter(rgb.astype(np.float32), (4, 4, 0)), 0, 255).astype(
            np.uint8
        )
    if how == "empty":
        glass = np.empty_like(rgb, dtype=np.float32)
        glass[:] = _GLASS
        glass += rng.normal(0, 2, glass.shape)
        return np.clip(glass, 0, 255).astype(np.uint8)
    if how == "unstained":
        grey = rgb.astype(np.float32).mean(axis=-1, keepdims=True)
        return np.repeat(np.clip(grey, 0, 255), 3, axis=-1).astype(np.uint8)
    raise ValueError(f"how: {how!r} is not allowed; allowed: blur, empty, unstained")
