"""Storing ``trephine flow mrd`` results on a specimen (``--specimen ACC --store``).

Kept apart from :mod:`trephine.cli.flow_gating` so the gating command stays free of the
database; SQLAlchemy and the services are imported only when a specimen is named.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from trephine.analysis.flow.mrd import MrdResult

METHODS = ("LAIP", "DfN", "LAIP+DfN")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_options(specimen: str | None, store: bool, method: str | None) -> None:
    """Refuse inconsistent storing options before any gating work is done."""
    from trephine.errors import ValidationError

    if store and specimen is None:
        raise ValidationError("--store", True, "--specimen ACCESSION with --store")
    if specimen is not None and method not in METHODS:
        raise ValidationError(
            "--method", method, METHODS, reason="the MRD method is required with --specimen"
        )


def store_result(
    res: MrdResult,
    *,
    fcs_path: Path,
    gating_path: Path,
    specimen: str,
    method: str,
    panel: str | None,
    store: bool,
    actor: str | None,
    database_url: str | None,
) -> dict[str, Any]:
    """Record the result as a draft on ``specimen`` (or, without ``store``, check that it could
    be: the specimen exists and takes flow MRD; nothing is written). Returns a JSON summary."""
    from trephine.cli.records import _actor, _open
    from trephine.domain.results import FlowMethod
    from trephine.services.flow_results import (
        check_flow_specimen,
        flow_mrd_value,
        record_flow_mrd,
    )

    value = flow_mrd_value(
        res,
        FlowMethod(method),
        source_file=fcs_path.name,
        source_sha256=sha256_of(fcs_path),
        gating_sha256=sha256_of(gating_path),
        panel=panel,
    )
    database = _open(database_url, migrate=False)
    try:
        if store:
            with database.unit_of_work(actor or _actor()) as uow:
                stored, created = record_flow_mrd(uow, specimen, value)
            return {
                "specimen": specimen,
                "result_id": stored.id,
                "state": str(stored.state),
                "version": stored.version,
                "created": created,
                "mrd": str(value.mrd),
                "source_sha256": value.source_sha256,
                "gating_sha256": value.gating_sha256,
            }
        with database.unit_of_work(actor or _actor()) as uow:
            check_flow_specimen(uow, specimen)
        return {"specimen": specimen, "stored": False, "mrd": str(value.mrd)}
    finally:
        database.dispose()


def echo_summary(summary: dict[str, Any]) -> None:
    if "result_id" in summary:
        verb = "stored" if summary["created"] else "already stored (unchanged or draft edited)"
        typer.echo(
            f"  {verb}: result {summary['result_id']} v{summary['version']} "
            f"({summary['state']}) on specimen {summary['specimen']}"
        )
    else:
        typer.echo(f"  specimen {summary['specimen']} takes flow MRD; nothing stored (add --store)")
