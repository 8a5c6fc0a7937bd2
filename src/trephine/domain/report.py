"""The integrated marrow report's versions, as a lab issues them (clinical-systems.md §2.3).

A procedure's report is issued in versions, never edited: ``preliminary`` (any number, while
results are still coming) → ``final`` → then ``amended`` (content already issued changed, e.g. an
amended result or a changed diagnosis), ``corrected`` (an error in what was issued, CLIA
42 CFR 493.1291(k)) or ``addended`` (information added — a late NGS or FISH result — without
changing what was issued). Every version after the first final names why it was issued.
:data:`NEXT` is the whole rule as data; :func:`check_next` applies it.
"""

from __future__ import annotations

from enum import StrEnum

from trephine.errors import IllegalTransition, ValidationError


class ReportStatus(StrEnum):
    PRELIMINARY = "preliminary"
    FINAL = "final"
    AMENDED = "amended"
    CORRECTED = "corrected"
    ADDENDED = "addended"

    @property
    def fhir(self) -> str:
        """DiagnosticReport.status (R4 value set; an addendum is ``appended``)."""
        return "appended" if self is ReportStatus.ADDENDED else self.value

    @property
    def needs_reason(self) -> bool:
        return self in AFTER_FINAL


#: Statuses that change or add to a report already issued as final.
AFTER_FINAL = frozenset({ReportStatus.AMENDED, ReportStatus.CORRECTED, ReportStatus.ADDENDED})

#: The status of the current version (None: nothing issued yet) → what may be issued next.
NEXT: dict[ReportStatus | None, frozenset[ReportStatus]] = {
    None: frozenset({ReportStatus.PRELIMINARY, ReportStatus.FINAL}),
    ReportStatus.PRELIMINARY: frozenset({ReportStatus.PRELIMINARY, ReportStatus.FINAL}),
    ReportStatus.FINAL: AFTER_FINAL,
    ReportStatus.AMENDED: AFTER_FINAL,
    ReportStatus.CORRECTED: AFTER_FINAL,
    ReportStatus.ADDENDED: AFTER_FINAL,
}


def parse_status(value: str) -> ReportStatus:
    try:
        return ReportStatus(value.strip().lower())
    except ValueError:
        raise ValidationError(
            "status", value, ", ".join(s.value for s in ReportStatus), reason="unknown status"
        ) from None


def check_next(current: ReportStatus | None, status: ReportStatus, reason: str | None) -> None:
    """Refuse a version that may not follow ``current``, or one that needs a reason without it."""
    allowed = NEXT[current]
    if status not in allowed:
        after = "no version issued yet" if current is None else f"after the {current} version"
        raise IllegalTransition(
            "report",
            str(current) if current is not None else "not issued",
            str(status),
            f"{after} the next version may be: "
            + ", ".join(s.value for s in ReportStatus if s in allowed),
        )
    if status.needs_reason and not (reason or "").strip():
        raise ValidationError(
            "reason", reason, "why this version is issued (required after a final report)"
        )
