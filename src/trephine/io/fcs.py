"""FCS 2.0 / 3.0 / 3.1 reader (and a small FCS 3.1 writer).

The reader turns the bytes of a flow-cytometry list-mode file into plain records: the TEXT
keywords, one :class:`FcsChannel` per parameter, the event matrix (``raw``) and the spillover
matrix when the file carries one. It is written for the files instruments really produce, not only
for the standard, so it tolerates the known deviations and says so with a
:class:`~trephine.errors.FileQuirkWarning` naming the quirk:

* blank HEADER data offsets (files over 99,999,999 bytes): ``$BEGINDATA``/``$ENDDATA`` are used;
* HEADER and TEXT data offsets that disagree: the pair that matches ``$TOT`` x row size wins;
* ``$ENDDATA`` one byte too far, TEXT ending in a doubled delimiter or a NUL, keywords preceded
  by spaces, space-padded numbers, form-feed or backslash delimiters;
* ``$PnB`` that is not a whole number of bytes (10-bit Beckman data stored in 16-bit words);
* several data sets chained by ``$NEXTDATA`` (``dataset=`` picks one);
* spillover channels written as parameter numbers instead of ``$PnN``.

A file that is not FCS, or whose DATA runs past the end of the file, is refused with a
:class:`~trephine.errors.ParseError` whose location names the file and the byte offset.

Decoding is one numpy pass: ``np.fromfile`` of the whole DATA segment with the right dtype, or,
for 24-bit and mixed-width integers, a single fancy-index byte gather. Only numpy is imported at
module level so that a process reading one file starts fast.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

from trephine.analysis.flow.spillover import Spillover
from trephine.errors import FileQuirkWarning, Location, ParseError, ValidationError

__all__ = [
    "FcsChannel",
    "FcsFile",
    "Spillover",
    "read_fcs",
    "write_fcs",
]

_HEADER_LEN = 58
_VERSIONS = ("FCS2.0", "FCS3.0", "FCS3.1")
_SPILL_KEYWORDS = ("$SPILLOVER", "SPILL", "$COMP")
# A private-use character stands in for an escaped (doubled) delimiter while splitting TEXT;
# it cannot collide with the delimiter itself.
_ESCAPED = "\ue000"


@dataclass(frozen=True)
class FcsChannel:
    """One parameter of a data set, as its TEXT keywords describe it."""

    index: int  #: 1-based parameter number n
    name: str  #: $PnN
    marker: str | None  #: $PnS (None when absent or blank)
    bits: int  #: $PnB as written
    range: float  #: $PnR
    amp_decades: float  #: $PnE f1 (0 = linear)
    amp_offset: float  #: $PnE f2 (log of 0 stand-in; 1.0 when a log channel says 0)
    gain: float  #: $PnG (1.0 when absent)

    @property
    def is_time(self) -> bool:
        return self.name.strip().lower() == "time"


@dataclass(eq=False)
class FcsFile:
    """One data set of an FCS file."""

    path: str
    version: str
    text: dict[str, str]
    channels: list[FcsChannel]
    raw: np.ndarray
    dataset: int = 0
    dataset_count: int = 1
    spillover: Spillover | None = None
    quirks: list[str] = field(default_factory=list)  #: the tolerated deviations, as warned
    data_offset: int = 0  #: absolute byte offset of the first event in the file
    declared_events: int | None = None  #: $TOT (or inferred) when events were not read

    @property
    def events_loaded(self) -> bool:
        return self.declared_events is None

    @property
    def event_count(self) -> int:
        if self.declared_events is not None:
            return self.declared_events
        return int(self.raw.shape[0])

    @property
    def channel_count(self) -> int:
        return len(self.channels)

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def markers(self) -> list[str | None]:
        return [c.marker for c in self.channels]

    def channel_index(self, name_or_marker: str) -> int:
        """0-based column of a channel given its $PnN, or else its $PnS (case-sensitive)."""
        names = self.channel_names
        if name_or_marker in names:
            return names.index(name_or_marker)
        hits = [i for i, c in enumerate(self.channels) if c.marker == name_or_marker]
        if len(hits) == 1:
            return hits[0]
        allowed = names + [c.marker for c in self.channels if c.marker]
        reason = "marker names more than one channel" if hits else None
        raise ValidationError(
            "channel", name_or_marker, allowed, location=Location(source=self.path), reason=reason
        )

    def scaled(
        self,
        columns: Sequence[int] | None = None,
        *,
        rows: slice | npt.NDArray[np.integer[Any]] | npt.NDArray[np.bool_] | None = None,
    ) -> np.ndarray:
        """Events as float64 with $PnE log decoding, $PnG gain and $TIMESTEP applied.

        This is the event view FlowKit and the Gating-ML 2.0 compliance results use: a log
        amplified channel ``x`` becomes ``f2 * 10 ** (f1 * x / $PnR)``; a channel with a gain is
        divided by it (the time channel never is: instruments copy a detector gain onto it); the
        time channel is multiplied by $TIMESTEP. ``columns`` (0-based) limits the work to those
        channels, in that order; ``rows`` (a slice, integer indices or a boolean mask over the
        events) to those events, so that gating a block or a gated subset never makes a float64
        copy of whole columns.
        """
        if columns is None:
            cols: list[int] = list(range(self.channel_count))
        else:
            cols = [int(c) for c in columns]
            bad = [c for c in cols if not 0 <= c < self.channel_count]
            if bad:
                raise ValidationError("columns", bad, f"0..{self.channel_count - 1}")
        raw = self.raw
        # astype always copies, so the scaling below never writes into ``raw``.
        if columns is None and rows is None:
            out = raw.astype(np.float64)
        elif len(cols) == 1:
            # A single column is gathered straight into one float64 copy (no 2-D temporary).
            whole = raw[:, cols[0]] if rows is None else raw[rows, cols[0]]
            out = whole.astype(np.float64)[:, np.newaxis]
        else:
            # Whole rows first (contiguous copies), then the columns: faster than a 2-D gather.
            out = (raw if rows is None else raw[rows])[:, cols].astype(np.float64)
        timestep = self.timestep
        for k, col in enumerate(cols):
            ch = self.channels[col]
            v = out[:, k]
            if ch.is_time:
                if timestep != 1.0:
                    v *= timestep
                continue
            if ch.amp_decades > 0 and ch.range > 0:
                v *= ch.amp_decades / ch.range
                with np.errstate(over="ignore"):  # a corrupt value decodes to inf, not an error
                    np.power(10.0, v, out=v)
                v *= ch.amp_offset
            if ch.gain not in (0.0, 1.0):
                v /= ch.gain
        return out

    @property
    def timestep(self) -> float:
        """$TIMESTEP as a number; 1.0 when missing, blank, not a number or not positive."""
        value = self.text.get("$TIMESTEP")
        if value is None or not value.strip():
            return 1.0
        step = value.strip()
        return float(step) if _is_positive_number(step) else 1.0


# --------------------------------------------------------------------------------------------
# reading


def read_fcs(path: str | os.PathLike[str], dataset: int = 0, *, events: bool = True) -> FcsFile:
    """Read data set ``dataset`` (0-based, following $NEXTDATA) of an FCS file.

    With ``events=False`` only HEADER and TEXT are parsed (for ``trephine flow info`` on a large
    tube): the DATA segment is located and checked against the file size, so a truncated file is
    still refused, but ``raw`` is an empty 0 x channels array and ``event_count`` is $TOT.

    Raises :class:`~trephine.errors.ParseError` for anything that is not a readable FCS file and
    :class:`~trephine.errors.ValidationError` for an unsupported keyword value; tolerated quirks
    are reported as :class:`~trephine.errors.FileQuirkWarning`.
    """
    source = os.fspath(path)
    if isinstance(dataset, bool) or not isinstance(dataset, int) or dataset < 0:
        raise ValidationError("dataset", dataset, "an integer >= 0")
    try:
        size = os.path.getsize(source)
        fh = open(source, "rb")  # noqa: SIM115 - closed below, shared by every step
    except OSError as exc:
        raise ParseError(f"cannot open file: {exc.strerror}", location=Location(source)) from exc
    with fh:
        reader = _Reader(source, fh, size)
        segs = reader.datasets()
        if dataset >= len(segs):
            raise ValidationError(
                "dataset",
                dataset,
                f"0..{len(segs) - 1}" if len(segs) > 1 else "0",
                location=Location(source=source),
                reason=f"the file holds {len(segs)} data set(s)",
            )
        result = reader.decode(segs[dataset], events=events)
        result.dataset = dataset
        result.dataset_count = len(segs)
        return result


class _Segment:
    """HEADER + TEXT of one data set (a plain class: no dataclass machinery at import)."""

    __slots__ = ("header_data", "start", "text", "text_span", "version")

    def __init__(
        self,
        start: int,
        version: str,
        text: dict[str, str],
        header_data: tuple[int, int],
        text_span: tuple[int, int],
    ) -> None:
        self.start = start  # byte offset of this data set's HEADER in the file
        self.version = version
        self.text = text
        self.header_data = header_data
        self.text_span = text_span


class _Reader:
    def __init__(self, source: str, fh: BinaryIO, size: int) -> None:
        self.source = source
        self.fh = fh
        self.size = size
        self.quirks: list[str] = []

    # -- helpers -----------------------------------------------------------------------------

    def _loc(self, offset: int | None = None, field: str | None = None) -> Location:
        return Location(source=self.source, offset=offset, field=field)

    def _fail(
        self, message: str, offset: int | None = None, field: str | None = None
    ) -> ParseError:
        return ParseError(message, location=self._loc(offset, field))

    def _quirk(self, message: str) -> None:
        self.quirks.append(message)
        warnings.warn(f"{self.source}: {message}", FileQuirkWarning, stacklevel=4)

    def _read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise self._fail(f"negative offset or length ({offset}, {length})", max(offset, 0))
        fh = self.fh
        fh.seek(offset)
        data: bytes = fh.read(length)
        return data

    # -- HEADER and TEXT ---------------------------------------------------------------------

    def _header(self, start: int) -> tuple[str, list[int]]:
        head = self._read(start, _HEADER_LEN)
        if len(head) < _HEADER_LEN:
            raise self._fail(
                f"not an FCS file: HEADER needs {_HEADER_LEN} bytes, "
                f"only {len(head)} found from byte {start}",
                start,
            )
        version = head[:6].decode("ascii", "replace")
        if version not in _VERSIONS:
            raise self._fail(
                f"not an FCS file: HEADER starts with {head[:6]!r}, "
                f"expected one of {', '.join(_VERSIONS)}",
                start,
            )
        offsets: list[int] = []
        for k in range(6):
            pos = 10 + 8 * k
            raw = head[pos : pos + 8].strip()
            if not raw:
                offsets.append(0)
                continue
            if not raw.isdigit():
                raise self._fail(
                    f"HEADER offset field {k + 1} is {raw!r}, not a number", start + pos
                )
            offsets.append(int(raw))
        return version, offsets

    def segment(self, start: int) -> _Segment:
        version, offs = self._header(start)
        t0, t1 = offs[0], offs[1]
        if t0 < _HEADER_LEN or t1 <= t0:
            raise self._fail(f"HEADER gives an impossible TEXT segment {t0}..{t1}", start + 10)
        if start + t1 >= self.size:
            # Some instruments point the TEXT end one byte past the end of the segment.
            if start + t1 == self.size:
                t1 -= 1
                self._quirk("HEADER TEXT end points one byte past the end of the file")
            else:
                raise self._fail(
                    f"TEXT segment ends at byte {start + t1}, beyond the end of the file "
                    f"({self.size} bytes)",
                    start + 18,
                )
        raw = self._read(start + t0, t1 - t0 + 1)
        text = self._parse_text(raw, start + t0)
        if "$PAR" not in text:
            raise self._fail("TEXT has no $PAR keyword (not an FCS data set)", start + t0, "$PAR")
        # Supplemental TEXT (FCS 3.x) adds keywords; the primary TEXT wins on conflicts.
        try:
            s0 = _int_kw(text, "$BEGINSTEXT")
            s1 = _int_kw(text, "$ENDSTEXT")
        except ValidationError:
            self._quirk("$BEGINSTEXT/$ENDSTEXT are not numbers; supplemental TEXT ignored")
            s0 = s1 = None
        if s0 and s1 and _HEADER_LEN <= s0 < s1 and start + s1 < self.size and (s0, s1) != (t0, t1):
            try:
                extra = self._parse_text(self._read(start + s0, s1 - s0 + 1), start + s0)
            except ParseError as exc:
                self._quirk(f"supplemental TEXT ignored: {exc.message}")
            else:
                for k, v in extra.items():
                    text.setdefault(k, v)
        return _Segment(start, version, text, (offs[2], offs[3]), (t0, t1))

    def _parse_text(self, raw: bytes, offset: int) -> dict[str, str]:
        if not raw:
            raise self._fail("TEXT segment is empty", offset)
        delim_byte = raw[0]
        if delim_byte in b"\x00" or chr(delim_byte).isalnum():
            raise self._fail(f"TEXT delimiter {raw[:1]!r} is not a valid delimiter", offset)
        # Bytes that may trail the final delimiter (NUL padding, line ends) are dropped.
        trailing = bytes(b for b in b"\x00 \r\n" if b != delim_byte)
        body = raw[1:]
        stripped = body.rstrip(trailing)
        if len(stripped) != len(body) and stripped.endswith(bytes([delim_byte])):
            self._quirk("TEXT has padding after its final delimiter")
        body = stripped
        if body.endswith(bytes([delim_byte])):
            body = body[:-1]
        else:
            self._quirk("TEXT does not end with its delimiter")
        # Split on the delimiter byte first (Latin-1 maps bytes 1:1 to characters), then decode
        # each token: a delimiter byte >= 0x80 must not be swallowed by a UTF-8 sequence.
        delim = chr(delim_byte)
        tokens = body.decode("latin-1").replace(delim + delim, _ESCAPED).split(delim)
        tokens = [_decode_token(t.replace(_ESCAPED, delim)) for t in tokens]
        if len(tokens) % 2:
            last = tokens[-1]
            if last == "" or last == delim:
                self._quirk("TEXT ends with a doubled delimiter")
            else:
                self._quirk(f"TEXT has a keyword without a value ({last[:40]!r}); it is ignored")
            tokens = tokens[:-1]
        text: dict[str, str] = {}
        padded = False
        for i in range(0, len(tokens), 2):
            key = tokens[i].strip().upper()
            padded = padded or (bool(key) and len(key) != len(tokens[i]))
            if key:
                text.setdefault(key, tokens[i + 1])
        if padded:
            self._quirk("TEXT keywords padded with spaces")
        return text

    def datasets(self) -> list[_Segment]:
        """HEADER+TEXT of every data set, following $NEXTDATA (relative to each data set)."""
        segs = [self.segment(0)]
        while True:
            seg = segs[-1]
            nxt = _int_kw(seg.text, "$NEXTDATA")
            if not nxt:
                break
            pos = seg.start + nxt
            if pos <= seg.start or pos + _HEADER_LEN > self.size:
                self._quirk(f"$NEXTDATA {nxt} of data set {len(segs) - 1} points nowhere; ignored")
                break
            try:
                segs.append(self.segment(pos))
            except ParseError as exc:
                self._quirk(f"data set at byte {pos} is unreadable and ignored: {exc.message}")
                break
        return segs

    # -- DATA --------------------------------------------------------------------------------

    def decode(self, seg: _Segment, *, events: bool = True) -> FcsFile:
        text = seg.text
        loc = self._loc
        npar = _int_kw(text, "$PAR", required=True, loc=loc(seg.start))
        if npar is None or npar < 1 or npar > max(len(text), 1):
            raise self._fail(
                f"$PAR {text.get('$PAR')!r} is not a usable channel count", seg.start, "$PAR"
            )
        datatype = text.get("$DATATYPE", "").strip().upper()
        if datatype not in ("I", "F", "D"):
            raise ValidationError(
                "$DATATYPE",
                text.get("$DATATYPE"),
                ["I", "F", "D"],
                location=loc(seg.start, "$DATATYPE"),
                reason="ASCII list mode is not supported" if datatype == "A" else None,
            )
        mode = text.get("$MODE", "L").strip().upper()
        if mode not in ("L", ""):
            raise ValidationError(
                "$MODE", text.get("$MODE"), ["L"], location=loc(seg.start, "$MODE")
            )
        little = self._byte_order(text, seg.start)
        channels = [self._channel(text, n, datatype, seg.start) for n in range(1, npar + 1)]

        widths = [_storage_bytes(c.bits, datatype) for c in channels]
        odd = sorted({c.bits for c, w in zip(channels, widths, strict=True) if c.bits != 8 * w})
        if odd:
            self._quirk(
                f"$PnB {','.join(map(str, odd))} is not a whole number of bytes; "
                "values read from whole 8/16/32/64-bit words"
            )
        row_bytes = sum(widths)
        if _int_kw(text, "$TOT", loc=loc(seg.start, "$TOT")) == 0:
            # No events: FCS writes 0 offsets and there is nothing to locate.
            begin, end = 0, -1
        else:
            begin, end = self._data_span(seg, row_bytes)
        seg_len = end - begin + 1 if end >= begin else 0
        tot = _int_kw(text, "$TOT", loc=loc(seg.start, "$TOT"))
        if tot is not None and tot < 0:
            raise ValidationError("$TOT", text.get("$TOT"), "a count >= 0", location=loc(seg.start))
        if tot is None:
            tot = seg_len // row_bytes
            self._quirk(f"$TOT missing; {tot} events inferred from the DATA segment length")
        need = tot * row_bytes
        if begin + need > self.size:
            raise self._fail(
                f"DATA truncated: {tot} events x {row_bytes} bytes need bytes {begin}.."
                f"{begin + need - 1} but the file ends at byte {self.size - 1}",
                self.size,
            )
        if tot and seg_len and seg_len < need:
            self._quirk(
                f"DATA segment ({seg_len} bytes) is shorter than $TOT x row size ({need} bytes); "
                "$TOT is trusted because the bytes are present"
            )
        elif seg_len > need:
            extra = seg_len - need
            self._quirk(
                "$ENDDATA off by one" if extra == 1 else f"DATA segment has {extra} unused bytes"
            )
        if events:
            raw = self._decode_events(channels, widths, datatype, little, begin, tot)
        else:
            raw = np.empty((0, npar), dtype=np.float64)
        step = text.get("$TIMESTEP", "").strip()
        if step and not _is_positive_number(step):
            self._quirk(f"$TIMESTEP {step!r} is not a positive number; time is left unscaled")
        spill = _spillover(text, channels, self._quirk)
        return FcsFile(
            path=self.source,
            version=seg.version,
            text=text,
            channels=channels,
            raw=raw,
            spillover=spill,
            quirks=list(self.quirks),
            data_offset=begin,
            declared_events=None if events else tot,
        )

    def _byte_order(self, text: Mapping[str, str], start: int) -> bool:
        value = text.get("$BYTEORD", "").replace(" ", "")
        if value in ("1,2,3,4", "1,2", "1", "1,2,3,4,5,6,7,8"):
            return True
        if value in ("4,3,2,1", "2,1", "8,7,6,5,4,3,2,1"):
            return False
        raise ValidationError(
            "$BYTEORD",
            text.get("$BYTEORD"),
            ["1,2,3,4", "4,3,2,1", "1,2", "2,1"],
            location=self._loc(start, "$BYTEORD"),
        )

    def _channel(self, text: Mapping[str, str], n: int, datatype: str, start: int) -> FcsChannel:
        loc = self._loc(start, f"$P{n}B")
        bits_s = text.get(f"$P{n}B", "").strip()
        if bits_s == "*":
            raise ValidationError(
                f"$P{n}B",
                bits_s,
                "a bit width",
                location=loc,
                reason="variable-width (ASCII) fields are not supported",
            )
        try:
            bits = int(bits_s)
        except ValueError:
            raise ValidationError(
                f"$P{n}B", text.get(f"$P{n}B"), "a bit width (8..64)", location=loc
            ) from None
        allowed = {"F": (32,), "D": (64,)}.get(datatype)
        if (allowed and bits not in allowed) or not 1 <= bits <= 64:
            raise ValidationError(
                f"$P{n}B",
                bits,
                allowed or "1..64",
                location=loc,
                reason=f"$DATATYPE {datatype}",
            )
        name = text.get(f"$P{n}N", "").strip() or f"P{n}"
        marker = text.get(f"$P{n}S", "").strip() or None
        rng = _float_kw(text, f"$P{n}R", 0.0)
        decades, offset = 0.0, 0.0
        amp = text.get(f"$P{n}E", "").replace(" ", "")
        if amp:
            parts = amp.split(",")
            try:
                decades, offset = float(parts[0]), float(parts[1])
            except (ValueError, IndexError):
                self._quirk(f"$P{n}E {amp!r} is not 'f1,f2'; channel read as linear")
                decades, offset = 0.0, 0.0
            if not (math.isfinite(decades) and math.isfinite(offset)) or decades < 0:
                decades, offset = 0.0, 0.0
            # The standard says a log channel with f2 = 0 is read as f2 = 1.
            if decades > 0 and offset == 0:
                offset = 1.0
        gain = _float_kw(text, f"$P{n}G", 1.0)
        if not math.isfinite(gain) or gain <= 0:
            gain = 1.0
        return FcsChannel(n, name, marker, bits, rng, decades, offset, gain)

    def _data_span(self, seg: _Segment, row_bytes: int) -> tuple[int, int]:
        """Absolute first and last byte of DATA, reconciling HEADER and TEXT."""
        h0, h1 = seg.header_data
        try:
            k0 = _int_kw(seg.text, "$BEGINDATA") or 0
            k1 = _int_kw(seg.text, "$ENDDATA") or 0
        except ValidationError:
            if not (h0 or h1):
                raise
            # The HEADER offsets are there; unreadable TEXT copies need not sink the file.
            self._quirk("$BEGINDATA/$ENDDATA are not numbers; HEADER DATA offsets used")
            k0 = k1 = 0
        tot = _int_kw(seg.text, "$TOT")
        need = tot * row_bytes if tot is not None else None
        candidates: list[tuple[str, int, int]] = []
        if h0 or h1:
            candidates.append(("HEADER", h0, h1))
        if k0 or k1:
            candidates.append(("TEXT", k0, k1))
        if not candidates:
            raise self._fail(
                "no DATA offsets: HEADER fields are blank and $BEGINDATA/$ENDDATA absent",
                seg.start + 26,
            )
        if len(candidates) == 2 and candidates[0][1:] != candidates[1][1:]:
            t0, t1 = seg.start + seg.text_span[0], seg.start + seg.text_span[1]

            def fits(c: tuple[str, int, int]) -> int:
                b, e = seg.start + c[1], seg.start + c[2]
                overlaps_text = b <= t1 and b + max(need or 1, 1) - 1 >= t0
                ok_file = b >= _HEADER_LEN and b + (need or 0) <= self.size and not overlaps_text
                if need is None:
                    return 1 if ok_file else 0
                length = e - b + 1
                if ok_file and length in (need, need + 1):
                    return 2
                return 1 if ok_file else 0

            best = max(candidates, key=fits)  # ties keep HEADER first
            other = candidates[1] if best is candidates[0] else candidates[0]
            self._quirk(
                f"HEADER and TEXT DATA offsets disagree ({other[0]} {other[1]}..{other[2]}, "
                f"{best[0]} {best[1]}..{best[2]}); using {best[0]}"
            )
            chosen = best
        elif h0 == 0 and h1 == 0:
            if seg.version != "FCS2.0":
                self._quirk("HEADER DATA offsets blank; using $BEGINDATA/$ENDDATA")
            chosen = candidates[-1]
        else:
            chosen = candidates[0]
        begin, end = seg.start + chosen[1], seg.start + chosen[2]
        if begin < _HEADER_LEN:
            raise self._fail(f"DATA offset {begin} points inside the HEADER", seg.start + 26)
        if begin >= self.size:
            raise self._fail(
                f"DATA truncated: the DATA segment starts at byte {begin}, beyond the end of the "
                f"file ({self.size} bytes)",
                self.size,
            )
        return begin, end

    def _decode_events(
        self,
        channels: Sequence[FcsChannel],
        widths: Sequence[int],
        datatype: str,
        little: bool,
        begin: int,
        tot: int,
    ) -> np.ndarray:
        npar = len(channels)
        endian = "<" if little else ">"
        uniform = len(set(widths)) == 1 and widths[0] in (1, 2, 4, 8)
        if uniform:
            kind = {"F": "f", "D": "f", "I": "u"}[datatype]
            dtype = np.dtype(f"{endian}{kind}{widths[0]}")
            flat = self._fromfile(dtype, tot * npar, begin)
            events = flat.reshape(tot, npar)
            if not dtype.isnative:
                events = events.byteswap().view(dtype.newbyteorder("="))
        else:
            if datatype != "I":
                raise ValidationError("$PnB", sorted(set(widths)), "one width for F/D data")
            events = self._gather(widths, little, begin, tot)
        if datatype == "I":
            _apply_range_masks(events, channels)
        return events

    def _fromfile(self, dtype: np.dtype, count: int, offset: int) -> np.ndarray:
        self.fh.seek(offset)
        arr = np.fromfile(self.fh, dtype=dtype, count=count)
        if arr.size != count:
            raise self._fail(
                f"DATA truncated: expected {count * dtype.itemsize} bytes from byte {offset}",
                offset + arr.size * dtype.itemsize,
            )
        return arr

    def _gather(self, widths: Sequence[int], little: bool, begin: int, tot: int) -> np.ndarray:
        """Decode odd or mixed integer widths with one vectorized byte gather.

        Each channel's bytes are reordered into little-endian order inside a fixed 4- or 8-byte
        slot (missing high bytes point at a zero column) and the gathered bytes are viewed as
        unsigned integers.
        """
        row = sum(widths)
        slot = 4 if max(widths) <= 4 else 8
        buf = np.zeros((tot, row + 1), dtype=np.uint8)
        buf[:, :row] = self._fromfile(np.dtype(np.uint8), tot * row, begin).reshape(tot, row)
        zero = row
        idx = np.full((len(widths), slot), zero, dtype=np.intp)
        pos = 0
        for c, w in enumerate(widths):
            order = np.arange(pos, pos + w)
            idx[c, :w] = order if little else order[::-1]
            pos += w
        gathered = np.ascontiguousarray(buf[:, idx.ravel()])
        return gathered.view(f"<u{slot}").reshape(tot, len(widths)).astype(f"=u{slot}", copy=False)


def _is_positive_number(value: str) -> bool:
    try:
        v = float(value)
    except ValueError:
        return False
    return math.isfinite(v) and v > 0


def _decode_token(token: str) -> str:
    raw = token.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # FCS 2.0/3.0 TEXT is ASCII; vendors write Latin-1 in free-text values.
        return token


def _storage_bytes(bits: int, datatype: str) -> int:
    # Beckman writes $PnB 10 for 10-bit values stored in 16-bit words: storage is whole bytes,
    # rounded up to the next width numpy has (1, 2, 4, 8), except true 24-bit data.
    nbytes = (bits + 7) // 8
    if datatype != "I" or (nbytes in (1, 2, 3, 4, 8) and bits % 8 == 0):
        return nbytes
    for w in (1, 2, 4, 8):
        if w >= nbytes:
            return w
    return 8


def _apply_range_masks(events: np.ndarray, channels: Sequence[FcsChannel]) -> None:
    """Zero the bits above $PnR: vendors store flags in the unused high bits."""
    full = (1 << (events.dtype.itemsize * 8)) - 1
    masks: list[int] = []
    for c in channels:
        r = c.range
        if not math.isfinite(r) or r <= 1 or r > full:
            masks.append(full)
            continue
        bits = max(1, math.ceil(math.log2(r)))
        masks.append(min(full, (1 << bits) - 1))
    if all(m == full for m in masks):
        return
    if len(set(masks)) == 1:
        # One scalar mask is ~4x faster than broadcasting a per-column mask row.
        np.bitwise_and(events, events.dtype.type(masks[0]), out=events)
    else:
        np.bitwise_and(events, np.asarray(masks, dtype=events.dtype), out=events)


def _int_kw(
    text: Mapping[str, str],
    key: str,
    *,
    required: bool = False,
    loc: Location | None = None,
) -> int | None:
    value = text.get(key)
    if value is None or not value.strip():
        if required:
            raise ParseError(f"keyword {key} is missing", location=loc)
        return None
    s = value.strip()
    try:
        return int(s)
    except ValueError:
        pass
    try:
        f = float(s)
    except ValueError:
        raise ValidationError(key, value, "a whole number", location=loc) from None
    if not math.isfinite(f) or f != int(f):
        raise ValidationError(key, value, "a whole number", location=loc)
    return int(f)


def _float_kw(text: Mapping[str, str], key: str, default: float) -> float:
    value = text.get(key)
    if value is None or not value.strip():
        return default
    try:
        return float(value.strip())
    except ValueError:
        return default


def _spillover(
    text: Mapping[str, str], channels: Sequence[FcsChannel], quirk: object
) -> Spillover | None:
    for key in _SPILL_KEYWORDS:
        value = text.get(key)
        if value is None or not value.strip():
            continue
        parsed = _parse_spill(key, value, channels, quirk)
        if parsed is not None:
            return parsed
    return None


def _parse_spill(
    key: str, value: str, channels: Sequence[FcsChannel], quirk: object
) -> Spillover | None:
    report = quirk if callable(quirk) else (lambda _m: None)
    parts = [p.strip() for p in value.split(",")]
    try:
        n = int(float(parts[0]))
    except (ValueError, OverflowError):
        report(f"{key} does not start with a channel count; ignored")
        return None
    if n < 1 or n > len(channels):
        if n != 0:
            report(f"{key} names {n} channels but the data set has {len(channels)}; ignored")
        return None
    names = [c.name for c in channels]
    if len(parts) == 1 + n + n * n:
        labels = parts[1 : 1 + n]
        numbers = parts[1 + n :]
    elif key == "$COMP" and len(parts) == 1 + n * n:
        # FCS 3.0 $COMP carries no names: it covers the first n parameters.
        labels = names[:n]
        numbers = parts[1:]
    else:
        report(f"{key} has {len(parts)} fields, expected {1 + n + n * n}; ignored")
        return None
    try:
        values = np.array([float(x) for x in numbers], dtype=np.float64).reshape(n, n)
    except ValueError:
        report(f"{key} has a non-numeric matrix value; ignored")
        return None
    resolved: list[str] = []
    numbered: list[str] = []
    for label in labels:
        if label in names:
            resolved.append(label)
            continue
        by_marker = [c.name for c in channels if c.marker == label]
        if len(by_marker) == 1:
            resolved.append(by_marker[0])
            continue
        if label.isdigit() and 1 <= int(label) <= len(channels):
            numbered.append(label)
            resolved.append(names[int(label) - 1])
            continue
        report(f"{key} names channel {label!r}, which the data set does not have; ignored")
        return None
    if len(set(resolved)) != n:
        report(f"{key} names a channel twice; ignored")
        return None
    if numbered:
        report(f"{key} names channels by parameter number ({','.join(numbered)}); mapped to $PnN")
    return Spillover(resolved, values)


# --------------------------------------------------------------------------------------------
# writing

_TEXT_START = 256


def write_fcs(
    path: str | os.PathLike[str],
    data: np.ndarray,
    channel_names: Sequence[str],
    markers: Sequence[str | None] | None = None,
    text: Mapping[str, str] | None = None,
    spillover: Spillover | None = None,
    *,
    ranges: Iterable[float] | None = None,
) -> None:
    """Write ``data`` (events x channels) as an FCS 3.1 file with little-endian float32 DATA.

    ``text`` adds keywords (upper-cased; the layout keywords the writer owns cannot be set).
    ``markers`` become $PnS; ``spillover`` becomes $SPILLOVER.
    """
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValidationError("data", arr.shape, "a 2-D events x channels array")
    nev, npar = arr.shape
    if len(channel_names) != npar or npar == 0:
        raise ValidationError("channel_names", len(channel_names), f"{npar} names (one per column)")
    if markers is not None and len(markers) != npar:
        raise ValidationError("markers", len(markers), f"{npar} markers (or None)")
    events = np.ascontiguousarray(arr, dtype="<f4")
    rng = list(ranges) if ranges is not None else None
    if rng is not None and len(rng) != npar:
        raise ValidationError("ranges", len(rng), f"{npar} values")
    kw: dict[str, str] = {}
    owned = {
        "$BEGINDATA",
        "$ENDDATA",
        "$BEGINANALYSIS",
        "$ENDANALYSIS",
        "$BEGINSTEXT",
        "$ENDSTEXT",
        "$BYTEORD",
        "$DATATYPE",
        "$MODE",
        "$NEXTDATA",
        "$PAR",
        "$TOT",
    }
    kw.update({"$BEGINANALYSIS": "0", "$ENDANALYSIS": "0", "$BEGINSTEXT": "0", "$ENDSTEXT": "0"})
    kw.update({"$BYTEORD": "1,2,3,4", "$DATATYPE": "F", "$MODE": "L", "$NEXTDATA": "0"})
    kw.update({"$PAR": str(npar), "$TOT": str(nev)})
    for i, name in enumerate(channel_names, start=1):
        if not str(name).strip():
            raise ValidationError(f"$P{i}N", name, "a non-blank channel name")
        kw[f"$P{i}N"] = str(name)
        kw[f"$P{i}B"] = "32"
        kw[f"$P{i}E"] = "0,0"
        top = rng[i - 1] if rng is not None else _default_range(events[:, i - 1])
        kw[f"$P{i}R"] = _fmt_number(top)
        if markers is not None and markers[i - 1]:
            kw[f"$P{i}S"] = str(markers[i - 1])
    if spillover is not None:
        bad = [c for c in spillover.channels if "," in c or c not in channel_names]
        if bad:
            raise ValidationError(
                "spillover.channels", bad, "channel names of the data, without commas"
            )
        cells = ",".join(repr(float(v)) for v in spillover.matrix.ravel())
        kw["$SPILLOVER"] = f"{len(spillover.channels)},{','.join(spillover.channels)},{cells}"
    for key, value in (text or {}).items():
        k = str(key).strip().upper()
        if k in owned or k in kw or re.fullmatch(r"\$P\d+[NBERS]", k):
            raise ValidationError("text", key, "keywords other than those the writer sets")
        if not k or not str(value):
            raise ValidationError("text", key, "non-empty keywords and values")
        kw[k] = str(value)

    empty = nev == 0
    payload = events.tobytes()
    # $BEGINDATA/$ENDDATA are inside TEXT, so TEXT's length depends on them: iterate to a fixpoint.
    delim = _pick_delimiter(kw)
    begin = 0
    body = b""
    for _ in range(10):
        kw["$BEGINDATA"] = "0" if empty else str(begin)
        kw["$ENDDATA"] = "0" if empty else str(begin + len(payload) - 1)
        body = _encode_text(kw, delim)
        new_begin = _TEXT_START + len(body)
        if new_begin == begin:
            break
        begin = new_begin
    text_end = _TEXT_START + len(body) - 1
    end = 0 if empty else begin + len(payload) - 1
    if empty:
        begin = 0

    def field8(v: int) -> bytes:
        # Offsets beyond 8 digits are written as 0: readers take them from $BEGINDATA/$ENDDATA.
        return f"{v:>8d}".encode() if v <= 99_999_999 else b"       0"

    header = b"FCS3.1    " + field8(_TEXT_START) + field8(text_end) + field8(begin) + field8(end)
    header += field8(0) + field8(0)
    header = header.ljust(_TEXT_START, b" ")
    with open(os.fspath(path), "wb") as out:
        out.write(header)
        out.write(body)
        out.write(payload)


# A delimiter that occurs in no keyword or value needs no escaping, which sidesteps the
# ambiguity of doubled delimiters next to a value that starts or ends with one.
_DELIMITERS = "/|\\\x0c\x1e\x1f!~^#;"


def _pick_delimiter(kw: Mapping[str, str]) -> str:
    used = set("".join(kw.keys()) + "".join(kw.values()))
    for d in _DELIMITERS:
        if d not in used:
            return d
    raise ValidationError("text", "delimiters", "keywords leaving one of / | \\ ! ~ ^ # ; unused")


def _encode_text(kw: Mapping[str, str], delim: str) -> bytes:
    parts = [delim]
    for k, v in kw.items():
        parts.append(f"{k}{delim}{v}{delim}")
    return "".join(parts).encode("utf-8")


def _default_range(col: np.ndarray) -> float:
    finite = col[np.isfinite(col)]
    top = float(np.abs(finite).max()) if finite.size else 0.0
    return max(262144.0, float(math.ceil(top)) + 1.0)


def _fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))
