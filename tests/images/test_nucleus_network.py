"""The nucleus detector's network and its record: a missing, damaged or replaced network file is
refused naming the file; the proximity map is the same computed whole or in overlapping pieces;
half resolution, sub-pixel peaks and the (x = column, y = row) order of the answer."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from trephine.analysis.images import nuclei
from trephine.analysis.images.matching import score_detections
from trephine.analysis.images.nuclei import (
    NETWORK_FILE,
    RECORD_FILE,
    _read_model,
    _refine,
    detect_nuclei,
    half_resolution,
    load_model,
    peaks_of,
    proximity_map,
)
from trephine.analysis.images.phantoms import make_phantom
from trephine.errors import ParseError

PACKAGE = resources.files("trephine.analysis.images")


def _shipped() -> tuple[str, bytes]:
    return (
        PACKAGE.joinpath(RECORD_FILE).read_text(encoding="utf-8"),
        PACKAGE.joinpath(NETWORK_FILE).read_bytes(),
    )


def test_shipped_network_matches_its_record_and_is_small() -> None:
    record, network = _shipped()
    data = json.loads(record)
    assert data["network_sha256"] == hashlib.sha256(network).hexdigest()
    assert len(network) < 1_000_000
    model = load_model()
    assert model.version == data["version"] and model.threshold == data["threshold"]
    inputs = model.session.get_inputs()
    assert len(inputs) == 1 and inputs[0].shape[1] == 3  # N x 3 x H x W, H and W free


def test_damaged_or_replaced_network_is_refused_naming_the_file() -> None:
    record, network = _shipped()
    damaged = bytearray(network)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(ParseError, match=rf"{NETWORK_FILE}: the network file's SHA-256"):
        _read_model(record, bytes(damaged), "pkg")
    with pytest.raises(ParseError, match=rf"{NETWORK_FILE}: .*SHA-256"):
        _read_model(record, b"", "pkg")
    broken = json.loads(record)
    del broken["network_sha256"]
    with pytest.raises(ParseError, match=rf"{RECORD_FILE}: not a nucleus detector record"):
        _read_model(json.dumps(broken), network, "pkg")
    with pytest.raises(ParseError, match=RECORD_FILE):
        _read_model("{not json", network, "pkg")


def test_missing_network_file_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record, _ = _shipped()
    (tmp_path / RECORD_FILE).write_text(record, encoding="utf-8")
    monkeypatch.setattr(nuclei.resources, "files", lambda _package: tmp_path)
    load_model.cache_clear()
    try:
        with pytest.raises(ParseError, match=rf"{NETWORK_FILE}.*not installed"):
            load_model()
    finally:
        monkeypatch.undo()
        load_model.cache_clear()
    assert load_model().version  # the shipped one loads again


def test_half_resolution_is_block_means_with_odd_edges_repeated() -> None:
    rgb = np.arange(5 * 3 * 3, dtype=np.uint8).reshape(5, 3, 3) * 5
    half = half_resolution(rgb)
    assert half.shape == (3, 2, 3) and half.dtype == np.float32
    assert np.allclose(half[0, 0], rgb[0:2, 0:2].reshape(-1, 3).mean(axis=0) / 255)
    assert np.allclose(half[2, 1], rgb[4, 2] / 255)  # a lone corner pixel, repeated


def test_subpixel_peak_is_the_parabola_vertex() -> None:
    rows, cols = np.mgrid[0:9, 0:9]
    prob = 1 - 0.05 * ((rows - 4.3) ** 2 + (cols - 3.8) ** 2)
    (refined,) = _refine(prob, np.array([[4, 4]]))
    assert refined == pytest.approx([4.3, 3.8], abs=1e-9)
    # Mapped back to full resolution: half pixel i is centred on 2i + 0.5.
    (xy,) = peaks_of(prob.astype(np.float32), (18, 18), 0.5, 6.0)
    assert xy == pytest.approx([2 * 3.8 + 0.5, 2 * 4.3 + 0.5], abs=1e-6)


def test_map_in_pieces_equals_the_whole_map(monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = make_phantom(3, 420, artefacts=False).rgb
    whole = proximity_map(rgb)
    monkeypatch.setattr(nuclei, "PIECE", 64)
    pieces = proximity_map(rgb)
    assert pieces.shape == whole.shape == (210, 210)
    assert np.abs(pieces - whole).max() < 1e-3


def test_blank_and_tiny_images_give_no_nuclei() -> None:
    assert detect_nuclei(np.full((64, 64, 3), 240, dtype=np.uint8)).shape == (0, 2)
    assert detect_nuclei(np.full((1, 1, 3), 240, dtype=np.uint8)).shape == (0, 2)
    assert detect_nuclei(np.full((7, 5, 3), 90, dtype=np.uint8)).shape[1] == 2


def test_answer_is_column_then_row() -> None:
    # A phantom at twice its size (nuclei 14-30 px, the detector's scale), cut so it is not
    # square: the detections match the drawn centres as (x, y), not as (y, x).
    phantom = make_phantom(5, 300, artefacts=False)
    rgb = np.kron(phantom.rgb, np.ones((2, 2, 1), dtype=np.uint8))[:, :480]
    truth = phantom.nuclei * 2 + 0.5
    truth = truth[truth[:, 0] < 470]
    found = detect_nuclei(rgb)
    assert len(found) > 20
    assert found[:, 0].max() < 480 and found[:, 1].max() < 600
    right = score_detections(found, truth, 8.0)
    swapped = score_detections(found[:, ::-1], truth, 8.0)
    assert right.precision > 0.6 and swapped.precision < 0.2
