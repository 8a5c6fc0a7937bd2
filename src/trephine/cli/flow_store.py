"""Storing ``trephine flow mrd`` results on a specimen (``--specimen ACC --store``).

Kept apart from :mod:`trephine.cli.flow_gating` so the gating command stays free of the
database; SQLAlchemy and the services are imported only when a specimen is named.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from trephine.cli.common import acting, open_database
from trephine.importers.flow_mrd import METHODS

if TYPE_CHECKING:
    from trephine.analysis.flow.mrd import MrdResult

__all__ = ["METHODS", "check_options", "echo_summary", "store_result"]


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
    from trephine.importers.flow_mrd import tube_value
    from trephine.services.flow_results import check_flow_specimen, record_flow_mrd

    value = tube_value(res, fcs_path=fcs_path, gating_path=gating_path, method=method, panel=panel)
    database = open_database(database_url, migrate=False)
    who = acting(database, "results:write", actor, option="--actor").name
    try:
        if store:
            with database.unit_of_work(who) as uow:
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
        with database.unit_of_work(who) as uow:
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
