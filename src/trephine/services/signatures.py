"""Electronic signatures (21 CFR Part 11; clinical-systems.md §6.3 P6-P8).

Signing out a result in the browser — or an amendment of it — is an electronic signature: the
signer has just re-entered their password (:func:`trephine.services.accounts.reauthenticate`),
and the record keeps the signer's name, the time, the **meaning** (``verified``) and how they
proved it, linked to the signed content by a SHA-256 hash of it (P7: a signature copied onto
another record, or a record changed after signing, no longer verifies). The lifecycle is the
results' own (:mod:`trephine.workflow`): :func:`sign_result` is ``verify_result`` plus the
signature, :func:`sign_amendment` is ``amend_result`` plus the signature; both in one
transaction, so there is never a signed-out result without its signature or the reverse.

Issuing a version of the integrated marrow report is an electronic signature in the same way
(:func:`sign_report`): ``reports.issue_report`` plus a signature whose meaning says what the
signer did (issued a preliminary, approved the final, amended …), linked to the version's
content hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from trephine.domain.report import ReportStatus
from trephine.domain.results import ResultValue
from trephine.errors import NotFound
from trephine.services import audit, reports, results
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork
from trephine.store.tables import ElectronicSignatureRow, ReportVersionRow, ResultRow

#: The meaning of a sign-out signature (Part 11 §11.50(a)(3)).
VERIFIED = "verified"
#: How the signer proved who they were at signing.
PASSWORD = "password"


@dataclass(frozen=True)
class Signature:
    id: int
    entity: str
    entity_id: str
    signer: str
    signed_at: dt.datetime
    meaning: str
    method: str
    #: Does the hash still match the record it is linked to?
    valid: bool

    def manifestation(self) -> str:
        """What a signed record shows (§11.50): printed name, date and time, meaning."""
        when = self.signed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"Electronically signed by {self.signer} on {when}; meaning: {self.meaning}"


def result_content(row: ResultRow) -> dict[str, Any]:
    """What a result signature covers: which result, which version, its value."""
    return {
        "entity": "result",
        "id": row.id,
        "patient_id": row.patient_id,
        "specimen_id": row.specimen_id,
        "kind": row.kind,
        "analyte": row.analyte,
        "collected_on": row.collected_on.isoformat(),
        "version": row.version,
        "value": row.value,
    }


def content_hash(content: dict[str, Any]) -> str:
    frozen = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(frozen.encode("utf-8")).hexdigest()


def _store(
    uow: UnitOfWork,
    entity: tuple[str, int],
    signed_at: dt.datetime,
    meaning: str,
    method: str,
    content: dict[str, Any],
    audited: tuple[str, object, dict[str, Any]],
) -> ElectronicSignatureRow:
    """Store one signature by the unit of work's actor over ``content`` (entity and row id) and
    audit it (``sign`` on the audited entity and id, with the signature's id, meaning, method)."""
    signature = ElectronicSignatureRow(
        entity=entity[0],
        entity_id=str(entity[1]),
        signer=uow.actor,
        signed_at=signed_at,
        meaning=meaning,
        method=method,
        content_hash=content_hash(content),
    )
    uow.session.add(signature)
    uow.session.flush()
    name, entity_id, detail = audited
    audit.append(
        uow,
        audit.Entry(
            "sign",
            name,
            entity_id,
            {"signature": signature.id, "meaning": meaning, "method": method, **detail},
        ),
    )
    return signature


def _sign(uow: UnitOfWork, row: ResultRow, meaning: str, method: str) -> Signature:
    assert row.verified_at is not None
    signature = _store(
        uow,
        ("result", row.id),
        row.verified_at,
        meaning,
        method,
        result_content(row),
        ("result", row.id, {"version": row.version}),
    )
    return _view(signature, row)


def _view(sig: ElectronicSignatureRow, row: ResultRow | None) -> Signature:
    valid = row is not None and content_hash(result_content(row)) == sig.content_hash
    return Signature(
        sig.id, sig.entity, sig.entity_id, sig.signer, sig.signed_at, sig.meaning, sig.method, valid
    )


def sign_result(
    uow: UnitOfWork, result_id: int, *, method: str = PASSWORD
) -> tuple[StoredResult, Signature]:
    """Sign out a draft with an electronic signature (meaning ``verified``)."""
    stored = results.verify_result(uow, result_id)
    row = uow.session.get(ResultRow, stored.id)
    assert row is not None
    return stored, _sign(uow, row, VERIFIED, method)


def sign_amendment(
    uow: UnitOfWork, result_id: int, value: ResultValue, reason: str, *, method: str = PASSWORD
) -> tuple[StoredResult, Signature]:
    """Amend a signed-out result (new version, reason kept) and sign the new version."""
    stored = results.amend_result(uow, result_id, value, reason)
    row = uow.session.get(ResultRow, stored.id)
    assert row is not None
    return stored, _sign(uow, row, VERIFIED, method)


def signatures_of_result(uow: UnitOfWork, result_id: int) -> list[Signature]:
    """The signatures linked to one result version, oldest first, each re-verified."""
    row = uow.session.get(ResultRow, result_id)
    if row is None:
        raise NotFound("result", result_id)
    found = uow.session.scalars(
        select(ElectronicSignatureRow)
        .where(
            ElectronicSignatureRow.entity == "result",
            ElectronicSignatureRow.entity_id == str(result_id),
        )
        .order_by(ElectronicSignatureRow.id)
    )
    return [_view(sig, row) for sig in found]


#: The meaning of a report signature, per version status (Part 11 §11.50(a)(3)); at most 32
#: characters (the column). The report's signature block spells each out in full.
REPORT_MEANINGS: dict[ReportStatus, str] = {
    ReportStatus.PRELIMINARY: "issued preliminary",
    ReportStatus.FINAL: "approved final",
    ReportStatus.AMENDED: "amended",
    ReportStatus.CORRECTED: "corrected",
    ReportStatus.ADDENDED: "addended",
}


def report_content(row: ReportVersionRow) -> dict[str, Any]:
    """What a report signature covers: which procedure's report, which version, its status and
    the SHA-256 of everything the version says (``report_version.content_sha256``)."""
    return {
        "entity": "report",
        "procedure": row.procedure_id,
        "version": row.version,
        "status": row.status,
        "issued_by": row.issued_by,
        "content_sha256": row.content_sha256,
    }


def _report_view(sig: ElectronicSignatureRow, row: ReportVersionRow | None) -> Signature:
    valid = row is not None and content_hash(report_content(row)) == sig.content_hash
    return Signature(
        sig.id, sig.entity, sig.entity_id, sig.signer, sig.signed_at, sig.meaning, sig.method, valid
    )


def sign_report(
    uow: UnitOfWork,
    procedure_id: int,
    status: ReportStatus,
    *,
    method: str = PASSWORD,
    reason: str | None = None,
    interpretation: str | None = None,
    diagnosis: str | None = None,
    diagnosis_classification: str | None = None,
    comments: str | None = None,
) -> tuple[reports.ReportVersion, Signature]:
    """Issue the next report version (:func:`reports.issue_report`) and sign it, in one
    transaction. The caller has just re-authenticated the signer (``method`` says how)."""
    version = reports.issue_report(
        uow,
        procedure_id,
        status,
        reason=reason,
        interpretation=interpretation,
        diagnosis=diagnosis,
        diagnosis_classification=diagnosis_classification,
        comments=comments,
    )
    row = uow.session.get(ReportVersionRow, version.id)
    assert row is not None
    meaning = REPORT_MEANINGS[status]
    signature = _store(
        uow,
        ("report", row.id),
        row.issued_at,
        meaning,
        method,
        report_content(row),
        ("report", f"{procedure_id}/v{row.version}", {}),
    )
    return version, _report_view(signature, row)


def signatures_of_report(uow: UnitOfWork, procedure_id: int) -> dict[int, list[Signature]]:
    """Per report version number, the signatures linked to it (oldest first), re-verified."""
    rows = {
        r.id: r
        for r in uow.session.scalars(
            select(ReportVersionRow).where(ReportVersionRow.procedure_id == procedure_id)
        )
    }
    out: dict[int, list[Signature]] = {r.version: [] for r in rows.values()}
    if not rows:
        return out
    found = uow.session.scalars(
        select(ElectronicSignatureRow)
        .where(
            ElectronicSignatureRow.entity == "report",
            ElectronicSignatureRow.entity_id.in_([str(i) for i in rows]),
        )
        .order_by(ElectronicSignatureRow.id)
    )
    for sig in found:
        row = rows[int(sig.entity_id)]
        out[row.version].append(_report_view(sig, row))
    return out
