"""FCS reader against the 52 real files of ``shared/data/flow`` and their reference values."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from trephine.errors import FileQuirkWarning, ParseError, TrephineError
from trephine.io.fcs import read_fcs

pytestmark = pytest.mark.shared_data

_ROW = re.compile(r"^\| `([^`]+)` \| [^|]+ \| ([^|]+) \| [^|]+ \| [^|]+ \| ([^|]+) \|")


def _manifest_rows() -> list[tuple[str, str, str]]:
    """(path, version, 'events × channels') of every FCS/LMD file the manifest lists."""
    # Collected at import time (parametrize), so the fixture cannot be used; same rule as
    # tests/conftest.py.
    shared = Path(
        os.environ.get("TREPHINE_SHARED", Path(__file__).resolve().parents[2].parent / "shared")
    )
    manifest = shared / "data" / "flow" / "MANIFEST.md"
    if not manifest.is_file():
        return []
    rows = []
    section = manifest.read_text(encoding="utf-8").split("## 1. FCS / LMD files", 1)[-1]
    section = section.split("### Multiple data sets", 1)[0]
    for line in section.splitlines():
        m = _ROW.match(line)
        if m:
            rows.append((m.group(1), m.group(2).strip(), m.group(3).strip()))
    return rows


ROWS = _manifest_rows()
REFUSED = {
    "fcs/fcsparser/corrupted/corrupted.fcs",
    "fcs/fcsparser/cytek-nl-2000/sample_header.fcs",
}


def _read(path: Path, dataset: int = 0):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FileQuirkWarning)
        return read_fcs(path, dataset=dataset)


def test_manifest_lists_52_files() -> None:
    assert len(ROWS) == 52


@pytest.mark.parametrize(("rel", "version", "shape"), ROWS, ids=[r[0] for r in ROWS])
def test_every_manifest_file_reads_with_its_shape(
    shared_data: Path, rel: str, version: str, shape: str
) -> None:
    path = shared_data / "flow" / rel
    if rel in REFUSED:
        with pytest.raises(ParseError) as info:
            _read(path)
        err = info.value
        assert err.location is not None and err.location.offset is not None
        assert err.location.source == str(path)
        assert "\n" not in str(err)
        return
    f = _read(path)
    events, channels = (int(x) for x in shape.split("×"))
    assert (f.event_count, f.channel_count) == (events, channels)
    assert f.raw.shape == (events, channels)
    assert f.version == "FCS" + version
    assert f.text["$PAR"].strip() == str(channels)


MULTI = [
    ("fcs/flowkit/multi_dataset_fcs/coulter.lmd", [("FCS2.0", 18110, 8), ("FCS3.0", 18110, 8)]),
    (
        "fcs/cytoflow_instruments/Beckman_Coulter_Gallios.LMD",
        [("FCS2.0", 26383, 6), ("FCS3.0", 26383, 5)],
    ),
    (
        "fcs/cytoflow_instruments/Beckman_Coulter_Cytomics_FC500.LMD",
        [("FCS2.0", 27072, 4), ("FCS3.0", 27072, 8)],
    ),
]


@pytest.mark.parametrize(("rel", "expected"), MULTI, ids=[m[0] for m in MULTI])
def test_multiple_data_sets(
    shared_data: Path, rel: str, expected: list[tuple[str, int, int]]
) -> None:
    path = shared_data / "flow" / rel
    for i, (version, events, channels) in enumerate(expected):
        f = _read(path, dataset=i)
        assert f.dataset_count == len(expected)
        assert (f.version, f.event_count, f.channel_count) == (version, events, channels)
    with pytest.raises(TrephineError, match="data set"):
        _read(path, dataset=len(expected))


def test_lmd_data_sets_hold_the_same_events(shared_data: Path) -> None:
    # LMD files store the same events twice: a 10-bit FCS 2.0 copy and a 20-bit FCS 3.0 copy.
    # The linear scatter channels (FS, SS) of the masked 10-bit copy equal the 20-bit values
    # shifted down by 10 bits: proof that the mask and both layouts are decoded right.
    path = shared_data / "flow" / "fcs/flowkit/multi_dataset_fcs/coulter.lmd"
    a, b = _read(path, 0), _read(path, 1)
    assert a.raw.dtype == np.uint16 and int(a.raw.max()) <= 1023
    assert [c.range for c in b.channels[:2]] == [2.0**20, 2.0**20]
    for col in (0, 1):
        assert np.array_equal(a.raw[:, col], (b.raw[:, col] >> 10).astype(np.uint16))


def test_gatingml_data1_matches_flowio_truth(shared_data: Path) -> None:
    f = _read(shared_data / "flow/gatingml2_compliance/data1.fcs")
    original = np.load(shared_data / "flow/fcs/flowio/truth/data1_original_events.npy")
    preprocessed = np.load(shared_data / "flow/fcs/flowio/truth/data1_preprocessed.npy")
    assert f.raw.shape == (13367, 8)
    assert np.array_equal(f.raw.astype(np.float64), original)
    np.testing.assert_allclose(f.scaled(), preprocessed, rtol=1e-12, atol=0)


def test_b01_scaled_matches_flowio_truth(shared_data: Path) -> None:
    f = _read(shared_data / "flow/fcs/flowio/B01_KC-A-W---91-US.fcs")
    truth = np.load(
        shared_data / "flow/fcs/flowio/truth/B01_KC-A-W---91-US_preprocessed_events.npy"
    )
    np.testing.assert_allclose(f.scaled(), truth, rtol=1e-12, atol=0)
