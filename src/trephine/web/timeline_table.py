"""The patient timeline as plain rows in date order: the page's table and its no-JS fallback.

The chart and this table are built from the same :class:`TimelinePublic`, so what a person reads
in the table is exactly what the chart draws.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from trephine.api.schemas.patients import ResultPublic, ResultVersionPublic, TimelinePublic

#: Order of categories on the same day: what was given before what was found.
_ORDER = {"diagnosis": 0, "therapy": 1, "event": 2, "biopsy": 3, "result": 4}


@dataclass(frozen=True)
class HistoryLine:
    """One earlier version of an amended result, shown under it."""

    version: int
    value: str
    state: str
    when: str
    who: str
    reason: str


@dataclass(frozen=True)
class Row:
    date: dt.date
    category: str
    what: str
    detail: str = ""
    value: str = ""
    state: str = ""
    amendment: str = ""
    history: list[HistoryLine] = field(default_factory=list)


def _value_text(r: ResultPublic | ResultVersionPublic) -> str:
    return r.summary


def _when(t: dt.datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t is not None else ""


def _result_row(r: ResultPublic) -> Row:
    amendment = ""
    if r.state == "amended" or r.version > 1:
        amendment = f"version {r.version}, amended {_when(r.amended_at)}".rstrip()
        if r.amended_by:
            amendment += f" by {r.amended_by}"
        if r.amendment_reason:
            amendment += f": {r.amendment_reason}"
    history = [
        HistoryLine(
            version=h.version,
            value=_value_text(h),
            state=h.state,
            when=_when(h.recorded_at),
            who=h.recorded_by or "",
            reason=h.reason or "",
        )
        for h in sorted(r.history, key=lambda h: h.version, reverse=True)
    ]
    value = _value_text(r)
    return Row(
        date=r.collected_on,
        category="result",
        what=r.label,
        detail=r.specimen or "",
        value=value,
        state=r.state,
        amendment=amendment,
        history=history,
    )


def timeline_rows(tl: TimelinePublic) -> list[Row]:
    """Every dated thing of the timeline, oldest first."""
    rows: list[Row] = []
    for d in tl.diagnoses:
        if d.diagnosed_on is not None:
            cls = " ".join(x for x in (d.classification, d.edition) if x)
            rows.append(
                Row(
                    date=d.diagnosed_on,
                    category="diagnosis",
                    what=d.disease,
                    detail="; ".join(x for x in (cls, ", ".join(d.genetics)) if x),
                )
            )
    for line in tl.therapy_lines:
        cycles = f"{len(line.cycles)} cycle(s)" if line.cycles else ""
        until = f"until {line.end.isoformat()}" if line.end else "ongoing"
        rows.append(
            Row(
                date=line.start,
                category="therapy",
                what=f"Line {line.line}: {line.regimen}",
                detail="; ".join(x for x in (line.intensity, line.intent, cycles, until) if x),
            )
        )
    for e in tl.events:
        rows.append(Row(date=e.date, category="event", what=e.kind, detail=e.detail or ""))
    for b in tl.biopsies:
        day = b.performed_at.date() if isinstance(b.performed_at, dt.datetime) else b.performed_at
        where = " ".join(x for x in (b.side, b.site) if x)
        complications = ", ".join(
            c.kind
            + (f" ({c.severity})" if c.severity else "")
            + (f", follow-up: {c.follow_up}" if c.follow_up else "")
            for c in b.complications
        )
        rows.append(
            Row(
                date=day,
                category="biopsy",
                what=f"Bone marrow biopsy, {where}" if where else "Bone marrow biopsy",
                detail="; ".join(
                    x
                    for x in (
                        b.indication,
                        f"complications: {complications}" if complications else "no complications",
                    )
                    if x
                ),
            )
        )
    rows.extend(_result_row(r) for r in tl.results)
    rows.sort(key=lambda r: (r.date, _ORDER[r.category]))
    return rows
