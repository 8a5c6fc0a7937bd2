"""Database side of ``trephine clonal import`` and ``clonal track --patient`` (SQLAlchemy and
the services are imported here only, so the file-based clonal commands never load them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trephine.analysis.clonal.records import VariantObservation
    from trephine.services.variants import VariantImport


def import_file(
    file: Path,
    observations: Sequence[VariantObservation],
    samples: Path | None,
    actor: str | None,
    database_url: str | None,
) -> VariantImport:
    from trephine.cli.common import acting, open_database
    from trephine.services.variants import import_variants, read_accession_map

    accessions = read_accession_map(samples) if samples is not None else {}
    database = open_database(database_url, migrate=False)
    try:
        who = acting(database, "results:write", actor, option="--actor")
        with database.unit_of_work(who.name) as uow:
            uow.context["source"] = str(file)
            return import_variants(uow, observations, str(file), accessions)
    finally:
        database.dispose()


def stored_observations(
    patient: str, include_drafts: bool, database_url: str | None
) -> list[VariantObservation]:
    from trephine.cli.common import acting, audit_reads, open_database
    from trephine.errors import ValidationError
    from trephine.services.variants import patient_observations

    database = open_database(database_url, migrate=False)
    try:
        who = acting(database, "records:read")
        with database.unit_of_work(who.name) as uow:
            obs = patient_observations(uow, patient, include_drafts=include_drafts)
            audit_reads(uow, who, "variants", [patient])
    finally:
        database.dispose()
    if not obs:
        raise ValidationError(
            "--patient",
            patient,
            "a patient with signed-out NGS variant results"
            + ("" if include_drafts else " (drafts are left out; see --include-drafts)"),
        )
    return obs
