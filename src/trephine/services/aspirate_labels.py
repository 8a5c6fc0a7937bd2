"""Recording a differential counted on an aspirate image (issue 14 §3) as a draft result, on an
aspirate specimen only."""

from __future__ import annotations

from trephine.domain.results import AspirateDifferential
from trephine.errors import ValidationError
from trephine.services import entry_drafts, results
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork


def record(
    uow: UnitOfWork, accession: str, value: AspirateDifferential
) -> tuple[StoredResult, bool]:
    """Record ``value`` as a draft on the aspirate ``accession`` (a draft there is edited;
    a signed-out one is a Conflict — amend it instead)."""
    found = entry_drafts.specimen(uow, accession)  # NotFound names the accession
    if found.type != "aspirate":
        raise ValidationError(
            "specimen", accession, "an aspirate specimen", reason=f"a {found.type}"
        )
    return results.record_result(uow, accession, value)
