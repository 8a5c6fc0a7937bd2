"""FCS reader against the 52 real files of ``tests/data/flow`` and their reference values."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from testdata import DATA
from trephine.errors import FileQuirkWarning, ParseError, TrephineError, ValidationError
from trephine.io.fcs import FcsFile, read_fcs

pytestmark = pytest.mark.shared_data


def _manifest_rows() -> list[tuple[str, str, str, str, str]]:
    """(path, version, 'events × channels', spill keyword, FlowIO verdict) per FCS/LMD file."""
    # Collected at import time (parametrize), so the fixture cannot be used.
    manifest = DATA / "flow" / "UPSTREAM-MANIFEST.md"
    rows = []
    section = manifest.read_text(encoding="utf-8").split("## 1. FCS / LMD files", 1)[-1]
    section = section.split("### Multiple data sets", 1)[0]
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append((cells[0].strip("`"), cells[2], cells[5], cells[7], cells[9]))
    return rows


ROWS = _manifest_rows()
REFUSED = {
    "fcs/fcsparser/corrupted/corrupted.fcs",
    "fcs/fcsparser/cytek-nl-2000/sample_header.fcs",
}


def _read(path: Path, dataset: int = 0) -> FcsFile:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FileQuirkWarning)
        return read_fcs(path, dataset=dataset)


def test_manifest_lists_52_files() -> None:
    assert len(ROWS) == 52


@pytest.mark.parametrize(
    ("rel", "version", "shape"), [r[:3] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_every_manifest_file_reads_with_its_shape(
    real_data: Path, rel: str, version: str, shape: str
) -> None:
    path = real_data / "flow" / rel
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
    real_data: Path, rel: str, expected: list[tuple[str, int, int]]
) -> None:
    path = real_data / "flow" / rel
    for i, (version, events, channels) in enumerate(expected):
        f = _read(path, dataset=i)
        assert f.dataset_count == len(expected)
        assert (f.version, f.event_count, f.channel_count) == (version, events, channels)
    with pytest.raises(TrephineError, match="data set"):
        _read(path, dataset=len(expected))


@pytest.mark.parametrize("rel", [m[0] for m in MULTI])
def test_lmd_data_sets_hold_the_same_events(real_data: Path, rel: str) -> None:
    # LMD files store the same events twice: a 10-bit FCS 2.0 copy (in 16-bit words, with the
    # FC500 even declaring $PnB 10) and a 20-bit FCS 3.0 copy. The linear scatter channels (FS,
    # SS) of the masked 10-bit copy equal the 20-bit values shifted down by 10 bits: proof that
    # the mask, the odd $PnB and both layouts are decoded right.
    path = real_data / "flow" / rel
    a, b = _read(path, 0), _read(path, 1)
    assert a.raw.dtype == np.uint16 and int(a.raw.max()) <= 1023
    assert [c.range for c in b.channels[:2]] == [2.0**20, 2.0**20]
    for col in (0, 1):
        assert np.array_equal(a.raw[:, col], (b.raw[:, col] >> 10).astype(np.uint16))


def test_gatingml_data1_matches_flowio_truth(real_data: Path) -> None:
    f = _read(real_data / "flow/gatingml2_compliance/data1.fcs")
    original = np.load(real_data / "flow/fcs/flowio/truth/data1_original_events.npy")
    preprocessed = np.load(real_data / "flow/fcs/flowio/truth/data1_preprocessed.npy")
    assert f.raw.shape == (13367, 8)
    assert np.array_equal(f.raw.astype(np.float64), original)
    np.testing.assert_allclose(f.scaled(), preprocessed, rtol=1e-12, atol=0)


def test_b01_scaled_matches_flowio_truth(real_data: Path) -> None:
    f = _read(real_data / "flow/fcs/flowio/B01_KC-A-W---91-US.fcs")
    truth = np.load(real_data / "flow/fcs/flowio/truth/B01_KC-A-W---91-US_preprocessed_events.npy")
    np.testing.assert_allclose(f.scaled(), truth, rtol=1e-12, atol=0)


# ---- cross-reader agreement ---------------------------------------------------------------------

FLOWIO_OK = [r[0] for r in ROWS if r[0] not in REFUSED and r[4] == "ok"]


@pytest.mark.parametrize("rel", FLOWIO_OK)
def test_raw_and_scaled_equal_flowio(real_data: Path, rel: str) -> None:
    flowio = pytest.importorskip("flowio")
    path = real_data / "flow" / rel
    f = _read(path)
    theirs = flowio.FlowData(str(path))
    assert np.array_equal(f.raw.astype(np.float64), theirs.as_array(preprocess=False))
    if rel.endswith("variable_int_example.fcs"):
        return  # FlowIO refuses its anonymised $TIMESTEP 'xxxxxxxxx'; we warn and use 1
    assert np.array_equal(f.scaled(), theirs.as_array(preprocess=True))


def _oracle_rows(f: FcsFile, rows: list[int]) -> np.ndarray:
    """Decode some events byte by byte with plain Python: an independent check of the
    vectorised decoder (dtype, byte order, odd and mixed widths, $PnR masks)."""
    import struct

    datatype = f.text["$DATATYPE"].strip().upper()
    little = f.text["$BYTEORD"].strip().startswith("1")
    if datatype == "I":
        widths = [(c.bits + 7) // 8 if c.bits % 8 == 0 else 2 for c in f.channels]
    else:
        widths = [c.bits // 8 for c in f.channels]
    row_bytes = sum(widths)
    data = Path(f.path).read_bytes()
    out = []
    for i in rows:
        pos = f.data_offset + i * row_bytes
        values = []
        for c, w in zip(f.channels, widths, strict=True):
            chunk = data[pos : pos + w]
            pos += w
            if datatype == "I":
                v = int.from_bytes(chunk, "little" if little else "big")
                if 1 < c.range <= 2 ** (8 * w):
                    v &= (1 << max(1, (int(c.range) - 1).bit_length())) - 1
                values.append(float(v))
            else:
                fmt = ("<" if little else ">") + ("f" if w == 4 else "d")
                values.append(struct.unpack(fmt, chunk)[0])
        out.append(values)
    return np.array(out, dtype=np.float64)


ORACLE = [r[0] for r in ROWS if r[0] not in REFUSED and r[4] != "ok"]


@pytest.mark.parametrize("rel", ORACLE)
def test_files_flowio_cannot_read_match_a_bytewise_decode(real_data: Path, rel: str) -> None:
    path = real_data / "flow" / rel
    for ds in range(_read(path).dataset_count):
        f = _read(path, ds)
        n = f.event_count
        rows = sorted(i for i in {0, 1, 2, n // 3, n // 2, n - 2, n - 1} if 0 <= i < n)
        assert np.array_equal(f.raw[rows].astype(np.float64), _oracle_rows(f, rows))


@pytest.mark.parametrize("rel", ORACLE)
def test_time_channel_runs_forward(real_data: Path, rel: str) -> None:
    # A DATA offset off by even one byte scrambles every column; a clock that only runs forward
    # proves the offset and the row layout right where no other reader can be compared.
    path = real_data / "flow" / rel
    f = _read(path)
    times = [i for i, c in enumerate(f.channels) if c.is_time]
    if not times:
        pytest.skip("no time channel")
    t = f.raw[:, times[0]].astype(np.int64)
    if "Time MSW" in f.channel_names:  # CyAn: 32-bit clock split into two 16-bit words
        t = t + (f.raw[:, f.channel_index("Time MSW")].astype(np.int64) << 16)
    assert np.all(np.diff(t) >= 0)


def test_blank_header_offsets_read_like_the_original(real_data: Path) -> None:
    fcs = real_data / "flow" / "fcs"
    with pytest.warns(FileQuirkWarning, match="HEADER DATA offsets blank"):
        big = read_fcs(fcs / "fcsparser/fake_large_fcs/fake_large_fcs.fcs")
    orig = _read(fcs / "fcsparser/Fortessa/FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs")
    assert np.array_equal(big.raw, orig.raw)


@pytest.mark.parametrize("which", ["start", "stop"])
def test_offset_discrepancy_files_read_like_the_compliant_one(real_data: Path, which: str) -> None:
    fcs = real_data / "flow" / "fcs"
    with pytest.warns(FileQuirkWarning, match="HEADER and TEXT DATA offsets disagree"):
        odd = read_fcs(fcs / f"flowkit/noncompliant/data_{which}_offset_discrepancy_example.fcs")
    good = _read(fcs / "flowio/variable_int_example.fcs")
    assert np.array_equal(odd.raw, good.raw)


QUIRKS = [
    ("fcs/cytoflow_instruments/Accuri_C6.fcs", "HEADER and TEXT DATA offsets disagree"),
    ("fcs/cytoflow_instruments/Accuri_C6.fcs", "ENDDATA off by one"),
    ("fcs/cytoflow_instruments/Accuri_C6.fcs", "doubled delimiter"),
    ("fcs/cytoflow_instruments/Beckman_Coulter_Cyan.fcs", "HEADER and TEXT DATA offsets disagree"),
    ("fcs/cytoflow_instruments/Partec_CyFlow_v2.9.fcs", "keywords padded with spaces"),
    ("fcs/cytoflow_instruments/Partec_PAS.FCS", "ENDDATA off by one"),
    ("fcs/cytoflow_instruments/Cytek_NL-2000.fcs", "does not end with its delimiter"),
    ("fcs/flowkit/test_comp_example.fcs", "ENDDATA off by one"),
    ("fcs/flowio/variable_int_example.fcs", "SPILL names channel"),
    ("fcs/flowio/variable_int_example.fcs", "TIMESTEP 'xxxxxxxxx' is not a positive number"),
    ("fcs/cytoflow_instruments/Beckman_Coulter_Cytomics_FC500.LMD", "PnB 10 is not a whole"),
]


@pytest.mark.parametrize(("rel", "quirk"), QUIRKS)
def test_tolerated_quirks_are_named(real_data: Path, rel: str, quirk: str) -> None:
    with pytest.warns(FileQuirkWarning, match=quirk):
        f = read_fcs(real_data / "flow" / rel)
    assert any(quirk in q for q in f.quirks)


def test_clean_file_has_no_quirks(real_data: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FileQuirkWarning)
        f = read_fcs(real_data / "flow/gatingml2_compliance/data1.fcs")
    assert f.quirks == []


def test_bit_mask_clears_vendor_bits(real_data: Path) -> None:
    rel = "fcs/cytoflow_instruments/System_II_listmode_with_extra_info_in_bits_D10-D15.LMD"
    path = real_data / "flow" / rel
    f = _read(path)
    stored = np.fromfile(path, dtype="<u2", count=f.event_count * 6, offset=f.data_offset)
    assert int(stored.max()) > 1023  # the vendor bits are really there ...
    assert int(f.raw.max()) <= 1023  # ... and masked away
    assert np.array_equal(f.raw.ravel(), stored & 1023)


# ---- spillover ---------------------------------------------------------------------------------

SPILL_FILES = [r[0] for r in ROWS if r[3] in ("$SPILLOVER", "SPILL") and r[0] not in REFUSED]


@pytest.mark.parametrize("rel", SPILL_FILES)
def test_spillover_keyword(real_data: Path, rel: str) -> None:
    f = _read(real_data / "flow" / rel)
    key = "$SPILLOVER" if "$SPILLOVER" in f.text else "SPILL"
    n = int(f.text[key].split(",")[0])
    fields = f.text[key].split(",")
    if "xxxxxxxx" in f.text[key] or len(fields) != 1 + n + n * n:
        assert f.spillover is None  # anonymised names / matrix missing: ignored with a quirk
        assert any(key in q for q in f.quirks)
        return
    assert f.spillover is not None
    assert f.spillover.matrix.shape == (n, n)
    assert set(f.spillover.channels) <= set(f.channel_names)
    assert np.array_equal(f.spillover.matrix.ravel(), [float(x) for x in fields[1 + n :]])


def test_gallios_second_data_set_spillover_by_parameter_number(real_data: Path) -> None:
    path = real_data / "flow/fcs/cytoflow_instruments/Beckman_Coulter_Gallios.LMD"
    with pytest.warns(FileQuirkWarning, match="parameter number"):
        f = read_fcs(path, dataset=1)
    assert f.spillover is not None
    assert f.spillover.channels == [f.channel_names[2], f.channel_names[3]]
    assert np.array_equal(f.spillover.matrix, np.eye(2))


# ---- refusals -----------------------------------------------------------------------------------


def test_truncated_data_is_refused_with_offset(real_data: Path, tmp_path: Path) -> None:
    blob = (real_data / "flow/gatingml2_compliance/data1.fcs").read_bytes()
    cut = tmp_path / "cut.fcs"
    cut.write_bytes(blob[:-1000])
    with pytest.raises(ParseError, match="DATA truncated") as info:
        read_fcs(cut)
    assert info.value.location is not None
    assert info.value.location.offset == len(blob) - 1000
    assert info.value.location.source == str(cut)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "HEADER needs 58 bytes"),
        (b"hello world, this is not a flow file at all, just some text\n" * 3, "not an FCS file"),
        (b"FCS3.0    " + b"     abc" + b" " * 60, "not a number"),
        (b"FCS3.0    " + b"      58" + b"   99999" + b" " * 60, "beyond the end of the file"),
    ],
)
def test_non_fcs_is_refused(tmp_path: Path, content: bytes, match: str) -> None:
    p = tmp_path / "x.fcs"
    p.write_bytes(content)
    with pytest.raises(ParseError, match=match) as info:
        read_fcs(p)
    assert info.value.location is not None and info.value.location.offset is not None
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="cannot open"):
        read_fcs(tmp_path / "nope.fcs")


def test_channel_index_by_name_and_marker(real_data: Path) -> None:
    f = _read(real_data / "flow/fcs/flowio/B01_KC-A-W---91-US.fcs")
    assert f.channel_index("FL1-A") == 2
    assert f.channel_index("FITC-A") == 2
    with pytest.raises(ValidationError, match="allowed: FSC-A"):
        f.channel_index("CD34")


@pytest.mark.parametrize("rel", [r[0] for r in ROWS if r[0] not in REFUSED][::5])
def test_metadata_only_read_agrees(real_data: Path, rel: str) -> None:
    full = _read(real_data / "flow" / rel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FileQuirkWarning)
        meta = read_fcs(real_data / "flow" / rel, events=False)
    assert not meta.events_loaded and full.events_loaded
    assert meta.raw.shape == (0, full.channel_count)
    assert (meta.event_count, meta.channels, meta.text) == (
        full.event_count,
        full.channels,
        full.text,
    )


def test_metadata_only_read_still_refuses_truncated_data(real_data: Path) -> None:
    path = real_data / "flow/fcs/fcsparser/cytek-nl-2000/sample_header.fcs"
    with pytest.raises(ParseError, match="DATA truncated"):
        read_fcs(path, events=False)


FLOWCAL_NAMES = {
    "Data001.fcs": ["FSC-H", "SSC-H", "FL1-H", "FL2-H", "FL3-H", "Time"],
    "Data002.fcs": [
        "FSC-A", "SSC-A", "FITC-A", "PE-A", "PerCP-Cy5-5-A", "PE-Cy7-A", "APC-A", "APC-Cy7-A",
        "Time",
    ],
    "Data003.fcs": ["TIME", "FSC", "SSC", "FL1", "FL2", "FL3", "FSCW", "FSCA"],
    "Data004.fcs": [
        "FSC-A", "FSC-H", "FSC-W", "SSC-A", "SSC-H", "SSC-W", "FSC PMT-A", "FSC PMT-H",
        "FSC PMT-W", "GFP-A", "GFP-H", "mCherry-A", "mCherry-H", "Time",
    ],
}  # fmt: skip


@pytest.mark.parametrize(("name", "channels"), FLOWCAL_NAMES.items())
def test_flowcal_channel_names(real_data: Path, name: str, channels: list[str]) -> None:
    # Names and shapes from FlowCal's own tests, as quoted in the manifest.
    f = _read(real_data / "flow/fcs/flowcal" / name)
    assert f.channel_names == channels
