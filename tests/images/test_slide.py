"""``trephine image slide``: a pyramidal TIFF (written here from a phantom with tifffile) read
with tiffslide level by level, tile by tile with a margin, and its tiles' cores summed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trephine.analysis.images.cellularity import Segment, measure_cellularity, overlay
from trephine.analysis.images.nuclei import load_model
from trephine.analysis.images.phantoms import PHANTOM_MPP, make_phantom
from trephine.cli.main import app
from trephine.domain.results import ResultKind
from trephine.errors import ValidationError
from trephine.importers.images import analyse_slide
from trephine.io.images import open_slide, read_image, write_pyramid
from trephine.services import results
from trephine.store.database import Database
from trephine.workflow import ResultState

SIZE = 512


@pytest.fixture(scope="module")
def phantom_slide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    phantom = make_phantom(8, SIZE, artefacts=False)
    path = write_pyramid(
        tmp_path_factory.mktemp("slide") / "slide.tif", phantom.rgb, PHANTOM_MPP, tile=128
    )
    return path, phantom


def invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_pyramid_levels_sizes_and_pixel_size(phantom_slide) -> None:  # type: ignore[no-untyped-def]
    path, phantom = phantom_slide
    with open_slide(path) as slide:
        assert slide.level_count == 3
        assert [slide.level_size(k) for k in range(3)] == [(512, 512), (256, 256), (128, 128)]
        assert [slide.downsample(k) for k in range(3)] == [1.0, 2.0, 4.0]
        assert slide.mpp == pytest.approx(PHANTOM_MPP)
        assert np.array_equal(slide.read(0, 0, SIZE, SIZE), phantom.rgb)
        with pytest.raises(ValidationError, match="a level from 0 to 2"):
            slide.level_size(3)


def test_tile_cores_cover_each_pixel_once_and_margins_hold_the_neighbours(
    phantom_slide,  # type: ignore[no-untyped-def]
) -> None:
    path, _ = phantom_slide
    with open_slide(path) as slide:
        whole = slide.read(0, 0, 256, 256, level=1)
        assembled = np.zeros_like(whole)
        covered = np.zeros(whole.shape[:2], dtype=int)
        for region in slide.regions(100, level=1, margin=20):
            core = region.core(region.rgb)
            assert core.shape[:2] == (region.height, region.width)
            assembled[region.y : region.y + region.height, region.x : region.x + region.width] = (
                core
            )
            covered[region.y : region.y + region.height, region.x : region.x + region.width] += 1
            # The margin is the slide around the core, clipped at the slide's edge.
            y0, x0 = region.y - region.top, region.x - region.left
            h, w = region.rgb.shape[:2]
            assert np.array_equal(region.rgb, whole[y0 : y0 + h, x0 : x0 + w])
            assert region.left == min(20, region.x) and region.top == min(20, region.y)
    assert (covered == 1).all()
    assert np.array_equal(assembled, whole)


def test_slide_cellularity_is_the_phantoms_and_tiling_changes_little(
    phantom_slide,  # type: ignore[no-untyped-def]
) -> None:
    path, phantom = phantom_slide
    folder = path.parent
    whole = analyse_slide(path, tile=SIZE, overlay_path=folder / "whole.png")
    tiled = analyse_slide(path, tile=256)
    assert (whole.tiles, tiled.tiles) == (1, 4)
    direct = measure_cellularity(phantom.rgb, PHANTOM_MPP)
    assert whole.haematopoietic_px == int(
        np.count_nonzero(direct.segments == Segment.HAEMATOPOIETIC)
    )
    assert whole.cellularity_pct == pytest.approx(direct.cellularity_pct)
    # The overlay: the tile command's tints.
    assert whole.overlay_path == folder / "whole.png"
    assert np.array_equal(
        read_image(folder / "whole.png").rgb, overlay(phantom.rgb, direct.segments)
    )
    # One phantom (the <= 3-point target is the mean over held-out phantoms; the worst was 4.2).
    assert whole.cellularity_pct == pytest.approx(phantom.cellularity_pct, abs=5)
    assert tiled.cellularity_pct == pytest.approx(whole.cellularity_pct, abs=2)
    # A nucleus on a seam is counted by one tile only: the tiled count stays near the whole's.
    assert abs(tiled.nuclei - whole.nuclei) <= max(3, whole.nuclei // 10)
    assert whole.density is not None and whole.mpp == PHANTOM_MPP
    # A smaller overlay takes every 7th pixel of the level (256 px at most 40: 37 px).
    full = analyse_slide(path, level=1, tile=128, overlay_path=folder / "full.png")
    analyse_slide(path, level=1, tile=128, overlay_path=folder / "small.png", overlay_px=40)
    assert full.mpp == 2 * PHANTOM_MPP
    small = read_image(folder / "small.png").rgb
    assert small.shape == (37, 37, 3)
    assert np.array_equal(small, read_image(folder / "full.png").rgb[::7, ::7])


def test_glass_tiles_are_counted_and_left_out(tmp_path: Path) -> None:
    rgb = make_phantom(5, 256, artefacts=False).rgb
    glass = np.full_like(rgb, 242)
    path = write_pyramid(tmp_path / "half.tif", np.hstack([rgb, glass]), PHANTOM_MPP, tile=128)
    run = analyse_slide(path, tile=128)
    assert run.tiles == 8 and run.analysed == 4
    assert run.refused == {"no tissue": 4}
    empty = write_pyramid(tmp_path / "empty.tif", glass, PHANTOM_MPP, tile=128)
    with pytest.raises(ValidationError, match=r"no tile of level 0 was usable: no tissue \(4"):
        analyse_slide(empty, tile=128)


def test_cli_json_text_and_refusals(phantom_slide, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, _ = phantom_slide
    code, out, err = invoke("image", "slide", str(path), "--level", "1", "--tile", "128", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["level_size"] == [256, 256] and data["tiles"] == 4
    assert data["mpp"] == 1.0 and data["mpp_assumed"] is False
    assert 0 < data["cellularity_pct"] < 100
    assert data["detector"]["name"] == "trephine-he-nuclei"
    code, out, _ = invoke("image", "slide", str(path), "--tile", "256")
    assert code == 0 and "4 of 4 tiles analysed" in out and "cellularity" in out
    code, _, err = invoke("image", "slide", str(path), "--level", "5")
    assert code == 2 and "a level from 0 to 2" in err and "512×512" in err
    code, _, err = invoke("image", "slide", str(tmp_path / "missing.svs"))
    assert code == 2 and "missing.svs" in err and "no such file" in err
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff")
    code, _, err = invoke("image", "slide", str(junk))
    assert code == 2 and "not a readable whole-slide image" in err


def test_an_over_large_tile_is_sent_to_the_slide_command(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from trephine.io import images

    monkeypatch.setattr(images, "MAX_TILE_PIXELS", 100 * 100)
    path = write_pyramid(tmp_path / "big.tif", np.full((128, 128, 3), 200, np.uint8), tile=64)
    with pytest.raises(ValidationError, match="`trephine image slide`"):
        read_image(path)
    code, _, err = invoke("image", "slide", str(path), "--tile", "64", "--mpp", "0.5")
    assert code == 2 and "no tile of level 0 was usable: no stain colour (4 tiles)" in err


def test_store_records_the_slides_cellularity_and_density_as_drafts(
    phantom_slide,  # type: ignore[no-untyped-def]
    seeded: Database,
) -> None:
    path, _ = phantom_slide
    url = seeded.engine.url.render_as_string(hide_password=False)
    store = ("--store", "--specimen", "C-1", "--database-url", url, "--actor", "lab-a")
    code, out, err = invoke("image", "slide", str(path), "--level", "1", "--json", *store)
    assert code == 0, err
    stored = json.loads(out)["stored"]
    assert [s["index"] for s in stored] == ["cellularity", "nucleus density"]
    with seeded.unit_of_work("check") as uow:
        rows = results.list_results(uow, kinds=[ResultKind.MEASUREMENT])
    by_index = {r.value.index: r.value for r in rows}
    assert all(r.state is ResultState.DRAFT for r in rows)
    assert by_index["cellularity"].region == "whole slide, level 1, 1 of 1 tiles analysed"
    assert by_index["nucleus density"].source_file == "slide.tif"
    assert any("level 1 at 1 µm/px" in flag for flag in by_index["nucleus density"].flags)
    assert load_model().summary() in by_index["nucleus density"].flags
    code, _, err = invoke("image", "slide", str(path), "--level", "1", "--store")
    assert code == 2 and "--specimen" in err
    code, _, err = invoke(
        "image", "slide", str(path), "--level", "1", *store[:2], "NOPE", *store[3:]
    )
    assert code == 2 and "NOPE" in err
    with seeded.unit_of_work("check") as uow:
        assert len(results.list_results(uow, kinds=[ResultKind.MEASUREMENT])) == 2
