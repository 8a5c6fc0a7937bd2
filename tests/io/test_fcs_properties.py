"""Property tests of the FCS reader and writer (Hypothesis, small synthetic files)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trephine.errors import FileQuirkWarning, TrephineError, ValidationError
from trephine.io.fcs import Spillover, read_fcs, write_fcs

# Names and values exercise the TEXT encoding: delimiters, non-ASCII, inner spaces.
_NAME_CHARS = st.characters(
    codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters=","
)
names = st.text(_NAME_CHARS, min_size=1, max_size=12).map(str.strip).filter(bool)
values = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1)


@dataclass
class Content:
    data: np.ndarray
    chans: list[str]
    markers: list[str | None]
    text: dict[str, str]
    spill: Spillover | None


@st.composite
def fcs_content(draw: st.DrawFn) -> Content:
    nch = draw(st.integers(1, 6))
    nev = draw(st.integers(0, 40))
    data = draw(arrays(np.float32, (nev, nch), elements=st.floats(width=32, allow_nan=True)))
    chans = draw(st.lists(names, min_size=nch, max_size=nch, unique=True))
    markers = draw(st.lists(st.none() | names, min_size=nch, max_size=nch))
    extra_keys = draw(
        st.lists(
            st.text(st.characters(codec="ascii", categories=("Lu", "N")), min_size=1, max_size=8),
            max_size=4,
            unique=True,
        )
    )
    text = {f"X{k}": draw(values) for k in extra_keys}
    spill = None
    if draw(st.booleans()):
        k = draw(st.integers(1, nch))
        m = np.eye(k) + draw(arrays(np.float64, (k, k), elements=st.floats(0, 0.5)))
        np.fill_diagonal(m, 1.0)
        spill = Spillover(chans[:k], m)
    return Content(data, chans, markers, text, spill)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=fcs_content())
def test_write_then_read_round_trips(tmp_path: Path, content: Content) -> None:
    path = tmp_path / "rt.fcs"
    write_fcs(
        path,
        content.data,
        content.chans,
        markers=content.markers,
        text=content.text,
        spillover=content.spill,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", FileQuirkWarning)  # our own files have no quirks
        f = read_fcs(path)
    assert f.version == "FCS3.1"
    assert f.raw.dtype == np.float32
    assert f.raw.shape == content.data.shape
    assert np.array_equal(f.raw, content.data, equal_nan=True)
    assert f.channel_names == content.chans
    assert f.markers == content.markers
    for k, v in content.text.items():
        assert f.text[k] == v
    if content.spill is None:
        assert f.spillover is None
    else:
        assert f.spillover is not None
        assert f.spillover.channels == content.spill.channels
        assert np.array_equal(f.spillover.matrix, content.spill.matrix)


def _seed_file(tmp_path: Path) -> bytes:
    rng = np.random.default_rng(7)
    data = rng.normal(1000, 300, size=(12, 3)).astype(np.float32)
    path = tmp_path / "seed.fcs"
    write_fcs(
        path,
        data,
        ["FSC-A", "CD45 V500-A", "Time"],
        markers=[None, "CD45", None],
        spillover=Spillover(["FSC-A", "CD45 V500-A"], np.array([[1.0, 0.1], [0.02, 1.0]])),
        text={"$TIMESTEP": "0.01"},
    )
    return path.read_bytes()


@st.composite
def mutations(draw: st.DrawFn, size: int) -> list[tuple[str, int, int]]:
    ops = st.tuples(
        st.sampled_from(["set", "insert", "delete", "truncate"]),
        # Half the edits land in HEADER and TEXT, where a byte changes the most.
        st.integers(0, min(size, 3000) - 1) | st.integers(0, size - 1),
        st.integers(0, 255),
    )
    return draw(st.lists(ops, min_size=1, max_size=6))


def _apply(blob: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    b = bytearray(blob)
    for op, pos, val in ops:
        pos = min(pos, max(len(b) - 1, 0))
        if op == "set" and b:
            b[pos] = val
        elif op == "insert":
            b.insert(pos, val)
        elif op == "delete" and b:
            del b[pos]
        elif op == "truncate":
            del b[pos:]
    return bytes(b)


@pytest.mark.parametrize("which", ["written", pytest.param("data1", marks=pytest.mark.shared_data)])
def test_any_byte_mutation_gives_a_result_or_a_typed_error(
    tmp_path: Path, request: pytest.FixtureRequest, which: str
) -> None:
    if which == "written":
        blob = _seed_file(tmp_path)
    else:  # a real FCS 2.0 big-endian integer file
        real_data: Path = request.getfixturevalue("real_data")
        blob = (real_data / "flow/gatingml2_compliance/data1.fcs").read_bytes()
    target = tmp_path / "mutant.fcs"
    outcomes = {"read": 0, "refused": 0}

    @settings(max_examples=300, deadline=2000, derandomize=True)
    @given(ops=mutations(len(blob)))
    def check(ops: list[tuple[str, int, int]]) -> None:
        target.write_bytes(_apply(blob, ops))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FileQuirkWarning)
            try:
                f = read_fcs(target)
            except TrephineError as exc:
                outcomes["refused"] += 1
                assert "\n" not in str(exc)
                return
            outcomes["read"] += 1
            # Whatever was read must be usable.
            assert f.raw.shape == (f.event_count, f.channel_count)
            f.scaled()
            f.channel_names  # noqa: B018

    check()
    # Both paths were exercised: mutants that still read and mutants that were refused.
    assert outcomes["read"] > 0 and outcomes["refused"] > 0, outcomes


def test_writer_refuses_bad_input(tmp_path: Path) -> None:
    data = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValidationError, match="channel_names"):
        write_fcs(tmp_path / "a.fcs", data, ["A"])
    with pytest.raises(ValidationError, match="text"):
        write_fcs(tmp_path / "a.fcs", data, ["A", "B"], text={"$PAR": "3"})
    with pytest.raises(ValidationError, match="spillover"):
        write_fcs(tmp_path / "a.fcs", data, ["A", "B"], spillover=Spillover(["A", "C"], np.eye(2)))


_KEYS = [
    "$TOT", "$PAR", "$DATATYPE", "$BYTEORD", "$NEXTDATA", "$BEGINDATA", "$ENDDATA", "$P1B",
    "$P2B", "$P1R", "$P2E", "$P3G", "$TIMESTEP", "$SPILLOVER", "$BEGINSTEXT", "$ENDSTEXT",
    "$MODE", "$P1N",
]  # fmt: skip
_VALUES = [
    "0", "-1", "-40", "99999999999", "1e400", "nan", "inf", "abc", "3", "8", "24", "64", "10",
    "1,2", "4,3,2,1", "3,4,1,2", "D", "I", "A", "*", " 7 ", "1e3", "4,0", "-4,1", "x,y",
    "2,a,b,1,0,0,1", "1.5",
]  # fmt: skip


def _set_keyword(blob: bytes, key: str, value: str) -> bytes:
    """Replace one keyword's value in the seed file's TEXT (no length bookkeeping: offsets
    after it shift, as in a file edited by hand)."""
    text_start = int(blob[10:18])
    delim = blob[text_start : text_start + 1]
    at = blob.find(delim + key.encode() + delim, text_start)
    if at < 0:
        return blob
    v0 = at + len(key) + 2
    v1 = blob.index(delim, v0)
    return blob[:v0] + value.encode() + blob[v1:]


def test_any_keyword_value_gives_a_result_or_a_typed_error(tmp_path: Path) -> None:
    blob = _seed_file(tmp_path)
    target = tmp_path / "edited.fcs"

    single = st.tuples(st.sampled_from(_KEYS), st.sampled_from(_VALUES)).map(lambda e: [e])
    # Offsets come in pairs: editing both ends together reaches the range checks.
    pair = st.tuples(
        st.sampled_from([("$BEGINSTEXT", "$ENDSTEXT"), ("$BEGINDATA", "$ENDDATA")]),
        st.sampled_from(_VALUES),
        st.sampled_from(_VALUES),
    ).map(lambda p: [(p[0][0], p[1]), (p[0][1], p[2])])

    @settings(max_examples=300, deadline=2000, derandomize=True)
    @given(edits=st.lists(single | pair, min_size=1, max_size=3))
    def check(edits: list[list[tuple[str, str]]]) -> None:
        mutant = blob
        for group in edits:
            for key, value in group:
                mutant = _set_keyword(mutant, key, value)
        target.write_bytes(mutant)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FileQuirkWarning)
            try:
                f = read_fcs(target)
            except TrephineError as exc:
                assert "\n" not in str(exc)
                return
            assert f.raw.shape == (f.event_count, f.channel_count)
            f.scaled()

    check()
