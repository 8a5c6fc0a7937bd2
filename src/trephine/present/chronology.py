"""A patient's chronology as a clinician reads it (``trephine patients show``): one phrase per
result kind.

The services return the read model (:class:`~trephine.services.views.PatientRecord`); the
phrases and their order are made here, numbers by the one rule of :mod:`trephine.present.numbers`.
"""

from __future__ import annotations

from dataclasses import replace

from trephine.domain.chronology import ChronologyEntry, EntryKind, ordered
from trephine.domain.quantity import Quantity
from trephine.domain.result_kinds import result_kind_words
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    ClinicalExam,
    CoreFindings,
    Extramedullary,
    IronStudies,
    Karyotype,
    Measurement,
    Population,
    headline,
)
from trephine.domain.therapy import Transplant
from trephine.present.explain import category_label
from trephine.present.numbers import readable
from trephine.services.views import PatientRecord, StoredResult
from trephine.workflow import ResultState

__all__ = ["build_chronology", "result_phrase", "with_chronology"]


def with_chronology(record: PatientRecord) -> PatientRecord:
    """``record`` with its :attr:`~trephine.services.views.PatientRecord.chronology` filled in."""
    return replace(record, chronology=tuple(build_chronology(record)))


def _fmt(value: Quantity | None) -> str:
    if value is None:
        return "–"
    shown = replace(value, value=readable(value.value), lod=readable(value.lod), precision=None)
    return str(shown)


def result_phrase(result: StoredResult) -> str:
    """A short human phrase for the chronology (exact values live in the record)."""
    value = result.value
    match value:
        case BloodCount():
            parts = [
                f"{label} {_fmt(v)}"
                for label, v in (
                    ("WBC", value.wbc),
                    ("ANC", value.anc),
                    ("Plt", value.platelets),
                    ("Hb", value.hemoglobin),
                )
                if v is not None
            ]
            text = "blood: " + ", ".join(parts)
        case AspirateDifferential():
            ratio = value.me_ratio()
            from trephine.present.results import differential_ci

            text = f"blasts {value.blast_percent:.1f} % of {value.cells_counted} cells"
            text += f" {differential_ci(value, CellClass.BLAST)}"
            if ratio is not None:
                text += f", M:E {ratio:.1f}"
        case Karyotype():
            text = f"{result_kind_words(value.kind)} {value.iscn}"
        case Extramedullary():
            # Say whether disease was found: a bare "extramedullary" on every biopsy line read
            # as extramedullary disease present when the examination found none.
            found = "present" if value.present else "absent"
            text = f"{result_kind_words(value.kind)} {found} ({value.site})"
        case CoreFindings():
            # The marrow iron grade beside the cellularity (iron studies of the same biopsy
            # follow on the same line: issue 13 §3).
            text = "cellularity " + _fmt(value.cellularity)
            if value.iron_grade is not None:
                text += f", iron grade {value.iron_grade} ({value.iron_scale})"
        case ClinicalExam():
            from trephine.present.results import exam_text

            text = f"{result_kind_words(value.kind)}: {exam_text(value)}"
        case IronStudies():
            parts = [
                f"{label} {_fmt(v)}"
                for label, v in (
                    ("ferritin", value.ferritin),
                    ("transferrin saturation", value.transferrin_saturation),
                    ("liver iron (MRI)", value.liver_iron),
                )
                if v is not None
            ]
            text = f"{result_kind_words(value.kind)}: " + ", ".join(parts)
        case Population():
            # Which cells, of which parent: a bare "population 72.74 %" named neither.
            share = readable(value.percent_of_parent)
            text = f"{value.population} {share} % of {value.parent}"
        case Measurement():
            text = f"{value.index} {_fmt(value.value)}"
        case _:
            # The kind's one name (domain/result_kinds); a gene's MRD or VAF names the gene.
            if result.kind == "molecular_mrd":
                label = f"{result.analyte} MRD"
            elif result.kind == "ngs_variant":
                label = f"{result.analyte} VAF"
            elif result.kind == "chimerism":
                label = f"{result_kind_words(result.kind)} ({result.analyte})"
            else:
                label = result_kind_words(result.kind)
            top = headline(value)
            text = f"{label} {_fmt(top)}" if top is not None else label
    if result.state is ResultState.AMENDED:
        text += f" [amended v{result.version}: {result.amendment_reason}]"
    elif result.state is not ResultState.VERIFIED:
        text += f" [{result.state}]"
    return text


def build_chronology(record: PatientRecord) -> list[ChronologyEntry]:
    """The patient's story by date: diagnoses, therapy lines, cellular therapies, biopsies with
    their results' phrases, and stored criteria calls."""
    entries: list[ChronologyEntry] = []
    for dx in record.diagnoses:
        genetics = ", ".join(f"{g.marker} {g.status}" for g in dx.genetics)
        detail = "; ".join(
            p for p in (str(dx.classification), dx.subtype or "", genetics, dx.karyotype or "") if p
        )
        entries.append(
            ChronologyEntry(dx.diagnosed_on, EntryKind.DIAGNOSIS, str(dx.disease), detail)
        )
    for line in record.therapy_lines:
        entries.append(
            ChronologyEntry(
                line.start,
                EntryKind.THERAPY,
                f"line {line.line}: {line.regimen}",
                f"{line.intent}, {line.intensity}, {len(line.cycles)} cycle(s)",
                until=line.end,
            )
        )
    for event in record.cellular_therapies:
        if isinstance(event, Transplant):
            entries.append(
                ChronologyEntry(
                    event.on, EntryKind.TRANSPLANT, "stem cell transplant", str(event.donor_type)
                )
            )
        else:
            entries.append(
                ChronologyEntry(event.on, EntryKind.CAR_T, f"CAR-T {event.product}", event.target)
            )
    by_specimen: dict[str, list[StoredResult]] = {}
    for result in record.results:
        by_specimen.setdefault(result.accession, []).append(result)
    shown: set[str] = set()
    for proc in record.procedures:
        p = proc.procedure
        accessions = [s.specimen.accession for s in proc.specimens]
        shown.update(accessions)
        findings = [result_phrase(r) for a in accessions for r in by_specimen.get(a, [])]
        detail = f"{p.site}, {p.indication}"
        if findings:
            detail += " — " + "; ".join(findings)
        entries.append(
            ChronologyEntry(p.performed_on, EntryKind.PROCEDURE, "marrow biopsy", detail)
        )
    for accession, results in by_specimen.items():
        if accession in shown:
            continue
        entries.append(
            ChronologyEntry(
                results[0].collected_on,
                EntryKind.RESULT,
                f"specimen {accession}",
                "; ".join(result_phrase(r) for r in results),
            )
        )
    from trephine.services.assessments import current_assessments

    # Current calls only: a superseded one (an older version, or a response call of a marrow
    # whose relapse stands — one marrow, one story) stays in the record's history.
    for stored in current_assessments(record.assessments):
        a = stored.assessment
        day = next(
            (e.get("value") for e in a.evidence if e.get("input") == "day_after_transplant"),
            None,
        )
        # A day's marrow and blood MRD calls are two entries: each names its sample.
        on = stored.call.sample
        entries.append(
            ChronologyEntry(
                a.assessed_on,
                EntryKind.ASSESSMENT,
                # The category in the pages' words (the codes stay in --json).
                f"{a.ruleset}: {category_label(a.category)}"
                + ("" if on is None else f", {on}")
                + ("" if day is None else f" (day +{day})"),
                f"edition {a.criteria_edition}, rule {a.matched_rule or '-'}",
            )
        )
    return ordered(entries)
