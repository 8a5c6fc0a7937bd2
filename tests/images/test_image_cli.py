"""``trephine image``: the JSON contract of nuclei and cellularity, refusals, and storing a
draft ``measurement`` on a specimen."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trephine.analysis.images.cellularity import measure_cellularity
from trephine.analysis.images.nuclei import load_model
from trephine.analysis.images.phantoms import PHANTOM_MPP, degrade, make_phantom
from trephine.cli.main import app
from trephine.domain.results import ResultKind
from trephine.io.images import write_png
from trephine.services import results
from trephine.store.database import Database
from trephine.workflow import ResultState


@pytest.fixture(scope="module")
def phantom_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    phantom = make_phantom(21, 400)
    path = tmp_path_factory.mktemp("img") / "phantom.png"
    write_png(path, phantom.rgb, mpp=PHANTOM_MPP)
    return path, phantom


def invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_nuclei_json_contract_in_pixel_coordinates(phantom_file) -> None:  # type: ignore[no-untyped-def]
    path, phantom = phantom_file
    code, out, err = invoke("image", "nuclei", str(path), "--json")
    assert code == 0, err
    data = json.loads(out)
    nuclei = np.asarray(data["nuclei"])
    assert nuclei.ndim == 2 and nuclei.shape[1] == 2
    # x is the column, y the row: most detections sit on a drawn nucleus (dark pixel).
    rows = nuclei[:, 1].round().astype(int)
    cols = nuclei[:, 0].round().astype(int)
    dark = phantom.rgb[rows, cols].mean(axis=1) < 150
    assert dark.mean() > 0.8
    swapped = phantom.rgb[cols, rows].mean(axis=1) < 150
    assert swapped.mean() < dark.mean()
    detector = data["detector"]
    assert detector["name"] == "trephine-he-nuclei" and detector["version"]
    assert 0 < detector["validation"]["test_f1"] <= 1
    assert data["mpp"] == PHANTOM_MPP and data["density_per_mm2"] > 0


def test_cellularity_json_contract_writes_the_overlay(phantom_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, phantom = phantom_file
    overlay = tmp_path / "over.png"
    code, out, err = invoke("image", "cellularity", str(path), "--json", "--overlay", str(overlay))
    assert code == 0, err
    data = json.loads(out)
    expected = measure_cellularity(phantom.rgb, PHANTOM_MPP).cellularity_pct
    assert data["cellularity_pct"] == round(expected, 1)
    assert abs(data["cellularity_pct"] - phantom.cellularity_pct) <= 10
    assert data["overlay"] == str(overlay) and overlay.stat().st_size > 0
    assert data["mpp"] == PHANTOM_MPP and data["mpp_assumed"] is False


def test_blurred_image_is_refused_with_the_reason(phantom_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, phantom = phantom_file
    blurred = write_png(tmp_path / "blurred.png", degrade(phantom.rgb, "blur"))
    code, _, err = invoke("image", "cellularity", str(blurred), "--json")
    assert code == 2
    assert "out of focus" in err and str(blurred) in err
    code, _, err = invoke("image", "nuclei", str(tmp_path / "missing.png"))
    assert code == 2 and "no such file" in err
    code, _, err = invoke("image", "nuclei", str(path), "--store")
    assert code == 2 and "--specimen" in err


def test_store_records_draft_measurements_with_the_detector_quality(
    phantom_file, seeded: Database
) -> None:  # type: ignore[no-untyped-def]
    path, _ = phantom_file
    url = seeded.engine.url.render_as_string(hide_password=False)
    for command in ("nuclei", "cellularity"):
        code, out, err = invoke(
            "image",
            command,
            str(path),
            "--json",
            "--store",
            "--specimen",
            "C-1",
            "--database-url",
            url,
            "--actor",
            "lab-a",
        )
        assert code == 0, err
        assert json.loads(out)["stored"]["state"] == "draft"
    with seeded.unit_of_work("check") as uow:
        stored = results.list_results(uow, kinds=[ResultKind.MEASUREMENT])
    by_index = {r.value.index: r for r in stored}
    assert set(by_index) == {"nucleus density", "cellularity"}
    assert all(r.state is ResultState.DRAFT for r in stored)
    density = by_index["nucleus density"].value
    model = load_model()
    # The detector's name, version, parameters and measured quality travel with the count.
    assert density.flags[0] == model.summary()
    for part in (
        f"v{model.version}",
        f"threshold {model.threshold:g}",
        f"separation {model.min_separation:g} px",
        f"F1 {model.validation['test_f1']}",
        f"F1 {model.validation['validation_f1']} on the validation tiles",
    ):
        assert part in density.flags[0]
    assert density.source_sha256 and density.objects_counted > 0
    code, _, err = invoke(
        "image",
        "cellularity",
        str(path),
        "--store",
        "--specimen",
        "NOPE",
        "--database-url",
        url,
    )
    assert code == 2 and "NOPE" in err
