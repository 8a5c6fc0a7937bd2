"""Hand-built FCS files for the layouts no shared file has: $DATATYPE D, both byte orders of
every type, 8/24/64-bit integers, odd delimiters, missing keywords, $PnE/$PnG/$TIMESTEP."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from trephine.errors import FileQuirkWarning, ParseError, ValidationError
from trephine.io.fcs import read_fcs


def build(
    keywords: dict[str, str],
    payload: bytes,
    *,
    delim: bytes = b"/",
    version: bytes = b"FCS3.0",
    header_data: bool = True,
    text_suffix: bytes = b"",
) -> bytes:
    """An FCS file with TEXT at byte 58 and DATA right after it."""

    def text_for(begin: int) -> bytes:
        kw = dict(keywords)
        kw.setdefault("$BEGINDATA", str(begin))
        kw.setdefault("$ENDDATA", str(begin + len(payload) - 1))
        body = b"".join(
            k.encode() + delim + v.encode().replace(delim, delim + delim) + delim
            for k, v in kw.items()
        )
        return delim + body + text_suffix

    begin = 58
    for _ in range(5):
        text = text_for(begin)
        begin = 58 + len(text)
    text = text_for(begin)
    end = begin + len(payload) - 1
    fields = [58, 58 + len(text) - 1, begin if header_data else 0, end if header_data else 0, 0, 0]
    head = version + b"    " + b"".join(f"{v:>8d}".encode() for v in fields)
    return head + text + payload


def channels(n: int, bits: list[int], ranges: list[int], **extra: str) -> dict[str, str]:
    kw = {"$PAR": str(n), "$MODE": "L"}
    for i in range(1, n + 1):
        kw[f"$P{i}N"] = f"ch{i}"
        kw[f"$P{i}B"] = str(bits[i - 1])
        kw[f"$P{i}R"] = str(ranges[i - 1])
        kw[f"$P{i}E"] = "0,0"
    kw.update(extra)
    return kw


def write(tmp_path: Path, blob: bytes) -> Path:
    p = tmp_path / "t.fcs"
    p.write_bytes(blob)
    return p


@pytest.mark.parametrize("order", ["1,2,3,4,5,6,7,8", "8,7,6,5,4,3,2,1"])
def test_double_both_byte_orders(tmp_path: Path, order: str) -> None:
    data = np.array([[1.5, -2.25], [1e300, np.pi]])
    dtype = "<f8" if order.startswith("1") else ">f8"
    kw = channels(2, [64, 64], [1024, 1024], **{"$DATATYPE": "D", "$BYTEORD": order, "$TOT": "2"})
    f = read_fcs(write(tmp_path, build(kw, data.astype(dtype).tobytes())))
    assert f.raw.dtype == np.float64 and f.raw.dtype.isnative
    assert np.array_equal(f.raw, data)


@pytest.mark.parametrize("order", ["1,2,3,4", "4,3,2,1"])
def test_float_both_byte_orders(tmp_path: Path, order: str) -> None:
    data = np.array([[1.5, -2.25, 3e7]], dtype=np.float32)
    dtype = "<f4" if order.startswith("1") else ">f4"
    kw = channels(3, [32] * 3, [1024] * 3, **{"$DATATYPE": "F", "$BYTEORD": order, "$TOT": "1"})
    f = read_fcs(write(tmp_path, build(kw, data.astype(dtype).tobytes())))
    assert f.raw.dtype == np.float32 and f.raw.dtype.isnative
    assert np.array_equal(f.raw, data)


@pytest.mark.parametrize("little", [True, False])
def test_mixed_8_24_32_64_bit_integers_with_masks(tmp_path: Path, little: bool) -> None:
    rng = np.random.default_rng(5)
    widths = [1, 3, 4, 8, 2]
    ranges = [256, 2**24, 1000, 2**40, 1024]  # 1000 -> 10-bit mask, 1024 -> 10-bit mask
    n = 50
    cols = [rng.integers(0, 2 ** (8 * w), size=n, dtype=np.uint64) for w in widths]
    order: Literal["little", "big"] = "little" if little else "big"
    payload = b"".join(
        b"".join(int(cols[c][i]).to_bytes(w, order) for c, w in enumerate(widths)) for i in range(n)
    )
    kw = channels(
        5,
        [8 * w for w in widths],
        ranges,
        **{"$DATATYPE": "I", "$BYTEORD": "1,2,3,4" if little else "4,3,2,1", "$TOT": str(n)},
    )
    f = read_fcs(write(tmp_path, build(kw, payload)))
    masks = [255, 2**24 - 1, 1023, 2**40 - 1, 1023]
    expected = np.column_stack([c & np.uint64(m) for c, m in zip(cols, masks, strict=True)])
    assert f.raw.dtype == np.uint64
    assert np.array_equal(f.raw.astype(np.uint64), expected)


@pytest.mark.parametrize("bits", [8, 16, 32])
@pytest.mark.parametrize("little", [True, False])
def test_uniform_integer_widths(tmp_path: Path, bits: int, little: bool) -> None:
    dtype = np.dtype(f"{'<' if little else '>'}u{bits // 8}")
    data = np.arange(12, dtype=np.uint64).reshape(4, 3) * (2 ** (bits - 4) - 1)
    kw = channels(
        3,
        [bits] * 3,
        [2**bits] * 3,
        **{"$DATATYPE": "I", "$BYTEORD": "1,2,3,4" if little else "4,3,2,1", "$TOT": "4"},
    )
    f = read_fcs(write(tmp_path, build(kw, data.astype(dtype).tobytes())))
    assert f.raw.dtype == np.dtype(f"u{bits // 8}") and f.raw.dtype.isnative
    assert np.array_equal(f.raw.astype(np.uint64), data)


def test_ten_bit_values_in_sixteen_bit_words(tmp_path: Path) -> None:
    words = np.array([[0xFC00 | 5, 1023], [0x8000 | 1000, 0]], dtype="<u2")
    kw = channels(2, [10, 10], [1024, 1024], **{"$DATATYPE": "I", "$BYTEORD": "1,2", "$TOT": "2"})
    f = read_fcs(write(tmp_path, build(kw, words.tobytes(), version=b"FCS2.0")))
    assert f.raw.tolist() == [[5, 1023], [1000, 0]]


@pytest.mark.parametrize("delim", [b"\\", b"\x0c", b"|", b"!"])
def test_delimiters_and_doubled_delimiter_escapes(tmp_path: Path, delim: bytes) -> None:
    d = delim.decode()
    kw = channels(1, [32], [1024], **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "1"})
    kw["$P1S"] = f"CD3{d}CD19"  # escaped by doubling inside build()
    kw["NOTE"] = f"a{d}{d}b"
    f = read_fcs(write(tmp_path, build(kw, np.array([7], dtype=np.float32).tobytes(), delim=delim)))
    assert f.channels[0].marker == f"CD3{d}CD19"
    assert f.text["NOTE"] == f"a{d}{d}b"
    assert f.raw.tolist() == [[7.0]]


def test_space_padded_numbers_and_keywords(tmp_path: Path) -> None:
    kw = {
        "  $PAR": " 1 ",
        "$DATATYPE": "F",
        " $BYTEORD": "1,2,3,4",
        "$TOT": "   2",
        "$P1B": "32  ",
        "$P1R": " 1024",
        "$P1N": "FSC",
    }
    with pytest.warns(FileQuirkWarning, match="padded with spaces"):
        f = read_fcs(write(tmp_path, build(kw, np.array([1, 2], dtype=np.float32).tobytes())))
    assert f.raw.ravel().tolist() == [1.0, 2.0]


def test_missing_tot_is_inferred(tmp_path: Path) -> None:
    kw = channels(2, [16, 16], [1024, 1024], **{"$DATATYPE": "I", "$BYTEORD": "1,2"})
    payload = np.arange(6, dtype="<u2").tobytes()
    with pytest.warns(FileQuirkWarning, match=r"\$TOT missing; 3 events"):
        f = read_fcs(write(tmp_path, build(kw, payload, version=b"FCS2.0")))
    assert f.raw.tolist() == [[0, 1], [2, 3], [4, 5]]


def test_scaled_applies_log_gain_and_timestep(tmp_path: Path) -> None:
    kw = channels(
        3,
        [16, 16, 16],
        [1024, 1024, 1024],
        **{
            "$DATATYPE": "I",
            "$BYTEORD": "1,2",
            "$TOT": "2",
            "$TIMESTEP": "0.5",
            "$P1E": "4,0",
            "$P2G": "2.0",
            "$P3N": "Time",
            "$P3G": "4.0",
        },
    )
    payload = np.array([[0, 10, 100], [512, 20, 200]], dtype="<u2").tobytes()
    f = read_fcs(write(tmp_path, build(kw, payload)))
    assert f.channels[0].amp_offset == 1.0  # "4,0" means f2 = 1
    np.testing.assert_allclose(f.scaled(), [[1.0, 5.0, 50.0], [100.0, 10.0, 100.0]], rtol=1e-14)
    assert f.raw.tolist() == [[0, 10, 100], [512, 20, 200]]  # raw stays raw


@pytest.mark.parametrize(
    ("extra", "field", "allowed"),
    [
        ({"$BYTEORD": "3,4,1,2"}, "$BYTEORD", "1,2,3,4"),
        ({"$DATATYPE": "A"}, "$DATATYPE", "I, F, D"),
        ({"$MODE": "C"}, "$MODE", "L"),
        ({"$P1B": "16"}, "$P1B", "32"),
        ({"$P1B": "*"}, "$P1B", "bit width"),
        ({"$TOT": "-3"}, "$TOT", ">= 0"),
    ],
)
def test_unsupported_keywords_name_field_and_allowed_values(
    tmp_path: Path, extra: dict[str, str], field: str, allowed: str
) -> None:
    kw = channels(1, [32], [1024], **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "1"})
    kw.update(extra)
    path = write(tmp_path, build(kw, np.array([1], dtype=np.float32).tobytes()))
    with pytest.raises(ValidationError) as info:
        read_fcs(path)
    err = info.value
    assert err.field == field
    assert allowed in (err.allowed or "")
    assert err.location is not None and err.location.source == str(path)


def test_blank_header_and_no_text_offsets_is_refused(tmp_path: Path) -> None:
    kw = channels(1, [32], [1024], **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "1"})
    kw["$BEGINDATA"] = "0"
    kw["$ENDDATA"] = "0"
    path = write(tmp_path, build(kw, np.array([1], dtype=np.float32).tobytes(), header_data=False))
    with pytest.raises(ParseError, match="no DATA offsets") as info:
        read_fcs(path)
    assert info.value.location is not None and info.value.location.offset == 26


def test_data_shorter_than_tot_is_refused(tmp_path: Path) -> None:
    kw = channels(1, [32], [1024], **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "5"})
    blob = build(kw, np.array([1, 2], dtype=np.float32).tobytes())
    with pytest.raises(ParseError, match="DATA truncated: 5 events x 4 bytes") as info:
        read_fcs(write(tmp_path, blob))
    assert info.value.location is not None and info.value.location.offset == len(blob)


def test_nul_after_final_delimiter(tmp_path: Path) -> None:
    kw = channels(1, [32], [1024], **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "1"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = read_fcs(
            write(
                tmp_path, build(kw, np.array([3], dtype=np.float32).tobytes(), text_suffix=b"\x00")
            )
        )
    assert f.raw.tolist() == [[3.0]]
    assert any("padding after its final delimiter" in str(w.message) for w in caught)


def test_scaled_columns_subset_and_bad_timestep(tmp_path: Path) -> None:
    kw = channels(
        2,
        [16, 16],
        [1024, 1024],
        **{"$DATATYPE": "I", "$BYTEORD": "1,2", "$TOT": "1", "$TIMESTEP": "xx", "$P2N": "Time"},
    )
    kw["$P1E"] = "2,1"
    payload = np.array([[512, 7]], dtype="<u2").tobytes()
    with pytest.warns(FileQuirkWarning, match=r"\$TIMESTEP 'xx' is not a positive number"):
        f = read_fcs(write(tmp_path, build(kw, payload)))
    assert f.timestep == 1.0
    np.testing.assert_allclose(f.scaled([1, 0]), [[7.0, 10.0]], rtol=1e-14)
    assert np.array_equal(f.scaled([0]), f.scaled()[:, [0]])
    with pytest.raises(ValidationError, match="columns"):
        f.scaled([2])


def test_scaled_rows_scale_only_the_events_asked_for(tmp_path: Path) -> None:
    # Log decoding, a gain, and $TIMESTEP on the time channel: every scaling rule, per row subset.
    kw = channels(
        3,
        [16, 16, 16],
        [1024, 1024, 1024],
        **{
            "$DATATYPE": "I",
            "$BYTEORD": "1,2",
            "$TOT": "5",
            "$TIMESTEP": "0.5",
            "$P1E": "4,1",
            "$P2G": "2.0",
            "$P3N": "Time",
        },
    )
    payload = np.array(
        [[0, 10, 100], [256, 20, 200], [512, 30, 300], [768, 40, 400], [1023, 50, 500]],
        dtype="<u2",
    ).tobytes()
    f = read_fcs(write(tmp_path, build(kw, payload)))
    everything = f.scaled()
    mask = np.array([True, False, True, False, True])
    picks = np.array([4, 0, 2])
    for rows in (slice(1, 4), picks, mask):
        for cols in ([2, 0], [1], [0, 1, 2]):
            np.testing.assert_array_equal(f.scaled(cols, rows=rows), everything[rows][:, cols])
        np.testing.assert_array_equal(f.scaled(rows=rows), everything[rows])
    np.testing.assert_allclose(
        f.scaled([0, 2], rows=picks), [[10 ** (4 * 1023 / 1024), 250.0], [1.0, 50.0], [1e2, 150.0]]
    )
    assert f.scaled([1], rows=slice(5, 5)).shape == (0, 1)
    assert f.raw[:, 1].tolist() == [10, 20, 30, 40, 50]  # raw stays raw


def test_comp_keyword_without_names_covers_first_channels(tmp_path: Path) -> None:
    kw = channels(3, [32] * 3, [1024] * 3, **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "1"})
    kw["$COMP"] = "2,1,0.5,0,1"
    f = read_fcs(write(tmp_path, build(kw, np.array([1, 2, 3], dtype=np.float32).tobytes())))
    assert f.spillover is not None
    assert f.spillover.channels == ["ch1", "ch2"]
    assert f.spillover.matrix.tolist() == [[1.0, 0.5], [0.0, 1.0]]


def test_spillover_named_by_marker_maps_to_channel_names(tmp_path: Path) -> None:
    kw = channels(2, [32] * 2, [1024] * 2, **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "1"})
    kw["$P1S"], kw["$P2S"] = "CD34", "CD117"
    kw["$SPILLOVER"] = "2,CD117,CD34,1,0.1,0.2,1"
    f = read_fcs(write(tmp_path, build(kw, np.array([1, 2], dtype=np.float32).tobytes())))
    assert f.spillover is not None and f.spillover.channels == ["ch2", "ch1"]


@pytest.mark.parametrize(("s0", "s1"), [("-40", "20"), ("10", "5"), ("100000", "100010")])
def test_impossible_supplemental_text_offsets_are_ignored(tmp_path: Path, s0: str, s1: str) -> None:
    # Found by fuzzing: a negative $BEGINSTEXT made the reader seek before the file start.
    kw = channels(1, [32], [1024], **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "1"})
    kw["$BEGINSTEXT"], kw["$ENDSTEXT"] = s0, s1
    f = read_fcs(write(tmp_path, build(kw, np.array([4], dtype=np.float32).tobytes())))
    assert f.raw.tolist() == [[4.0]]


def test_garbage_text_data_offsets_fall_back_to_header(tmp_path: Path) -> None:
    kw = channels(1, [32], [1024], **{"$DATATYPE": "F", "$BYTEORD": "1,2,3,4", "$TOT": "1"})
    kw["$BEGINDATA"], kw["$ENDDATA"] = "n/a", "n/a"
    with pytest.warns(FileQuirkWarning, match="HEADER DATA offsets used"):
        f = read_fcs(write(tmp_path, build(kw, np.array([9], dtype=np.float32).tobytes())))
    assert f.raw.tolist() == [[9.0]]
