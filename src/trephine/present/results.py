"""Domain read models (from :mod:`trephine.services`) → the public JSON shape of each resource.

The one shape the API, the pages and every CLI ``--json`` serve: ``GET
/api/v1/patients/{id}/timeline`` lists :func:`result` for each current result, and ``trephine
results show|list --json`` print the same :func:`result` (tests/api/test_result_json_shape.py
checks they are equal). The shapes are declared as pydantic models in
:mod:`trephine.api.schemas` (they document the API); the phrases per result kind
(:func:`label`, :func:`summary`) and the numbers (:mod:`trephine.present.numbers`) are made here.

Pure functions, no database: callers fetch through the services and hand the read model here.
This is also where the research view is enforced by construction — the schemas have no field
that could carry a name or an MRN, and nothing here reads identity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from typing import Any, cast, get_args

from trephine.api.schemas.patients import (
    BiopsyPublic,
    ComplicationPublic,
    ComponentPublic,
    CyclePublic,
    DiagnosisPublic,
    EventPublic,
    MarrowValuePublic,
    PatientList,
    PatientPublic,
    QuantityPublic,
    ResultPublic,
    ResultState,
    ResultVersionPublic,
    TherapyLinePublic,
    TimelinePublic,
)
from trephine.domain.patient import Diagnosis
from trephine.domain.quantity import Quantity
from trephine.domain.result_kinds import result_kind_name
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
    ResultValue,
)
from trephine.domain.therapy import CarTInfusion, CellularTherapy, TherapyLine, Transplant
from trephine.present.quantities import number_text, quantity_text, unit_text
from trephine.services.patient_search import PatientHit, PatientHits
from trephine.services.views import PatientRecord, StoredProcedure, StoredResult

_TENTH = Decimal("0.1")


def quantity(q: Quantity | None) -> QuantityPublic | None:
    if q is None:
        return None
    return QuantityPublic(
        value=q.value,
        unit=q.unit,
        qualifier=q.qualifier.value,
        lod=q.lod,
        lloq=q.lloq,
        display=quantity_text(q),
    )


def blast_percent(d: AspirateDifferential) -> Quantity:
    """Blast % for display, to one decimal; criteria use the exact value from the domain."""
    return Quantity(d.blast_percent.quantize(_TENTH, rounding=ROUND_HALF_UP), "%")


def _cell_percent(d: AspirateDifferential, cls: CellClass) -> Quantity:
    """A cell class as % of nucleated cells, to one decimal (as blasts are shown)."""
    return Quantity(d.percent(cls).quantize(_TENTH, rounding=ROUND_HALF_UP), "%")


def components(value: ResultValue) -> list[ComponentPublic]:
    """Every number of a result by name (the names the chart's series select on)."""
    named: list[tuple[str, Quantity | None]] = []
    match value:
        case BloodCount():
            named = [
                ("wbc", value.wbc),
                ("anc", value.anc),
                ("alc", value.alc),
                ("platelets", value.platelets),
                ("hemoglobin", value.hemoglobin),
                ("circulating_blasts", value.circulating_blasts),
                ("reticulocytes", value.reticulocytes),
                ("mcv", value.mcv),
                ("rdw", value.rdw),
                ("cd19_percent", value.cd19_percent),
                ("cd19_count", value.cd19_count),
                ("pnh_clone", value.pnh_clone),
            ]
        case AspirateDifferential():
            me = value.me_ratio()
            named = [
                ("blasts", blast_percent(value)),
                ("plasma_cells", _cell_percent(value, CellClass.PLASMA_CELL)),
                ("lymphocytes", _cell_percent(value, CellClass.LYMPHOCYTE)),
                ("me_ratio", None if me is None else Quantity(me.quantize(_TENTH), "1")),
            ]
        case CoreFindings():
            named = [
                ("cellularity", value.cellularity),
                ("ring_sideroblasts", value.ring_sideroblasts),
                ("infiltrate", value.infiltrate),
                ("residual_hematopoietic_cells", value.residual_hematopoietic_cells),
            ]
        case FlowMRD():
            named = [("mrd", value.mrd)]
        case MolecularMRD():
            named = [("ratio", value.ratio)]
        case NGSVariant():
            named = [("vaf", value.vaf)]
        case Chimerism():
            named = [("donor_percent", value.donor_percent)]
        case ClinicalExam():
            named = [("largest_node", value.largest_node), ("spleen_length", value.spleen_length)]
        case IronStudies():
            named = [
                ("ferritin", value.ferritin),
                ("transferrin_saturation", value.transferrin_saturation),
                ("liver_iron", value.liver_iron),
            ]
        case Population():
            share = value.percent_of_total
            named = [
                ("percent_of_parent", _computed_percent(value.percent_of_parent)),
                ("percent_of_total", None if share is None else _computed_percent(share)),
            ]
        case Measurement():
            named = [(value.index.replace(" ", "_").replace("+", ""), value.value)]
        case _:
            named = []
    out = []
    for name, q in named:
        public = quantity(q)
        if public is not None:
            out.append(ComponentPublic(name=name, value=public))
    return out


def headline(value: ResultValue) -> QuantityPublic | None:
    """The one number a list or chart shows for a result."""
    match value:
        case AspirateDifferential():
            return quantity(blast_percent(value))
        case FlowMRD():
            return quantity(value.mrd)
        case MolecularMRD():
            return quantity(value.ratio)
        case NGSVariant():
            return quantity(value.vaf)
        case Chimerism():
            return quantity(value.donor_percent)
        case CoreFindings():
            return quantity(value.cellularity)
        case BloodCount():
            return quantity(value.anc)
        case Population():
            return quantity(_computed_percent(value.percent_of_parent))
        case Measurement():
            return quantity(value.value)
        case _:
            return None


def _computed_percent(value: Decimal) -> Quantity:
    """A percentage computed from counts, to the 4 significant digits of a computed value."""
    from trephine.present.numbers import format_value

    return Quantity(Decimal(format_value(value)), "%")


def population_intervals(value: Population) -> dict[str, Any]:
    """The 95 % Wilson intervals of a population's percentages (exact fractions as strings,
    and the text a person reads), the one shape JSON, pages and reports show."""
    from trephine.analysis.stats import wilson

    out: dict[str, Any] = {}
    pairs = [("of_parent", value.parent, value.parent_count)]
    if value.total is not None and value.total_count:
        pairs.append(("of_total", value.total, value.total_count))
    for key, denominator, n in pairs:
        ci = wilson(value.count, n)
        out[key] = {
            "denominator": denominator,
            "count": value.count,
            "n": n,
            "percent": str(Decimal(value.count) * 100 / Decimal(n)),
            "ci95_low": f"{ci.lower * 100:.6g}",
            "ci95_high": f"{ci.upper * 100:.6g}",
            "method": ci.method,
            "text": interval_text(ci.estimate, ci.lower, ci.upper),
        }
    return out


def interval_text(estimate: float, lower: float, upper: float) -> str:
    """``5.0 % (95 % CI 2.7–9.0 %)``: a proportion (fractions of 1) as a person reads it."""
    from trephine.present.numbers import format_value

    def pct(x: float) -> str:
        # One decimal, as a differential is read; below 1 % two significant digits, so that
        # a small population (0.042 %) keeps its size.
        value = x * 100
        return f"{value:.1f}" if value >= 1 or value == 0 else format_value(value, 2)

    return f"{pct(estimate)} % (95 % CI {pct(lower)}–{pct(upper)} %)"


def differential_intervals(d: AspirateDifferential) -> dict[str, dict[str, str | int]]:
    """Every class of a differential with its count, exact % and 95 % Wilson interval (%)."""
    out: dict[str, dict[str, str | int]] = {}
    for cls in CellClass:
        x = d.count(cls)
        if cls not in d.counts:
            continue
        percent, low, high, text = _class_interval(x, d.cells_counted)
        out[str(cls)] = {
            "count": x,
            "percent": percent,
            "ci95_low": low,
            "ci95_high": high,
            "text": text,
        }
    return out


@lru_cache(maxsize=16384)
def _class_interval(x: int, n: int) -> tuple[str, str, str, str]:
    """``x`` cells of ``n`` counted as :func:`differential_intervals` writes them: the exact %
    (``AspirateDifferential.percent``), the 95 % Wilson bounds (%) and the interval's text.
    A function of the two counts only, so worked out once per pair: a patient page words
    every class of every differential (~25 % of phrasing its timeline went to this), and
    counts repeat (a few hundred cells counted, small counts per class)."""
    from trephine.analysis.stats import wilson

    ci = wilson(x, n)
    return (
        str(Decimal(x) * 100 / Decimal(n)),
        f"{ci.lower * 100:.6g}",
        f"{ci.upper * 100:.6g}",
        interval_text(ci.estimate, ci.lower, ci.upper),
    )


def differential_ci(d: AspirateDifferential, cls: CellClass) -> str:
    """``(95 % CI 2.7–9.0 %)`` for one class of a differential."""
    text = _class_interval(d.count(cls), d.cells_counted)[3]
    return "(" + text.split("(", 1)[1]


def label(value: ResultValue) -> str:
    """A result's label: its kind's one name (:mod:`trephine.domain.result_kinds`) with the
    result's own detail ("Flow cytometry MRD (MFC)"); a gene's MRD or variant, a population and a
    measurement are named by what they measure ("NPM1 / ABL1 (qPCR)")."""
    name = result_kind_name(value.kind)
    match value:
        case FlowMRD():
            return f"{name} ({value.method})"
        case MolecularMRD():
            return f"{value.marker} / {value.control_gene} ({value.method})"
        case NGSVariant():
            return f"{value.gene} {value.hgvs_protein or value.hgvs} VAF"
        case Chimerism():
            return f"{name} ({value.lineage})"
        case Extramedullary():
            return f"{name} ({value.site})"
        case Paraprotein():
            return f"{name} ({value.isotype})"
        case InfectionTest():
            return f"Marrow {value.test}"
        case Population():
            return f"{value.population[0].upper()}{value.population[1:]} ({value.method})"
        case Measurement():
            return f"{value.index[0].upper()}{value.index[1:]} ({value.region})"
    return name


def _q(q: Quantity | None, name: str) -> str | None:
    return None if q is None else f"{name} {quantity_text(q)}"


def _join(parts: Iterable[str | None]) -> str:
    return ", ".join(p for p in parts if p)


def _retic(value: BloodCount) -> str | None:
    if value.reticulocytes is None:
        return None
    method = value.reticulocyte_method
    return f"retic {quantity_text(value.reticulocytes)}" + (
        "" if method is None else f" ({method})"
    )


def summary(value: ResultValue) -> str:
    """The whole result on one line, qualifiers and units included."""
    match value:
        case BloodCount():
            return _join(
                (
                    _q(value.wbc, "WBC"),
                    _q(value.anc, "ANC"),
                    _q(value.platelets, "PLT"),
                    _q(value.hemoglobin, "Hb"),
                    _q(value.circulating_blasts, "PB blasts"),
                    _retic(value),
                    _q(value.mcv, "MCV"),
                    _q(value.rdw, "RDW"),
                    _q(value.cd19_percent, "CD19+ of lymphocytes"),
                    _q(value.cd19_count, "CD19+"),
                    _q(value.pnh_clone, "PNH clone"),
                    "platelets transfused" if value.platelet_transfusion else None,
                    None
                    if value.transfusion_dependence in (None, "none")
                    else f"transfusion: {value.transfusion_dependence}",
                )
            )
        case AspirateDifferential():
            me = value.me_ratio()
            return _join(
                (
                    f"blasts {blast_percent(value)} {differential_ci(value, CellClass.BLAST)}",
                    None if me is None else f"M:E {me.quantize(_TENTH)}",
                    f"{value.cells_counted} cells",
                    None if value.adequate else "below 500 cells",
                )
            )
        case CoreFindings():
            dysplasia = ", ".join(f"{k} {number_text(v)} %" for k, v in value.dysplasia.items())
            return _join(
                (
                    _q(value.cellularity, "cellularity"),
                    None if value.fibrosis is None else str(value.fibrosis),
                    None
                    if value.iron_grade is None
                    else f"iron {value.iron_grade} ({value.iron_scale})",
                    _q(value.ring_sideroblasts, "ring sideroblasts"),
                    _q(value.residual_hematopoietic_cells, "residual haematopoietic cells"),
                    f"dysplasia {dysplasia}" if dysplasia else None,
                    None
                    if value.infiltrate is None
                    else f"infiltrate {value.infiltrate_type} {quantity_text(value.infiltrate)}",
                    None if value.granulomas is None else f"granulomas: {value.granulomas}",
                    None
                    if value.lymphoid_nodules is None
                    else f"lymphoid nodules: {value.lymphoid_nodules}",
                    None
                    if value.megaloblastic_change is None
                    else f"megaloblastic change: {value.megaloblastic_change}",
                    None
                    if value.plasma_cell_kappa_lambda is None
                    else f"plasma cells κ:λ {value.plasma_cell_kappa_lambda} "
                    f"({value.plasma_cells_assessed} cells)",
                )
            )
        case FlowMRD():
            events = (
                None
                if value.events_acquired is None
                else f"{value.abnormal_events or 0:,}/{value.events_acquired:,} events"
            )
            lloq = (
                None
                if value.mrd.lloq is None
                else f"LLOQ {number_text(value.mrd.lloq)} {unit_text(value.mrd.unit)}"
            )
            cd19 = None if value.cd19_on_blasts is None else f"CD19 {value.cd19_on_blasts}"
            return _join((quantity_text(value.mrd), events, lloq, cd19))
        case MolecularMRD():
            sens = (
                None
                if value.sensitivity is None
                else f"sensitivity {number_text(value.sensitivity)}"
            )
            return _join((quantity_text(value.ratio), sens))
        case NGSVariant():
            depth = None if value.depth is None else f"depth {value.depth}"
            return _join(
                (
                    f"{value.gene} {value.hgvs}",
                    value.hgvs_protein,
                    f"VAF {quantity_text(value.vaf)}",
                    depth,
                )
            )
        case Karyotype():
            return value.iscn
        case Chimerism():
            return _join((f"donor {quantity_text(value.donor_percent)}", value.method))
        case Extramedullary():
            return _join((value.site, "present" if value.present else "absent", value.method))
        case Paraprotein():
            ratio = value.flc_ratio
            return _join(
                (
                    _q(value.serum_m_protein, "serum M"),
                    _q(value.urine_m_protein, "urine M"),
                    _q(value.involved_flc, f"involved FLC ({value.involved_light_chain})"),
                    _q(value.uninvolved_flc, "uninvolved FLC"),
                    None if ratio is None else f"κ/λ {ratio.quantize(Decimal('0.01'))}",
                    None if value.serum_ife is None else f"serum IFE {value.serum_ife}",
                    None if value.urine_ife is None else f"urine IFE {value.urine_ife}",
                    None if value.plasmacytoma is None else f"plasmacytoma {value.plasmacytoma}",
                )
            )
        case IronStudies():
            return _join(
                (
                    _q(value.ferritin, "ferritin"),
                    _q(value.transferrin_saturation, "transferrin saturation"),
                    _q(value.liver_iron, "liver iron (MRI)"),
                )
            )
        case InfectionTest():
            return _join((f"{value.test} {value.outcome}", value.organism))
        case ClinicalExam():
            return exam_text(value)
        case Population():
            ci = population_intervals(value)
            parts = [
                f"{value.count:,} of {value.parent_count:,} {value.parent}: "
                f"{ci['of_parent']['text']}"
            ]
            if "of_total" in ci:
                parts.append(f"of {value.total} {ci['of_total']['text']}")
            return _join((*parts, value.panel, *value.flags))
        case Measurement():
            counted = (
                None
                if value.objects_counted is None or value.area_mm2 is None
                else f"{value.objects_counted:,} on {number_text(value.area_mm2)} mm²"
            )
            return _join(
                (
                    f"{value.index} {quantity_text(value.value)}",
                    value.stain,
                    str(value.method),
                    counted,
                    *value.flags,
                )
            )
    return ""  # pragma: no cover


def _state(s: object, cancelled_ok: bool = False) -> ResultState:
    value = str(s)
    if value not in get_args(ResultState) and not (cancelled_ok and value == "cancelled"):
        # Cancelled drafts never reach the public views; anything else is a programming error.
        raise ValueError(f"result state {value!r} has no public representation")
    return cast(ResultState, value)


@cache
def _value_adapter(kind: type) -> Any:
    # Building an adapter compiles a serialiser (milliseconds); once per value type per process.
    from pydantic import TypeAdapter

    return TypeAdapter(kind)


def detail(value: ResultValue) -> dict[str, Any]:
    """Every field of ``value`` as JSON (exact: numbers as decimal strings), with its ``kind``;
    a differential adds ``derived`` (blast %, M:E ratio, adequacy), what the criteria read."""
    kind: type = type(value)
    data: dict[str, Any] = _value_adapter(kind).dump_python(value, mode="json", warnings=False)
    out = {"kind": str(value.kind), **data}
    if isinstance(value, AspirateDifferential):
        ratio = value.me_ratio()
        out["derived"] = {
            "blast_percent": str(value.blast_percent),
            "me_ratio": None if ratio is None else str(ratio),
            "adequate": value.adequate,
            "intervals": differential_intervals(value),
        }
    if isinstance(value, Population):
        from trephine.domain.populations import CELL_TYPES

        cell = CELL_TYPES[value.population]
        out["derived"] = {
            "cell_ontology": {
                "id": cell.cl_id,
                "label": cell.cl_label,
                "verified": cell.cl_verified,
            },
            "percent_of_parent": str(value.percent_of_parent),
            "percent_of_total": None
            if value.percent_of_total is None
            else str(value.percent_of_total),
            "intervals": population_intervals(value),
        }
    if isinstance(value, Measurement):
        out["derived"] = {"index": value.index, "value": str(value.value.value)}
    return out


def result(
    current: StoredResult,
    history: Sequence[StoredResult] = (),
    *,
    cancelled_ok: bool = False,
    details: bool = True,
) -> ResultPublic:
    """A version of a result, with the earlier versions (oldest first) it replaced.

    ``cancelled_ok`` lets a staff view (the CLI) show a cancelled draft; the research API never
    passes it, so a cancelled draft that slipped past its readers is refused, not published.
    ``details=False``: ``detail`` left empty (see :func:`timeline`)."""
    earlier = sorted((h for h in history if h.version < current.version), key=lambda h: h.version)
    versions: list[ResultVersionPublic] = []
    for i, h in enumerate(earlier):
        # The reason for replacing version k is recorded on version k+1.
        replaced_by = earlier[i + 1] if i + 1 < len(earlier) else current
        versions.append(
            ResultVersionPublic(
                version=h.version,
                value=headline(h.value),
                summary=summary(h.value),
                state=_state(h.state, cancelled_ok),
                recorded_by=h.amended_by or h.verified_by or h.created_by,
                recorded_at=h.amended_at or h.verified_at or h.created_at,
                reason=replaced_by.amendment_reason,
            )
        )
    return ResultPublic(
        id=str(current.id),
        patient=current.patient_id,
        kind=str(current.kind),
        analyte=current.analyte,
        label=label(current.value),
        specimen=current.accession,
        collected_on=current.collected_on,
        value=headline(current.value),
        components=components(current.value),
        summary=summary(current.value),
        detail=detail(current.value) if details else {},
        state=_state(current.state, cancelled_ok),
        version=current.version,
        created_by=current.created_by,
        created_at=current.created_at,
        verified_by=current.verified_by,
        verified_at=current.verified_at,
        amended_by=current.amended_by,
        amended_at=current.amended_at,
        amendment_reason=current.amendment_reason,
        supersedes=None if current.supersedes_id is None else str(current.supersedes_id),
        history=versions,
    )


def diagnosis(d: Diagnosis) -> DiagnosisPublic:
    genetics = [
        f"{g.marker} {g.status}" + (f" ({g.detail})" if g.detail else "") for g in d.genetics
    ]
    if d.karyotype:
        genetics.append(d.karyotype)
    return DiagnosisPublic(
        disease=str(d.disease),
        classification=d.subtype or None,
        edition=str(d.classification),
        diagnosed_on=d.diagnosed_on,
        genetics=genetics,
    )


def therapy_line(line: TherapyLine) -> TherapyLinePublic:
    return TherapyLinePublic(
        line=line.line,
        regimen=line.regimen,
        intent=str(line.intent),
        intensity=str(line.intensity),
        start=line.start,
        end=line.end,
        cycles=[CyclePublic(number=c.number, start=c.start, end=c.end) for c in line.cycles],
    )


def event(e: CellularTherapy) -> EventPublic:
    if isinstance(e, Transplant):
        kind = "allogeneic transplant" if e.allogeneic else "autologous transplant"
        detail = f"{e.donor_type} donor, {e.conditioning} conditioning"
        if e.conditioning == "not applicable":
            detail = f"{e.donor_type} donor"
        return EventPublic(kind=kind, date=e.on, detail=detail)
    assert isinstance(e, CarTInfusion)
    return EventPublic(kind="CAR-T infusion", date=e.on, detail=f"{e.product} (anti-{e.target})")


def biopsy(p: StoredProcedure) -> BiopsyPublic:
    proc = p.procedure
    return BiopsyPublic(
        id=str(p.id),
        performed_at=proc.performed_at,
        site=str(proc.site),
        side=None if proc.side == "unknown" else str(proc.side),
        indication=str(proc.indication),
        complications=[
            ComplicationPublic(kind=str(c.kind), severity=str(c.severity), follow_up=c.follow_up)
            for c in proc.complications
        ],
    )


def last_marrow_blasts(results: Iterable[StoredResult]) -> QuantityPublic | None:
    diffs = [r for r in results if isinstance(r.value, AspirateDifferential)]
    if not diffs:
        return None
    last = max(diffs, key=lambda r: (r.collected_on, r.version))
    assert isinstance(last.value, AspirateDifferential)
    return quantity(blast_percent(last.value))


def patient_from_record(record: PatientRecord) -> PatientPublic:
    last_biopsy: dt.date | None = None
    if record.procedures:
        last_biopsy = max(p.procedure.performed_on for p in record.procedures)
    return PatientPublic(
        id=record.patient.external_id,
        sex=str(record.patient.sex),
        birth_year=record.patient.birth_year,
        diagnosis=str(record.diagnoses[-1].disease) if record.diagnoses else None,
        last_biopsy=last_biopsy,
        last_marrow_blasts=last_marrow_blasts(record.results),
    )


def _marrow(hit: PatientHit) -> MarrowValuePublic | None:
    value = quantity(hit.marrow_value)
    if value is None or hit.marrow_on is None:
        return None
    return MarrowValuePublic(label=hit.marrow_label, value=value, collected_on=hit.marrow_on)


def patient_from_hit(hit: PatientHit) -> PatientPublic:
    """A row of the patient search in the research view (the hit's identity, if any, is not
    carried over: the schema has no field for it)."""
    return PatientPublic(
        id=hit.patient_id,
        sex=hit.sex,
        birth_year=hit.birth_year,
        diagnosis=hit.diagnosis,
        last_biopsy=hit.last_biopsy,
        last_marrow_blasts=quantity(hit.last_blasts),
        marrow=_marrow(hit),
        latest_response=hit.latest_response,
        open_alerts=hit.open_alerts,
    )


def patient_list(hits: PatientHits) -> PatientList:
    """One page of the research patient list: ``GET /api/v1/patients`` and ``trephine patients
    list --json`` alike."""
    return PatientList(
        items=[patient_from_hit(h) for h in hits.items],
        total=hits.total,
        limit=hits.limit,
        offset=hits.offset,
    )


def timeline(
    record: PatientRecord,
    histories: Mapping[int, Sequence[StoredResult]] | None = None,
    *,
    details: bool = True,
) -> TimelinePublic:
    """The whole patient page; ``histories`` maps a current result id to all its versions.
    ``details=False`` leaves each result's ``detail`` empty (for a reader that shows none)."""
    histories = histories or {}
    return TimelinePublic(
        patient=patient_from_record(record),
        diagnoses=[diagnosis(d) for d in record.diagnoses],
        therapy_lines=[therapy_line(t) for t in record.therapy_lines],
        events=[event(e) for e in record.cellular_therapies],
        biopsies=[biopsy(p) for p in record.procedures],
        results=[result(r, histories.get(r.id, ()), details=details) for r in record.results],
    )


def _yes_no(flag: bool | None, yes: str, no: str) -> str | None:
    return None if flag is None else (yes if flag else no)


def exam_text(value: ClinicalExam) -> str:
    """One line of a clinical examination; what was not examined is not mentioned."""
    return _join(
        (
            _q(value.largest_node, "largest lymph node"),
            _yes_no(
                value.liver_spleen_normal, "liver and spleen normal", "liver or spleen enlarged"
            ),
            _q(value.spleen_length, "spleen length (imaging)"),
            _yes_no(
                value.constitutional_symptoms,
                "constitutional symptoms",
                "no constitutional symptoms",
            ),
            value.method,
        )
    )
