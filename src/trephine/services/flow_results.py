"""Storing a computed flow MRD result on a specimen (``trephine flow mrd … --specimen``).

The result is recorded as a DRAFT through :func:`trephine.services.results.record_result`, so
it follows the normal lifecycle (edit while draft, verify = sign out, amend). Re-storing the
same computation is a no-op; storing a different one on the same specimen and method edits the
draft, and is refused once the result is signed out (amend it instead).
"""

from __future__ import annotations

from trephine.analysis.flow.mrd import MrdResult
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import FlowMethod, FlowMRD
from trephine.domain.specimen import SpecimenType
from trephine.errors import ValidationError
from trephine.services import _rows, results
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork

#: Flow MRD is measured on aspirate or blood; a core or clot section has no cell suspension.
FLOW_SPECIMENS = (SpecimenType.ASPIRATE, SpecimenType.PERIPHERAL_BLOOD)
_HUNDRED = 100


def flow_mrd_value(
    res: MrdResult,
    method: FlowMethod,
    *,
    source_file: str,
    source_sha256: str,
    gating_sha256: str,
    panel: str | None = None,
) -> FlowMRD:
    """The domain value of one quantification: MRD in % of the denominator (e.g. CD45+), with
    LOD/LLOQ of this acquisition in %, "not detected" below the LOD, and the flags."""
    lod = res.lod_fraction * _HUNDRED
    lloq = res.lloq_fraction * _HUNDRED
    if res.detected:
        mrd = Quantity(res.mrd_percent, "%", Qualifier.EXACT, lod=lod, lloq=lloq)
    else:
        mrd = Quantity(None, "%", Qualifier.NOT_DETECTED, lod=lod, lloq=lloq)
    return FlowMRD(
        mrd,
        method,
        events_acquired=res.denominator_events,
        abnormal_events=res.abnormal_events,
        panel=panel,
        flags=res.flag_codes,
        source_file=source_file,
        source_sha256=source_sha256,
        gating_sha256=gating_sha256,
    )


def check_flow_specimen(uow: UnitOfWork, accession: str) -> None:
    """The specimen exists (else NotFound) and is one flow MRD is measured on."""
    specimen = _rows.specimen_row(uow, accession)
    if SpecimenType(specimen.type) not in FLOW_SPECIMENS:
        raise ValidationError(
            "--specimen",
            f"{accession} ({specimen.type})",
            [str(t) for t in FLOW_SPECIMENS],
            reason="flow MRD needs an aspirate or blood specimen",
        )


def record_flow_mrd(uow: UnitOfWork, accession: str, value: FlowMRD) -> tuple[StoredResult, bool]:
    """Record ``value`` as a draft on specimen ``accession``."""
    check_flow_specimen(uow, accession)
    return results.record_result(uow, accession, value)
