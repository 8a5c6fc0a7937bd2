"""`trephine export COHORT`: the cohort's tidy tables, de-identified as asked, in a format.

Evaluates the cohort now (kept), builds the tables (never identity), writes the files into
``--out`` and audits the export with every file's SHA-256. Safe Harbor and limited data sets are
keyed on the database's export key (pseudonyms and date shifts: ``TREPHINE_EXPORT_KEY`` when
set, else the database's own secret; ``services/site_secret.py``). Who exports is
``cli/common.acting`` with ``records:read``: the export never reads identity, so a researcher
may run it; once accounts exist it is the account of ``TREPHINE_USER``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from trephine.cli.common import DATABASE_HELP, acting, fail, open_database, working


def export(
    cohort: str = typer.Argument(..., help="A saved cohort (trephine cohort list)."),
    fmt: str = typer.Option("csv", "--format", help="csv, parquet, cbioportal, fhir or redcap"),
    deidentify: str = typer.Option(
        "safe-harbor", "--deidentify", help="none, safe-harbor or limited"
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write (created; must be empty)."),
    actor: str | None = typer.Option(None, "--as", help="Who exports (audit trail)."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Export a cohort for analysis: tables, data dictionary, label; audited."""
    from trephine.errors import ValidationError
    from trephine.present.deidentify import level_of
    from trephine.present.research_tables import FORMATS, WRITERS
    from trephine.services import cohorts, exports
    from trephine.services.site_secret import deidentifier

    if fmt not in (*FORMATS, "fhir", "redcap"):
        raise fail(f"--format: {fmt!r} is not allowed; allowed: {', '.join(FORMATS)}, fhir, redcap")
    try:
        level = level_of(deidentify)
    except ValidationError as exc:
        raise fail(ValidationError("--deidentify", exc.value, exc.allowed)) from None
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise fail(
            f"--out: {out} exists and is not an empty folder; allowed: a new or empty folder"
        )
    database = open_database(database_url, migrate=False)
    try:
        deid = deidentifier(database, level)
    except ValidationError as exc:
        raise fail(exc) from None
    who = acting(database, "records:read", actor)
    with working(database, who) as uow:
        ev = cohorts.evaluate(uow, cohort)
        if fmt == "fhir":
            files = exports.fhir_files(uow, ev, deid)
            files["README.txt"] = f"FHIR R4 bundles, one per patient.\n{deid.label}\n".encode()
        elif fmt == "redcap":
            files = exports.redcap_files(uow, ev, deid)
        else:
            files = WRITERS[fmt](exports.build(uow, ev, deid), exports.LOINC)
        hashes = exports.record(uow, ev, deid, fmt, files)
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
    typer.echo(
        f"exported cohort {ev.cohort.name} v{ev.cohort.version} ({len(ev.members)} patients) "
        f"as {fmt}, {level}: {len(files)} files in {out}"
    )
    for name, digest in hashes.items():
        typer.echo(f"  {name}  sha256 {digest[:16]}…")
