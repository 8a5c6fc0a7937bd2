"""The integrated marrow report as a document: CAP bone-marrow sections → HTML and PDF.

:func:`document` turns the read model (``services.reports.MarrowReport``) into sections in the
order of the CAP bone-marrow template (clinical-systems.md §2.2): clinical information and
indication; specimens and adequacy; peripheral blood; aspirate (differential, adequacy);
trephine core (cellularity for age, fibrosis, iron, dysplasia, infiltrate); ancillary studies
(flow, molecular, cytogenetics, NGS, chimerism); other studies; interpretation; integrated
diagnosis (with the criteria engine's calls as suggestions, never filled in); comments. Then the
versions (current one marked), the record of discussion with the patient and the signature block.

:func:`html` renders it (one self-contained page, styles inline, for the file, the web page and
the PDF); :func:`pdf` prints that HTML with WeasyPrint, with a running header (lab, patient),
page x of y and the version on every page. Pure: no database; identity appears only when the
read model carries it (the caller decided by role).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from trephine.assess.call_kinds import call_kind_words
from trephine.criteria.categories import mid_sentence
from trephine.domain.quantity import Quantity
from trephine.domain.result_kinds import result_kind_words
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    Chimerism,
    ClinicalExam,
    CoreFindings,
    Extramedullary,
    FlowMRD,
    InfectionTest,
    IronStudies,
    Karyotype,
    Measurement,
    MolecularMRD,
    NGSVariant,
    Paraprotein,
    Population,
)
from trephine.present.explain import (
    category_label,
    criterion_label,
    evidence_sentence,
    input_label,
)
from trephine.present.numbers import number_text
from trephine.present.quantities import quantity_text
from trephine.present.results import label, summary

if TYPE_CHECKING:
    from trephine.services.reports import MarrowReport, ReportedResult

_TENTH = Decimal("0.1")
#: Shown where a report version carries no text for a section.
NOT_GIVEN = "Not given."


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    #: e.g. "amended 2026-11-02 by dr.okafor: analyser reprint (was: …)".
    note: str = ""
    changed: bool = False


@dataclass(frozen=True)
class Table:
    caption: str
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    rows: tuple[Row, ...] = ()
    tables: tuple[Table, ...] = ()
    text: str | None = None
    #: Shown when the section has nothing (e.g. "No peripheral blood result reported.").
    empty: str = ""
    suggestions: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Document:
    title: str
    lab: str
    patient_line: str
    identified: bool
    status: str
    version_line: str
    is_current: bool
    issued: bool
    sections: tuple[Section, ...]
    versions: tuple[dict[str, Any], ...]
    discussions: tuple[dict[str, Any], ...]
    signature: dict[str, Any] | None
    pending: str
    generated_at: str
    software: str
    banner: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _when(t: dt.datetime | None) -> str:
    if t is None:
        return ""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _q(q: Quantity | None) -> str:
    return quantity_text(q)


def _yes(b: bool | None) -> str:
    return "not recorded" if b is None else ("yes" if b else "no")


def _change_note(item: ReportedResult) -> tuple[str, bool]:
    r = item.result
    if item.previous is not None:
        was = summary(item.previous.value)
        who = r.amended_by or r.verified_by or r.created_by
        why = r.amendment_reason or "no reason recorded"
        return (
            f"Amended since the previous report version ({_when(r.amended_at)}, {who}): "
            f"{why}. Previously reported: {was}.",
            True,
        )
    if item.new:
        return ("New since the previous report version.", True)
    if r.version > 1:
        return (f"Amended result (version {r.version}): {r.amendment_reason or ''}".strip(), False)
    return ("", False)


def _row(item: ReportedResult, text: str | None = None) -> Row:
    note, changed = _change_note(item)
    r = item.result
    signed = f"signed out by {r.amended_by or r.verified_by}"
    return Row(
        f"{label(r.value)} — {r.accession}",
        text if text is not None else summary(r.value),
        "; ".join(x for x in (note, signed) if x),
        changed,
    )


def _pct(d: AspirateDifferential, cls: CellClass) -> str:
    """A cell class as % of the cells counted, to the one decimal a differential reports."""
    return format(d.percent(cls).quantize(_TENTH, rounding=ROUND_HALF_UP), "f")


def _interval(x: int, n: int) -> str:
    from trephine.analysis.stats import wilson

    iv = wilson(x, n)
    lo = Decimal(str(iv.lower * 100)).quantize(_TENTH, rounding=ROUND_HALF_UP)
    hi = Decimal(str(iv.upper * 100)).quantize(_TENTH, rounding=ROUND_HALF_UP)
    return f"{lo:f}–{hi:f}"


def _differential(item: ReportedResult) -> tuple[Row, Table]:
    d = item.result.value
    assert isinstance(d, AspirateDifferential)
    rows = tuple(
        (str(cls), str(d.count(cls)), _pct(d, cls), _interval(d.count(cls), d.cells_counted))
        for cls in CellClass
        if d.count(cls)
    )
    adequacy = (
        "adequate count" if d.adequate else "fewer than the 500 cells recommended (ICSH 2008)"
    )
    text = f"{summary(d)}; {adequacy}"
    table = Table(
        f"Differential of {item.result.accession} ({d.cells_counted} cells)",
        ("Cell class", "Count", "%", "95 % interval (Wilson)"),
        rows,
    )
    return _row(item, text), table


def _core_rows(report: MarrowReport, item: ReportedResult) -> list[Row]:
    c = item.result.value
    assert isinstance(c, CoreFindings)
    rows = [_row(item)]
    for call in report.cellularity_for_age:
        if call.result_id != item.result.id:
            continue
        band = (
            ""
            if call.band_low is None
            else f" (expected {number_text(call.band_low)}–{number_text(call.band_high)} %"
            f" at age {call.age})"
        )
        rows.append(
            Row(
                f"Cellularity for age — {call.reference}",
                f"{call.category.lower()}{band}",
                f"Source: {call.citation}. Age from the year of birth.",
            )
        )
    parts = [
        ("Cellularity", _q(c.cellularity)),
        ("Fibrosis (WHO/European consensus grade)", str(c.fibrosis) if c.fibrosis else ""),
        (
            "Iron stores",
            "" if c.iron_grade is None else f"grade {c.iron_grade} ({c.iron_scale} scale)",
        ),
        ("Ring sideroblasts", "" if c.ring_sideroblasts is None else _q(c.ring_sideroblasts)),
        (
            "Dysplasia",
            ", ".join(f"{k} {number_text(v)} %" for k, v in c.dysplasia.items()),
        ),
        (
            "Infiltrate",
            ""
            if c.infiltrate is None
            else f"{c.infiltrate_type}, {_q(c.infiltrate)} of cellularity",
        ),
    ]
    rows.extend(Row(name, value) for name, value in parts if value and value != "—")
    return rows


#: Ancillary study kinds, in the template's order.
_ANCILLARY = (FlowMRD, MolecularMRD, Karyotype, NGSVariant, Chimerism)
_OTHER = (IronStudies, InfectionTest, Paraprotein, Extramedullary, ClinicalExam)


def _of(report: MarrowReport, *types: type) -> list[ReportedResult]:
    return [i for i in report.results if isinstance(i.result.value, types)]


def _suggestion(s: Any) -> dict[str, Any]:
    a = s.assessment
    # Read as words in the report (the codes stay in "category" and "flags"), as the patient
    # page names the call ('Progressive disease (to confirm)', 'Before landmark') and words
    # its evidence ('meets the progressive disease criterion').
    label = category_label(str(a.category))
    return {
        "category": a.category,
        "label": label,
        "ruleset": a.ruleset,
        "edition": a.criteria_edition,
        "rule": a.matched_rule or "",
        "citation": a.citation or "",
        "reasons": [
            evidence_sentence(e, criterion_label(str(a.category)), a.matched_rule is not None)
            for e in a.evidence
        ],
        "missing": [input_label(m) for m in a.missing_inputs],
        "flags": list(a.flags),
        "flag_words": [str(f).replace("_", " ").lower() for f in a.flags],
        "software": a.software_version,
        "call": s.call_kind or "evaluation",
        "call_words": mid_sentence(call_kind_words(s.call_kind or "evaluation")),
    }


def _clinical(report: MarrowReport) -> Section:
    proc = report.procedure.procedure
    day = proc.performed_on
    rows = []
    for d in report.diagnoses:
        detail = f"{d.disease}" + (f", {d.subtype}" if d.subtype else "")
        rows.append(Row("Diagnosis", f"{detail} ({d.classification}), diagnosed {d.diagnosed_on}"))
    for t in report.therapy_lines:
        if t.end is None or t.end >= day:
            rows.append(Row("Therapy", f"line {t.line}: {t.regimen} since {t.start}"))
    for e in report.cellular_therapies:
        rows.append(Row("Cellular therapy", f"{type(e).__name__.lower()} on {e.on}"))
    side = "" if proc.side == "unknown" else f" ({proc.side})"
    rows += [
        Row("Indication", str(proc.indication)),
        Row("Procedure", f"{_when(proc.performed_at)}; site {proc.site}{side}"),
    ]
    return Section("clinical", "Clinical information and indication", tuple(rows))


def _specimens(report: MarrowReport) -> Section:
    rows = []
    for s in report.procedure.specimens:
        sp = s.specimen
        quality = []
        if sp.spicules is not None:
            quality.append(f"particles {_yes(sp.spicules)}")
        if sp.first_pull is not None:
            quality.append(f"first pull {_yes(sp.first_pull)}")
        if sp.hemodilution is not None:
            quality.append(f"haemodilution {sp.hemodilution}")
        if sp.core_length_mm is not None:
            quality.append(f"core length {number_text(sp.core_length_mm)} mm")
        if sp.fragmentation is not None:
            quality.append(f"fragmentation {sp.fragmentation}")
        rows.append(
            Row(
                f"{sp.accession} ({sp.type})",
                f"collected {_when(sp.collected_at)}",
                "; ".join(quality),
            )
        )
    return Section("specimens", "Specimens and adequacy", tuple(rows), empty="No specimen.")


def document(
    report: MarrowReport,
    *,
    lab: str,
    software: str,
    now: dt.datetime | None = None,
) -> Document:
    """The report's sections, versions and signature, ready to render."""
    from trephine.domain.report import ReportStatus

    p = report.patient
    if report.identity is not None:
        ident = report.identity
        born = f", born {ident.birth_date}" if ident.birth_date else ""
        patient_line = f"{ident.name}, MRN {ident.mrn}{born} (record {p.external_id})"
    else:
        born = f", born {p.birth_year}" if p.birth_year else ""
        patient_line = f"Patient {p.external_id} ({p.sex}{born}) — pseudonymised view"
    shown = report.shown
    sections: list[Section] = [_clinical(report), _specimens(report)]
    blood = [_row(i) for i in _of(report, BloodCount)]
    sections.append(
        Section(
            "blood",
            "Peripheral blood",
            tuple(blood),
            empty="No peripheral blood result on this procedure's specimens.",
        )
    )
    diff_rows, diff_tables = [], []
    for i in _of(report, AspirateDifferential):
        r, t = _differential(i)
        diff_rows.append(r)
        diff_tables.append(t)
    sections.append(
        Section(
            "aspirate",
            "Aspirate: differential and adequacy",
            tuple(diff_rows),
            tuple(diff_tables),
            empty="No aspirate differential reported.",
        )
    )
    core: list[Row] = []
    for i in _of(report, CoreFindings):
        core.extend(_core_rows(report, i))
    sections.append(
        Section(
            "core",
            "Trephine core: cellularity, fibrosis, iron, dysplasia, infiltrate",
            tuple(core),
            empty="No trephine core findings reported.",
        )
    )
    sections.append(
        Section(
            "ancillary",
            "Ancillary studies: flow cytometry, molecular, cytogenetics, NGS, chimerism",
            tuple(_row(i) for i in _of(report, *_ANCILLARY)),
            empty="No ancillary study reported.",
        )
    )
    other = tuple(_row(i) for i in _of(report, *_OTHER))
    if other:
        sections.append(Section("other", "Other studies", other))
    niche = tuple(_row(i) for i in _of(report, Population, Measurement))
    if niche:
        sections.append(
            Section(
                "microenvironment",
                "Microenvironment: populations and measurements (research indices, not a grade)",
                niche,
            )
        )
    sections.append(
        Section(
            "interpretation",
            "Interpretation",
            text=(shown.interpretation if shown else None) or NOT_GIVEN,
        )
    )
    dx = None
    if shown is not None and shown.diagnosis:
        dx = shown.diagnosis + (
            f" ({shown.diagnosis_classification})" if shown.diagnosis_classification else ""
        )
    sections.append(
        Section(
            "diagnosis",
            "Integrated diagnosis (WHO 5th / ICC 2022)",
            text=dx or NOT_GIVEN,
            suggestions=tuple(_suggestion(s) for s in report.suggestions),
        )
    )
    sections.append(
        Section("comments", "Comments", text=(shown.comments if shown else None) or NOT_GIVEN)
    )
    versions = tuple(
        {
            "version": v.version,
            "status": str(v.status),
            "issued_by": v.issued_by,
            "issued_at": _when(v.issued_at),
            "reason": v.reason or "",
            "current": v == report.current,
            "shown": v == shown,
            "sha256": v.content_sha256,
        }
        for v in report.versions
    )
    discussions = tuple(
        {
            "version": v.version,
            "by": d.discussed_by,
            "with": d.discussed_with,
            "at": _when(d.discussed_at),
            "note": d.note or "",
        }
        for v in report.versions
        for d in v.discussions
    )
    pending = ""
    if report.pending:
        kinds = sorted({result_kind_words(k) for k, _ in report.pending})
        pending = (
            f"{len(report.pending)} result(s) not yet signed out ({', '.join(kinds)}) are not "
            "part of this report."
        )
    if shown is None:
        status = "working copy"
        version_line = "Not issued: a working copy of the signed-out results"
        banner = "NOT ISSUED — working copy, not a report"
        signature = None
    else:
        status = str(shown.status)
        version_line = f"Version {shown.version} ({status})" + (
            " — current" if report.is_current else " — superseded"
        )
        banner = (
            ""
            if report.is_current
            else f"Superseded by version {report.current.version if report.current else ''}"
        )
        meaning = {
            ReportStatus.PRELIMINARY: "issued as a preliminary report",
            ReportStatus.FINAL: "approved and issued as the final report",
            ReportStatus.AMENDED: "amended the issued report",
            ReportStatus.CORRECTED: "corrected the issued report",
            ReportStatus.ADDENDED: "added an addendum to the issued report",
        }[shown.status]
        signature = {
            "name": shown.issued_by,
            "at": _when(shown.issued_at),
            "meaning": meaning,
            "reason": shown.reason or "",
            "sha256": shown.content_sha256,
        }
    proc = report.procedure
    return Document(
        title=f"Bone marrow report — procedure {proc.id}, {proc.procedure.performed_on}",
        lab=lab,
        patient_line=patient_line,
        identified=report.identity is not None,
        status=status,
        version_line=version_line,
        is_current=report.is_current,
        issued=shown is not None,
        sections=tuple(sections),
        versions=versions,
        discussions=discussions,
        signature=signature,
        pending=pending,
        generated_at=_when(now or dt.datetime.now(dt.UTC)),
        software=software,
        banner=banner,
    )


@cache
def _environment() -> Any:
    from importlib.resources import files

    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(files("trephine.present") / "templates")),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
    )
    env.filters["css_string"] = css_string
    return env


def css_string(text: str) -> Any:
    """``text`` inside a double-quoted CSS string of a ``<style>`` element (the PDF's running
    header): backslash, quote, angle brackets and line breaks escaped the CSS way."""
    from markupsafe import Markup

    out = []
    for ch in str(text):
        if ch in '\\"<>&' or ord(ch) < 32:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return Markup("".join(out))


def css() -> str:
    """The report's stylesheet (the web page puts it in its head)."""
    from importlib.resources import files

    return (files("trephine.present") / "templates" / "marrow_report.css").read_text()


def body(doc: Document) -> str:
    """The report as an HTML fragment (a page of the web app embeds it)."""
    return str(_environment().get_template("marrow_report_body.html").render(doc=doc))


def html(doc: Document) -> str:
    """The report as one self-contained HTML document (screen and print styles inline)."""
    return str(_environment().get_template("marrow_report.html").render(doc=doc, body=body(doc)))


def pdf(doc: Document) -> bytes:
    """The report printed by WeasyPrint: header with lab and patient, page x of y, version."""
    from weasyprint import HTML

    out: bytes = HTML(string=html(doc)).write_pdf()
    return out


__all__ = ["Document", "Row", "Section", "Table", "body", "css", "document", "html", "pdf"]
