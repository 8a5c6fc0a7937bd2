"""Compensation: applying a spillover matrix, reading matrix files, estimating from controls."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trephine.analysis.flow.compensation import Spillover, compensate, spillover_from_controls
from trephine.errors import FileQuirkWarning, ParseError, ValidationError
from trephine.io.fcs import FcsFile, read_fcs
from trephine.io.spillover import read_spillover_matrix, spillover_from_fcs_controls


def _read(path: Path) -> FcsFile:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FileQuirkWarning)
        return read_fcs(path)


# ---- applying a matrix ---------------------------------------------------------------------


def test_compensation_undoes_spillover_and_leaves_other_channels() -> None:
    rng = np.random.default_rng(3)
    true = rng.gamma(2.0, 500.0, size=(5000, 3))
    spill = Spillover(
        ["FITC-A", "PE-A", "APC-A"], np.array([[1, 0.2, 0.01], [0.05, 1, 0.3], [0, 0.02, 1]])
    )
    fsc = rng.normal(50000, 1000, size=5000)
    # Columns in a different order than the matrix, with an unrelated scatter channel between.
    events = np.column_stack([(true @ spill.matrix)[:, 2], fsc, (true @ spill.matrix)[:, :2]])
    names = ["APC-A", "FSC-A", "FITC-A", "PE-A"]
    out = compensate(events, names, spill)
    assert out is not events and out.dtype == np.float64
    np.testing.assert_allclose(out[:, [2, 3, 0]], true, rtol=1e-10, atol=1e-8)
    assert np.array_equal(out[:, 1], fsc)
    assert np.array_equal(events[:, 1], fsc) and not np.allclose(events[:, 0], true[:, 2])


@settings(max_examples=50, deadline=None)
@given(
    off=arrays(np.float64, (4, 4), elements=st.floats(0.0, 0.4)),
    true=arrays(np.float64, (30, 4), elements=st.floats(-1e4, 1e6)),
)
def test_compensation_inverts_any_diagonally_dominant_spillover(
    off: np.ndarray, true: np.ndarray
) -> None:
    m = off.copy()
    np.fill_diagonal(m, 1.0)
    names = ["a", "b", "c", "d"]
    out = compensate(true @ m, names, Spillover(names, m))
    np.testing.assert_allclose(out, true, rtol=1e-7, atol=1e-6 * (1 + np.abs(true).max()))


def test_compensation_refuses_unknown_channels_and_singular_matrices() -> None:
    events = np.ones((3, 2))
    with pytest.raises(ValidationError, match="'PE-A'"):
        compensate(events, ["FSC-A", "FITC-A"], Spillover(["FITC-A", "PE-A"], np.eye(2)))
    with pytest.raises(ValidationError, match="invertible"):
        compensate(events, ["A", "B"], Spillover(["A", "B"], np.ones((2, 2))))
    with pytest.raises(ValidationError, match="square"):
        Spillover(["A", "B"], np.eye(3))


@pytest.mark.shared_data
def test_file_spillover_matches_flowutils(real_data: Path) -> None:
    flowutils = pytest.importorskip("flowutils")
    f = _read(real_data / "flow/fcs/flowkit/test_comp_example.fcs")
    assert f.spillover is not None
    ours = compensate(f.raw, f.channel_names, f.spillover)
    idx = [f.channel_index(c) for c in f.spillover.channels]
    theirs = flowutils.compensate.compensate(f.raw.astype(np.float64), f.spillover.matrix, idx)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


# ---- matrix files --------------------------------------------------------------------------


@pytest.mark.shared_data
def test_flowjo_csv_matrix_and_the_file_spillover_agree(real_data: Path) -> None:
    csv_matrix = read_spillover_matrix(real_data / "flow/fcs/flowkit/comp_complete_example.csv")
    f = _read(real_data / "flow/fcs/flowkit/test_comp_example.fcs")
    assert len(csv_matrix.channels) == 14
    assert set(csv_matrix.channels) <= set(f.channel_names)
    assert csv_matrix.matrix[0, :2].tolist() == [1.0, 0.2986]
    np.testing.assert_allclose(np.diag(csv_matrix.matrix), 1.0)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("rel", "n", "first_row"),
    [
        ("compensation/flowcore_compdata/compmatrix", 4, [1, 0.24, 0.032, 1.13e-3]),
        ("flowjo_wsp/8_color_data_set_no_fcs/den_comp.csv", 8, None),
        ("flowjo_wsp/8_color_data_set_no_fcs/den_comp_null_channel.csv", 7, None),
        ("compensation/flowcore_compdata/compref", 4, None),
    ],
)
def test_matrix_file_layouts(
    real_data: Path, rel: str, n: int, first_row: list[float] | None
) -> None:
    s = read_spillover_matrix(real_data / "flow" / rel)
    assert s.matrix.shape == (n, n)
    assert all(name and not name.startswith(("#", '"')) for name in s.channels)
    np.testing.assert_allclose(np.diag(s.matrix), 1.0)
    if first_row is not None:
        np.testing.assert_allclose(s.matrix[0], first_row)


def test_row_labels_reorder_rows(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("det,A,B\nB,0.1,1\nA,1,0.2\n")
    s = read_spillover_matrix(p)
    assert s.channels == ["A", "B"]
    assert s.matrix.tolist() == [[1.0, 0.2], [0.1, 1.0]]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("A,B\n1,0\n", "2 detector names but 1 matrix rows"),
        ("A,B\n1,0\n0\n", "no header row|row has 1 values"),
        ("A,B\nx,y\n", "no header row"),
    ],
)
def test_bad_matrix_files_are_refused_with_their_row(
    tmp_path: Path, content: str, match: str
) -> None:
    p = tmp_path / "m.csv"
    p.write_text(content)
    with pytest.raises(ParseError, match=match) as info:
        read_spillover_matrix(p)
    assert info.value.location is not None and info.value.location.source == str(p)


# ---- spillover from single-stain controls --------------------------------------------------


def _comp_controls(real_data: Path, swap: bool = False) -> Spillover:
    base = real_data / "flow/compensation/flowcore_compdata"
    match = dict(line.split(",") for line in (base / "comp_match").read_text().split()[1:] if line)
    files = {channel: base / "data" / name for name, channel in match.items()}
    if swap:  # the wrong file-to-channel match that compref2 was made with
        files["FL3-H"], files["FL4-H"] = files["FL4-H"], files["FL3-H"]
    unstained = _read(files.pop("unstained"))
    return spillover_from_fcs_controls(
        unstained, {ch: _read(p) for ch, p in files.items()}, ["FL1-H", "FL2-H", "FL3-H", "FL4-H"]
    )


@pytest.mark.shared_data
def test_single_stain_controls_reproduce_flowcore_reference(real_data: Path) -> None:
    ref = read_spillover_matrix(real_data / "flow/compensation/flowcore_compdata/compref")
    est = _comp_controls(real_data)
    assert est.channels == ref.channels
    assert np.abs(est.matrix - ref.matrix).max() < 1e-6


@pytest.mark.shared_data
def test_wrong_control_match_gives_the_wrong_reference(real_data: Path) -> None:
    base = real_data / "flow/compensation/flowcore_compdata"
    ref = read_spillover_matrix(base / "compref")
    # compref2 stores the swapped rows under the original labels: read it without reordering.
    wrong_rows = np.loadtxt(base / "compref2", skiprows=1, usecols=range(1, 5))
    good = _comp_controls(real_data)
    assert np.abs(good.matrix - wrong_rows).max() > 0.1
    assert np.abs(good.matrix - ref.matrix).max() < 1e-6


def test_controls_estimate_is_exact_on_synthetic_data() -> None:
    rng = np.random.default_rng(11)
    s = np.array([[1.0, 0.3, 0.05], [0.02, 1.0, 0.2], [0.0, 0.1, 1.0]])
    background = np.array([100.0, 80.0, 60.0])
    names = ["A", "B", "C"]
    n = 2001
    unstained = np.tile(background, (n, 1))
    stained = {}
    for i, name in enumerate(names):
        dye = np.zeros((n, 3))
        dye[:, i] = rng.uniform(1000, 5000, n)
        stained[name] = dye @ s + background
    est = spillover_from_controls(unstained, stained, names)
    np.testing.assert_allclose(est.matrix, s, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValidationError, match="one single-stain control per channel"):
        spillover_from_controls(unstained, {"A": stained["A"]}, names)
    with pytest.raises(ValidationError, match="brighter"):
        spillover_from_controls(unstained, {**stained, "B": unstained}, names)


def test_inf_in_an_uncompensated_column_stays_there() -> None:
    events = np.array([[np.inf, 100.0, 10.0, 5.0], [1.0, 100.0, 10.0, 5.0]])
    names = ["Time", "A", "FSC", "B"]  # non-contiguous spillover columns A and B
    spill = Spillover(["A", "B"], np.array([[1.0, 0.1], [0.0, 1.0]]))
    out = compensate(events, names, spill)
    np.testing.assert_allclose(out[:, [1, 3]], [[100.0, -5.0], [100.0, -5.0]])
    assert out[0, 0] == np.inf and np.array_equal(out[:, 2], events[:, 2])
