"""Quality checks refuse unusable images with a reason and pass usable ones."""

from __future__ import annotations

import pytest

from trephine.analysis.images.phantoms import degrade, make_phantom
from trephine.analysis.images.quality import check_quality


@pytest.fixture(scope="module")
def phantom_rgb():  # type: ignore[no-untyped-def]
    return make_phantom(11, 400).rgb


def test_a_focused_stained_phantom_is_usable(phantom_rgb) -> None:  # type: ignore[no-untyped-def]
    report = check_quality(phantom_rgb)
    assert report.usable, report.refusals
    assert report.tissue_fraction > 0.3


@pytest.mark.parametrize(
    ("how", "reason"),
    [("blur", "out of focus"), ("empty", "no tissue"), ("unstained", "no stain colour")],
)
def test_unusable_images_are_refused_with_the_reason(phantom_rgb, how: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    report = check_quality(degrade(phantom_rgb, how))
    assert not report.usable
    assert any(r.startswith(reason) for r in report.refusals), report.refusals


def test_kainz_tiles_all_pass(kainz) -> None:  # type: ignore[no-untyped-def]
    from trephine.io.images import read_image

    for path in sorted((kainz / "images").glob("*.webp")):
        report = check_quality(read_image(path).rgb)
        assert report.usable, (path.name, report.refusals)
        assert not check_quality(degrade(read_image(path).rgb, "blur")).usable, path.name


pytestmark = []
test_kainz_tiles_all_pass = pytest.mark.slow(pytest.mark.licensed_images(test_kainz_tiles_all_pass))
