"""Issue 14 §3: IHC indices become ``measurement`` results. ``trephine image ihc FILE --stain S
--store --specimen ACC`` stores CD34 microvessel density, Perls iron area fraction and the
reticulin index as drafts with the value the command prints, the objects counted, the image's
hash and the "not a WHO grade" flag; the draft then signs out like any result, and storing the
same image again changes nothing."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.domain.results import Measurement, MeasurementMethod, ResultKind
from trephine.services import audit, results
from trephine.store.database import Database
from trephine.workflow import ResultState

SIZE = 400
MPP = 0.5
VESSELS = 6


def _finish(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rgb = rgb + rng.normal(0, 2, rgb.shape)
    return np.clip(ndi.gaussian_filter(rgb, (0.6, 0.6, 0)), 0, 255).astype(np.uint8)


def _cd34(rng: np.random.Generator) -> np.ndarray:
    """Pale haematoxylin with blue-grey nuclei and VESSELS DAB-brown vessel walls."""
    rgb = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    rgb[:] = (215, 210, 225)
    yy, xx = np.ogrid[:SIZE, :SIZE]
    for _ in range(300):
        y, x = rng.integers(0, SIZE, 2)
        rgb[(yy - y) ** 2 + (xx - x) ** 2 <= 16] = (120, 120, 170)
    for k in range(VESSELS):
        y, x = 40 + 90 * (k // 4), 40 + 100 * (k % 4)
        rgb[np.abs(np.hypot(yy - y, xx - x) - 12) < 3] = (140, 90, 50)
    return _finish(rgb, rng)


def _perls(rng: np.random.Generator) -> np.ndarray:
    rgb = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    rgb[:] = (230, 170, 180)  # nuclear fast red
    rgb[100:160, 100:200] = (40, 70, 170)  # Prussian blue: 3.75 % of the image
    return _finish(rgb, rng)


def _reticulin(rng: np.random.Generator) -> np.ndarray:
    rgb = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    rgb[:] = (200, 185, 170)
    for k in range(8):
        y = 20 + k * (SIZE - 40) // 8
        rgb[y : y + 2, 20 : SIZE - 20] = (40, 35, 30)
    return _finish(rgb, rng)


STAINS = {
    "cd34": ("microvessel density", "vessels/mm2", _cd34),
    "perls": ("iron area fraction", "%", _perls),
    "reticulin": ("reticulin index", "%", _reticulin),
}


def invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def test_each_stain_is_stored_as_a_draft_measurement_that_signs_out(
    seeded: Database, tmp_path: Path
) -> None:
    url = seeded.engine.url.render_as_string(hide_password=False)
    printed: dict[str, dict[str, object]] = {}
    files: dict[str, Path] = {}
    for stain, (_, _, make) in STAINS.items():
        path = tmp_path / f"{stain}.png"
        Image.fromarray(make(np.random.default_rng(7))).save(path)
        files[stain] = path
        args = ["image", "ihc", str(path), "--stain", stain, "--mpp", str(MPP), "--json"]
        store = ["--store", "--specimen", "C-1", "--database-url", url, "--actor", "lab-a"]
        code, out, err = invoke(*args, *store)
        assert code == 0, err
        printed[stain] = json.loads(out)
        assert printed[stain]["stored"]["state"] == "draft"  # type: ignore[index]
        assert printed[stain]["stored"]["created"] is True  # type: ignore[index]
    with seeded.unit_of_work("check") as uow:
        stored = results.list_results(uow, kinds=[ResultKind.MEASUREMENT])
        created = {e.entity_id for e in audit.events(uow, "result") if e.action == "create"}
    by_index = {r.value.index: r for r in stored if isinstance(r.value, Measurement)}
    assert sorted(by_index) == sorted(index for index, _, _ in STAINS.values())
    for stain, (index, unit, _) in STAINS.items():
        row = by_index[index]
        value = row.value
        assert isinstance(value, Measurement)
        assert row.state is ResultState.DRAFT and row.created_by == "lab-a"
        assert str(row.id) in created
        assert value.value.unit == unit and value.method is MeasurementMethod.IMAGE
        # The stored value is what the command printed (to the hundredth it stores).
        shown = printed[stain]["value"]
        assert isinstance(shown, float)
        assert value.value.value == Decimal(f"{shown:.2f}")
        assert value.source_sha256 == hashlib.sha256(files[stain].read_bytes()).hexdigest()
        assert value.flags == ("continuous research index, not a WHO grade",)
    vessels = by_index["microvessel density"].value
    assert isinstance(vessels, Measurement) and vessels.objects_counted == VESSELS
    tissue_mm2 = SIZE * SIZE * (MPP / 1000) ** 2
    assert float(vessels.value.value) == pytest.approx(VESSELS / tissue_mm2, rel=0.05)
    iron = by_index["iron area fraction"].value
    assert isinstance(iron, Measurement)
    assert float(iron.value.value) == pytest.approx(3.75, abs=0.3)

    # Storing the same image again changes nothing; the draft signs out like any result.
    code, out, err = invoke(
        "image", "ihc", str(files["cd34"]), "--stain", "cd34", "--mpp", str(MPP), "--json",
        "--store", "--specimen", "C-1", "--database-url", url,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["stored"]["created"] is False
    code, _, err = invoke(
        "results", "verify", str(by_index["microvessel density"].id), "--as", "dr.sign",
        "--database-url", url,
    )  # fmt: skip
    assert code == 0, err
    with seeded.unit_of_work("check") as uow:
        signed = results.get_result(uow, by_index["microvessel density"].id)
    assert signed.state is ResultState.VERIFIED and signed.verified_by == "dr.sign"


def test_cd34_needs_the_pixel_size_and_a_specimen_to_store(tmp_path: Path) -> None:
    path = tmp_path / "cd34.png"
    Image.fromarray(_cd34(np.random.default_rng(1))).save(path)
    code, _, err = invoke("image", "ihc", str(path), "--stain", "cd34")
    assert code == 2 and "vessels/mm² needs the pixel size" in err
    code, _, err = invoke("image", "ihc", str(path), "--stain", "cd34", "--mpp", "0.5", "--store")
    assert code == 2 and "--specimen" in err
    code, _, err = invoke("image", "ihc", str(path), "--stain", "he", "--mpp", "0.5")
    assert code == 2 and "cd34, perls, reticulin" in err
