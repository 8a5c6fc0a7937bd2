"""Microenvironment results (issue 14): storing computed populations and measurements as drafts,
and reading them back for the paired comparisons and the niche view.

Everything is recorded through :func:`trephine.services.results.record_results` (the batch
writer), so the lifecycle (draft → verified → amended), the natural key and the audit events are
the ones every other result kind has. Storing the same computation again changes nothing;
storing a different one edits the draft, and is refused once the result is signed out.
"""

from __future__ import annotations

from collections.abc import Sequence

from trephine.domain.results import Measurement, Population
from trephine.errors import TrephineError
from trephine.services import _rows, results
from trephine.services._batch import Outcome
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork


def record_drafts(
    uow: UnitOfWork, items: Sequence[tuple[str, Population | Measurement]]
) -> list[tuple[StoredResult, bool]]:
    """Record ``(accession, value)`` items as drafts, all or nothing: the first refusal raises
    (the unit of work then rolls back every item). Answers ``(stored, created)`` per item."""
    for accession in {a for a, _ in items}:
        _rows.specimen_row(uow, accession)  # NotFound names the accession
    answers = results.record_results(uow, [(a, v, False) for a, v in items])
    out: list[tuple[StoredResult, bool]] = []
    for answer in answers:
        if isinstance(answer, TrephineError):
            raise answer
        row_id, outcome = answer
        out.append((results.get_result(uow, row_id), outcome is Outcome.CREATED))
    return out


def stored_accessions(uow: UnitOfWork, accessions: Sequence[str]) -> set[str]:
    """Which of ``accessions`` are stored specimens (one query per thousand)."""
    from sqlalchemy import select

    from trephine.services._batch import chunks
    from trephine.store.tables import SpecimenRow

    found: set[str] = set()
    for batch in chunks(sorted(set(accessions))):
        found.update(
            uow.session.scalars(
                select(SpecimenRow.accession).where(SpecimenRow.accession.in_(batch))
            )
        )
    return found
