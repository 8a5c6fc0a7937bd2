"""Storing a computed flow MRD result on a specimen (``trephine flow mrd … --specimen``).

The value to store is built by :func:`trephine.importers.flow_mrd.flow_mrd_value`.

The result is recorded as a DRAFT through :func:`trephine.services.results.record_result`, so
it follows the normal lifecycle (edit while draft, verify = sign out, amend). Re-storing the
same computation is a no-op; storing a different one on the same specimen and method edits the
draft, and is refused once the result is signed out (amend it instead).
"""

from __future__ import annotations

from trephine.domain.results import FlowMRD
from trephine.domain.specimen import SpecimenType
from trephine.errors import ValidationError
from trephine.services import _rows, results
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork

#: Flow MRD is measured on aspirate or blood; a core or clot section has no cell suspension.
FLOW_SPECIMENS = (SpecimenType.ASPIRATE, SpecimenType.PERIPHERAL_BLOOD)


def check_flow_specimen(uow: UnitOfWork, accession: str) -> None:
    """The specimen exists (else NotFound) and is one flow MRD is measured on."""
    specimen = _rows.specimen_row(uow, accession)
    if SpecimenType(specimen.type) not in FLOW_SPECIMENS:
        raise ValidationError(
            "specimen",
            f"{accession} ({specimen.type})",
            [str(t) for t in FLOW_SPECIMENS],
            reason="flow MRD needs an aspirate or blood specimen",
        )


def record_flow_mrd(uow: UnitOfWork, accession: str, value: FlowMRD) -> tuple[StoredResult, bool]:
    """Record ``value`` as a draft on specimen ``accession``."""
    check_flow_specimen(uow, accession)
    return results.record_result(uow, accession, value)
