"""IHC indices on synthetic stains with known answers: vessels counted one by one, the blue
iron area, reticulin fibres; research indices, never a grade."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from trephine.analysis.images.ihc import (
    iron_area_fraction,
    microvessel_density,
    reticulin_density,
)

SIZE = 400
MPP = 0.5


def _tissue(rng: np.random.Generator) -> np.ndarray:
    """Pale haematoxylin counterstain with blue-grey nuclei."""
    rgb = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    rgb[:] = (215, 210, 225)
    for _ in range(300):
        y, x = rng.integers(0, SIZE, 2)
        yy, xx = np.ogrid[:SIZE, :SIZE]
        rgb[(yy - y) ** 2 + (xx - x) ** 2 <= 16] = (120, 120, 170)
    return rgb


def _finish(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rgb = rgb + rng.normal(0, 2, rgb.shape)
    return np.clip(ndi.gaussian_filter(rgb, (0.6, 0.6, 0)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("vessels", [0, 5, 12])
def test_cd34_vessels_are_counted_one_by_one(vessels: int) -> None:
    rng = np.random.default_rng(vessels)
    rgb = _tissue(rng)
    yy, xx = np.ogrid[:SIZE, :SIZE]
    centres = [(40 + 90 * (k // 4), 40 + 100 * (k % 4)) for k in range(vessels)]
    for y, x in centres:
        ring = np.abs(np.hypot(yy - y, xx - x) - 12) < 3  # a DAB-brown vessel wall
        rgb[ring] = (140, 90, 50)
    result = microvessel_density(_finish(rgb, rng), MPP)
    assert result.objects == vessels
    tissue_mm2 = SIZE * SIZE * (MPP / 1000) ** 2
    assert result.value == pytest.approx(vessels / tissue_mm2, rel=0.05)
    assert result.unit == "vessels/mm2"


def test_perls_iron_area_is_the_blue_share_of_tissue() -> None:
    rng = np.random.default_rng(3)
    rgb = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    rgb[:] = (230, 170, 180)  # nuclear fast red counterstain
    rgb[100:160, 100:200] = (40, 70, 170)  # 6,000 px of Prussian blue = 3.75 %
    result = iron_area_fraction(_finish(rgb, rng), MPP)
    assert result.value == pytest.approx(100 * 6000 / SIZE**2, abs=0.3)
    empty = np.full((SIZE, SIZE, 3), (230, 170, 180), dtype=np.float32)
    assert iron_area_fraction(_finish(empty, rng), MPP).value < 0.05


def test_reticulin_fibres_are_found_and_more_fibres_read_higher() -> None:
    rng = np.random.default_rng(5)

    def stain(lines: int) -> np.ndarray:
        rgb = np.empty((SIZE, SIZE, 3), dtype=np.float32)
        rgb[:] = (200, 185, 170)  # silver stain background
        for k in range(lines):
            y = 20 + k * (SIZE - 40) // max(lines, 1)
            rgb[y : y + 2, 20 : SIZE - 20] = (40, 35, 30)
        return _finish(rgb, rng)

    none, few, many = (reticulin_density(stain(n), MPP) for n in (0, 4, 12))
    assert none.value < 0.2
    assert 0 < few.value < many.value
    # 12 fibres of 360 px at 0.5 µm/px = 2.16 mm of fibre over 0.04 mm²
    assert many.details["fibre_length_mm_per_mm2"] == pytest.approx(2.16 / 0.04, rel=0.2)


def test_an_image_without_tissue_is_refused() -> None:
    glass = np.full((200, 200, 3), 245, dtype=np.uint8)
    with pytest.raises(ValueError, match="no tissue"):
        microvessel_density(glass, MPP)
