"""NGS variants on stored specimens: ``trephine clonal import`` and ``clonal track --patient``.

**Sample → specimen mapping.** Each sample of the file is a stored specimen: by default the
``sample_id`` IS the specimen accession; a sample sheet (``--samples``) with an ``accession``
column maps other sample names onto accessions. The file's ``patient_id`` must be the
specimen's patient (a mismatch is refused, never re-assigned). The specimen's collection date
is authoritative; the file's ``day`` is not stored.

**What is stored.** One NGS variant result per (specimen, gene + mutation id) as a DRAFT, with
gene, HGVS (the file's ``mutation_id``, which must be an HGVS description such as
``c.860_863dup`` or a genomic id with a colon such as ``chr5:170837543:C>CTCTG``), VAF in %
(the file's fraction × 100, exact), depth and alt count. The file imports whole or not at all:
every problem is collected as a located issue (file, row, column, value, what is allowed) and
nothing is written; re-importing the same file adds nothing.

**Tracking.** :func:`patient_observations` maps a patient's stored variants back onto the
clonal pipeline's :class:`VariantObservation` (day = days since the first diagnosis, or since
the first sequenced specimen when no diagnosis is recorded), so ``clonal track --patient``
gives the same JSON as ``clonal track FILE``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from trephine.analysis.clonal.records import VariantObservation
from trephine.domain.quantity import Quantity
from trephine.domain.results import VAF, NGSVariant, ResultKind
from trephine.errors import (
    ImportRejected,
    Issue,
    Location,
    NotFound,
    Severity,
    ValidationError,
)
from trephine.services import _rows, audit, results
from trephine.store.codec import decode_result
from trephine.store.database import UnitOfWork
from trephine.store.tables import DiagnosisRow, PatientRow, ResultRow
from trephine.workflow import REPORTED_STATES, ResultState

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class VariantImport:
    source: str
    created: int
    unchanged: int
    specimens: tuple[str, ...]


def read_accession_map(path: Path) -> dict[str, str]:
    """``sample_id → accession`` from a sample sheet's optional ``accession`` column ({} when the
    sheet has no such column: sample ids are then the accessions)."""
    issues: list[Issue] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter="\t")
        if reader.fieldnames is None or "accession" not in reader.fieldnames:
            return {}
        mapping: dict[str, str] = {}
        for n, rec in enumerate(reader, start=2):
            sid, acc = (rec.get("sample_id") or "").strip(), (rec.get("accession") or "").strip()
            if not acc:
                issues.append(
                    Issue(
                        Severity.ERROR,
                        "missing",
                        f"sample {sid!r}: accession is empty (the stored specimen's accession)",
                        Location(source=str(path), row=n, column="accession"),
                    )
                )
                continue
            mapping[sid] = acc
    if issues:
        raise ImportRejected(str(path), issues)
    return mapping


def _variant(obs: VariantObservation) -> NGSVariant:
    # repr() of the parsed float is the shortest text that round-trips, i.e. the file's digits.
    quantity: Quantity = VAF.quantity(Decimal(repr(obs.vaf)), "1")  # fraction → %
    return NGSVariant(
        gene=obs.gene,
        hgvs=obs.mutation_id,
        vaf=quantity,
        depth=obs.depth,
        alt_count=obs.alt_count,
    )


def import_variants(
    uow: UnitOfWork,
    observations: Sequence[VariantObservation],
    source: str,
    accessions: dict[str, str] | None = None,
) -> VariantImport:
    """Record every observation as a draft NGS variant result, all or nothing."""
    accessions = accessions or {}
    issues: list[Issue] = []
    patient_of: dict[str, str | None] = {}
    created = unchanged = 0
    used: set[str] = set()
    planned: list[tuple[str, NGSVariant]] = []

    def error(obs: VariantObservation, code: str, column: str, message: str) -> None:
        loc = obs.source or Location(source=source)
        issues.append(
            Issue(
                Severity.ERROR,
                code,
                message,
                Location(source=loc.source or source, row=loc.row, column=column),
            )
        )

    for obs in observations:
        accession = accessions.get(obs.sample_id, obs.sample_id)
        if accession not in patient_of:
            try:
                specimen = _rows.specimen_row(uow, accession)
                patient = uow.session.get(PatientRow, specimen.patient_id)
                patient_of[accession] = None if patient is None else patient.external_id
            except NotFound:
                patient_of[accession] = None
        owner = patient_of[accession]
        if owner is None:
            error(
                obs,
                "unknown_specimen",
                "sample_id",
                f"sample {obs.sample_id!r}: no stored specimen with accession {accession!r} "
                "(sample_id must be the accession, or map it with an 'accession' column "
                "in the sample sheet)",
            )
            continue
        if owner != obs.patient_id:
            error(
                obs,
                "patient_mismatch",
                "patient_id",
                f"patient_id {obs.patient_id!r}: specimen {accession} belongs to {owner!r}",
            )
            continue
        try:
            value = _variant(obs)
        except ValidationError as exc:
            column = {"hgvs": "mutation_id", "vaf": "vaf"}.get(exc.field, exc.field)
            error(obs, "invalid", column, str(exc))
            continue
        signed_out = _signed_out_value(uow, accession, value)
        if signed_out is not None and signed_out != value:
            # Name every field that differs (VAF, depth, read count, or a protein change the
            # signed-out version has and the file lacks), not only the VAF: the same VAF with
            # other read counts is a change too, and "45 % vs 45 %" would not say which.
            differ = [
                f.name
                for f in fields(NGSVariant)
                if getattr(signed_out, f.name) != getattr(value, f.name)
            ]
            error(
                obs,
                "conflict",
                _COLUMN_OF_FIELD.get(differ[0], "mutation_id"),
                f"{accession} {value.analyte}: differs from the signed-out version ("
                + "; ".join(
                    f"{name} {_shown(getattr(signed_out, name))} signed out, "
                    f"{_shown(getattr(value, name))} in the file"
                    for name in differ
                )
                + ") — record an amendment instead",
            )
            continue
        if any(a == accession and v.analyte == value.analyte for a, v in planned):
            error(obs, "duplicate", "sample_id", f"{accession} {value.analyte} given twice")
            continue
        planned.append((accession, value))
    # Check everything first, write after: all or nothing without savepoints (SQLite's driver
    # would commit at the release of an outermost savepoint).
    if issues:
        raise ImportRejected(source, issues)
    for accession, value in planned:
        _, was_created = results.record_result(uow, accession, value)
        used.add(accession)
        created += was_created
        unchanged += not was_created
    audit.append(
        uow,
        audit.Entry(
            "import",
            "ngs_variants",
            source,
            {"created": created, "unchanged": unchanged, "specimens": sorted(used)},
        ),
    )
    return VariantImport(source, created, unchanged, tuple(sorted(used)))


#: NGSVariant field -> the column of the long TSV that gives it (the rest are not in the TSV).
_COLUMN_OF_FIELD = {"vaf": "vaf", "depth": "depth", "alt_count": "alt_count", "gene": "gene"}


def _shown(value: object) -> str:
    return "none" if value is None else str(value)


def _signed_out_value(uow: UnitOfWork, accession: str, value: NGSVariant) -> NGSVariant | None:
    """The current signed-out version of this variant on this specimen, if any."""
    specimen = _rows.specimen_row(uow, accession)
    row = uow.session.scalar(
        select(ResultRow).where(
            ResultRow.specimen_id == specimen.id,
            ResultRow.kind == str(ResultKind.NGS_VARIANT),
            ResultRow.analyte == value.analyte,
            ResultRow.state.in_([str(ResultState.VERIFIED), str(ResultState.AMENDED)]),
        )
    )
    if row is None:
        return None
    stored = decode_result(row.kind, row.value)
    return stored if isinstance(stored, NGSVariant) else None


def patient_observations(
    uow: UnitOfWork, external_id: str, *, include_drafts: bool = False
) -> list[VariantObservation]:
    """The patient's stored NGS variants as the clonal pipeline's observations."""
    states = set(REPORTED_STATES)
    if include_drafts:
        states.add(ResultState.DRAFT)
    stored = [
        r
        for r in results.patient_results(uow, external_id, (ResultKind.NGS_VARIANT,))
        if r.state in states
    ]
    patient = _rows.patient_row(uow, external_id)
    diagnosed = uow.session.scalar(
        select(DiagnosisRow.diagnosed_on)
        .where(DiagnosisRow.patient_id == patient.id)
        .order_by(DiagnosisRow.diagnosed_on)
        .limit(1)
    )
    origin: dt.date | None = diagnosed or min((r.collected_on for r in stored), default=None)
    out: list[VariantObservation] = []
    for r in stored:
        value = r.value
        assert isinstance(value, NGSVariant) and origin is not None
        vaf = value.vaf.value if value.vaf.value is not None else Decimal(0)
        out.append(
            VariantObservation(
                patient_id=external_id,
                sample_id=r.accession,
                day=float((r.collected_on - origin).days),
                gene=value.gene,
                mutation_id=value.hgvs,
                alt_count=value.alt_count,
                depth=value.depth,
                vaf=float(vaf / _HUNDRED),
                source=Location(source=f"result {r.id} v{r.version}"),
            )
        )
    return out
