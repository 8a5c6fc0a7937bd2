"""`trephine image ...`: quality, nuclei, cellularity and IHC indices of marrow images, a
whole slide tile by tile (``slide``), and synthetic phantoms to try them on.

Contract (used by checks outside the test suite): ``trephine image nuclei FILE --json`` prints
``{"nuclei": [[x, y], ...], "detector": {...}, ...}`` in pixel coordinates (x = column,
y = row, origin top-left); ``trephine image cellularity FILE --json`` prints
``{"cellularity_pct": ..., "overlay": PATH, ...}``; ``--store --specimen ACC`` stores either as
a draft ``measurement`` result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from trephine.cli.common import DATABASE_HELP, acting, open_database, refusals, refuse

if TYPE_CHECKING:
    from trephine.store.database import Database

app = typer.Typer(
    help="Marrow images: quality checks, nuclei, cellularity, IHC indices.",
    no_args_is_help=True,
)

FILE = typer.Argument(..., help="Image tile (PNG, JPEG, TIFF, WebP).", show_default=False)
JSON = typer.Option(False, "--json", help="Print JSON.")
MPP = typer.Option(None, "--mpp", help="Micrometres per pixel (default: from the file).")
STORE = typer.Option(False, "--store", help="Store as a draft measurement (needs --specimen).")
SPECIMEN = typer.Option(None, "--specimen", help="Specimen accession to store on.")
ACTOR = typer.Option(
    None, "--actor", help="Who records it (with accounts it may only repeat TREPHINE_USER)."
)
DATABASE = typer.Option(None, "--database-url", help=DATABASE_HELP)


def _check_store(
    store: bool, specimen: str | None, actor: str | None, database: str | None
) -> tuple[Database, str] | None:
    """With ``--store``: the database and who records (``cli/common.acting``, results:write),
    checked before the image is analysed; None without it."""
    from trephine.errors import ValidationError

    if store and specimen is None:
        raise ValidationError("--specimen", None, "--specimen ACCESSION with --store")
    if specimen is not None and not store:
        raise ValidationError("--store", False, "--store with --specimen")
    if not store:
        return None
    db = open_database(database, migrate=False)
    return db, acting(db, "results:write", actor, option="--actor").name


def _store(value: Any, specimen: str, writer: tuple[Database, str] | None) -> dict[str, Any]:
    from trephine.services.microenvironment import record_drafts

    assert writer is not None
    db, who = writer
    try:
        with db.unit_of_work(who) as uow:
            ((row, created),) = record_drafts(uow, [(specimen, value)])
    finally:
        db.dispose()
    return {
        "specimen": specimen,
        "result_id": row.id,
        "state": str(row.state),
        "version": row.version,
        "created": created,
    }


def _store_all(
    values: list[Any], specimen: str, writer: tuple[Database, str] | None
) -> list[dict[str, Any]]:
    """Several measurements on one specimen, all or nothing."""
    from trephine.services.microenvironment import record_drafts

    assert writer is not None
    db, who = writer
    try:
        with db.unit_of_work(who) as uow:
            stored = record_drafts(uow, [(specimen, value) for value in values])
    finally:
        db.dispose()
    return [
        {
            "specimen": specimen,
            "index": value.index,
            "result_id": row.id,
            "state": str(row.state),
            "version": row.version,
            "created": created,
        }
        for value, (row, created) in zip(values, stored, strict=True)
    ]


def _emit(payload: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)
        stored = payload.get("stored")
        for item in stored if isinstance(stored, list) else [stored] if stored else []:
            verb = "stored" if item["created"] else "already stored"
            typer.echo(
                f"  {verb}: result {item['result_id']} v{item['version']} "
                f"({item['state']}) on specimen {item['specimen']}"
                + (f" ({item['index']})" if "index" in item else "")
            )


@app.command("quality")
def quality_command(file: Path = FILE, as_json: bool = JSON) -> None:
    """Check tissue, focus and stain; exit 2 with the reasons when the image is unusable."""
    with refusals():
        from trephine.importers.images import load_checked

        _, report = load_checked(file, check=False)
    data = {"file": str(file), **report.as_dict()}
    _emit(
        data,
        as_json,
        [
            f"{file}: {'usable' if report.usable else 'refused'}",
            f"  tissue {report.tissue_fraction:.1%}, sharpness {report.sharpness:.3f}, "
            f"haematoxylin p90 {report.haematoxylin_p90:.3f}",
            *[f"  refused: {reason}" for reason in report.refusals],
        ],
    )
    if not report.usable:
        raise typer.Exit(code=2)


@app.command("nuclei")
def nuclei_command(
    file: Path = FILE,
    as_json: bool = JSON,
    mpp: float | None = MPP,
    store: bool = STORE,
    specimen: str | None = SPECIMEN,
    actor: str | None = ACTOR,
    database: str | None = DATABASE,
) -> None:
    """Detect nuclei (x = column, y = row, origin top-left; every detection is listed) and the
    density of those in the marrow space per mm²; the detector's measured F1 travels with the
    answer."""
    with refusals():
        writer = _check_store(store, specimen, actor, database)
        from trephine.importers.images import analyse_nuclei, nuclei_measurement

        run = analyse_nuclei(file, mpp=mpp)
        data = run.as_dict()
        if store:
            assert specimen is not None
            data["stored"] = _store(nuclei_measurement(run), specimen, writer)
    detector = data["detector"]
    validation = detector["validation"]
    density = data["density_per_mm2"]
    _emit(
        data,
        as_json,
        [
            f"{file}: {data['count']} nuclei, {data['count_in_marrow_space']} of them in the "
            "marrow space"
            + (f", {density:,.0f} per mm²" if density is not None else " (give --mpp for mm²)"),
            f"  detector {detector['name']} v{detector['version']}: F1 "
            f"{validation.get('test_f1')} on the Kainz 2015 test tiles (8 px matching)",
        ],
    )


@app.command("cellularity")
def cellularity_command(
    file: Path = FILE,
    as_json: bool = JSON,
    mpp: float | None = MPP,
    overlay: Path | None = typer.Option(
        None, "--overlay", help="Overlay PNG to write (default: FILE.cellularity.png beside it)."
    ),
    store: bool = STORE,
    specimen: str | None = SPECIMEN,
    actor: str | None = ACTOR,
    database: str | None = DATABASE,
) -> None:
    """Haematopoietic area as % of the marrow space (haematopoietic + fat), with an overlay:
    magenta haematopoietic, yellow fat, blue-grey excluded (glass, bone, artefacts)."""
    with refusals():
        writer = _check_store(store, specimen, actor, database)
        from trephine.importers.images import analyse_cellularity, cellularity_measurement

        run = analyse_cellularity(file, mpp=mpp, overlay_path=overlay)
        data = run.as_dict()
        if store:
            assert specimen is not None
            data["stored"] = _store(cellularity_measurement(run), specimen, writer)
    excluded = ", ".join(f"{k} {v:.1%}" for k, v in data["excluded_by_reason"].items() if v > 0)
    _emit(
        data,
        as_json,
        [
            f"{file}: cellularity {data['cellularity_pct']:.1f} % of the marrow space",
            f"  excluded: {excluded or 'nothing'}",
            f"  overlay: {data['overlay']}",
        ],
    )


@app.command("slide")
def slide_command(
    file: Path = typer.Argument(
        ..., help="Whole-slide or pyramidal TIFF (SVS, tiled TIFF).", show_default=False
    ),
    level: int = typer.Option(
        0, "--level", min=0, help="Pyramid level to analyse (0 = full resolution)."
    ),
    tile: int = typer.Option(
        1024, "--tile", min=64, max=4096, help="Tile size in pixels of that level."
    ),
    as_json: bool = JSON,
    mpp: float | None = typer.Option(
        None, "--mpp", help="Micrometres per pixel at level 0 (default: from the file)."
    ),
    overlay: Path | None = typer.Option(
        None,
        "--overlay",
        help="Write the cellularity overlay of the whole level as a PNG (at most 2048 px).",
    ),
    store: bool = typer.Option(
        False,
        "--store",
        help="Store the cellularity (and the nucleus density when the pixel size is known) "
        "as draft measurements (needs --specimen).",
    ),
    specimen: str | None = SPECIMEN,
    actor: str | None = ACTOR,
    database: str | None = DATABASE,
) -> None:
    """Nuclei and cellularity of a whole slide, tile by tile at one pyramid level (memory stays
    bounded by the tile size); glass and unusable tiles are counted and left out."""
    with refusals():
        writer = _check_store(store, specimen, actor, database)
        from trephine.importers.images import analyse_slide, slide_measurements

        run = analyse_slide(file, level=level, tile=tile, mpp=mpp, overlay_path=overlay)
        data = run.as_dict()
        if store:
            assert specimen is not None
            data["stored"] = _store_all(slide_measurements(run), specimen, writer)
    width, height = data["level_size"]
    density = data["density_per_mm2"]
    refused = ", ".join(f"{k} {v}" for k, v in data["tiles_refused"].items())
    _emit(
        data,
        as_json,
        [
            f"{file}: level {level} ({width}×{height} px, {data['mpp']} µm/px"
            + (" assumed" if data["mpp_assumed"] else "")
            + f"), {data['tiles_analysed']} of {data['tiles']} tiles analysed"
            + (f" (left out: {refused})" if refused else ""),
            f"  cellularity {data['cellularity_pct']:.1f} % of the marrow space",
            *([f"  overlay: {data['overlay']}"] if data["overlay"] else []),
            f"  {data['nuclei_count']:,} nuclei"
            + (f", {density:,.0f} per mm²" if density is not None else " (give --mpp for mm²)"),
            *(
                [
                    "  nuclei are found at the detector's scale (12-20 px across); a coarser "
                    "level undercounts them"
                ]
                if level > 0
                else []
            ),
        ],
    )


@app.command("ihc")
def ihc_command(
    file: Path = FILE,
    stain: str = typer.Option(..., "--stain", help="cd34 | perls | reticulin"),
    as_json: bool = JSON,
    mpp: float | None = MPP,
    store: bool = STORE,
    specimen: str | None = SPECIMEN,
    actor: str | None = ACTOR,
    database: str | None = DATABASE,
) -> None:
    """CD34 microvessel density, Perls iron area fraction or reticulin fibre density: continuous
    research indices, never a WHO grade."""
    with refusals():
        writer = _check_store(store, specimen, actor, database)
        from trephine.importers.images import analyse_ihc, ihc_measurement

        image, result = analyse_ihc(file, stain, mpp=mpp)
        data = {"file": str(file), **result.as_dict()}
        if store:
            assert specimen is not None
            data["stored"] = _store(ihc_measurement(image, result), specimen, writer)
    _emit(
        data,
        as_json,
        [
            f"{file}: {result.index} {result.value:.2f} {result.unit}"
            + (f" ({result.objects} objects)" if result.objects is not None else ""),
            "  a continuous research index, not a WHO grade",
        ],
    )


@app.command("differential")
def differential_command(
    file: Path = FILE,
    labels: Path = typer.Argument(
        ...,
        help="Labelled cells, one a line: x,y,class (pixels; x from the left, y from the top).",
        show_default=False,
    ),
    as_json: bool = JSON,
    store: bool = typer.Option(
        False, "--store", help="Store as a draft differential (needs --specimen)."
    ),
    specimen: str | None = SPECIMEN,
    actor: str | None = ACTOR,
    database: str | None = DATABASE,
) -> None:
    """Count the cells labelled on an aspirate image into a differential with 95 % Wilson
    intervals (the web page /lab/aspirate does the same by clicking)."""
    with refusals():
        writer = _check_store(store, specimen, actor, database)
        from trephine.importers.aspirate_labels import read_labelled
        from trephine.present.results import differential_intervals
        from trephine.settings import get_settings

        labeller = writer[1] if writer is not None else (actor or get_settings().cli_user)
        value = read_labelled(file, labels, labeller)
        assert value.labelling is not None
        data: dict[str, Any] = {
            "file": str(file),
            "sha256": value.labelling.source_sha256,
            "cells_counted": value.cells_counted,
            "classes": differential_intervals(value),
        }
        if store:
            assert specimen is not None
            data["stored"] = _store_differential(value, specimen, writer)
    _emit(
        data,
        as_json,
        [
            f"{file}: {value.cells_counted} cells labelled",
            *[f"  {name}: {row['count']}, {row['text']}" for name, row in data["classes"].items()],
        ],
    )


def _store_differential(
    value: Any, specimen: str, writer: tuple[Database, str] | None
) -> dict[str, Any]:
    from trephine.services import aspirate_labels

    assert writer is not None
    db, who = writer
    try:
        with db.unit_of_work(who) as uow:
            row, created = aspirate_labels.record(uow, specimen, value)
    finally:
        db.dispose()
    return {
        "specimen": specimen,
        "result_id": row.id,
        "state": str(row.state),
        "version": row.version,
        "created": created,
    }


@app.command("phantom")
def phantom_command(
    out: Path = typer.Argument(
        ...,
        help="PNG to write, or .tif/.tiff for a pyramidal TIFF (a small whole slide).",
        show_default=False,
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed."),
    size: int = typer.Option(600, "--size", min=200, max=4000, help="Width and height (px)."),
    cellularity: float | None = typer.Option(
        None, "--cellularity", min=0, max=100, help="Target cellularity % (default: random)."
    ),
    as_json: bool = JSON,
) -> None:
    """Write a synthetic H&E marrow phantom (0.5 µm/px) with its true cellularity: a PNG tile,
    or a pyramidal TIFF to try `trephine image slide` on."""
    from trephine.analysis.images.phantoms import PHANTOM_MPP, make_phantom
    from trephine.io.images import write_png, write_pyramid

    suffix = out.suffix.lower()
    if suffix not in (".png", ".tif", ".tiff"):
        raise refuse(f"OUT: {out}: the phantom is written as .png, or .tif/.tiff (pyramidal)")
    phantom = make_phantom(seed, size, cellularity=cellularity)
    if suffix == ".png":
        write_png(out, phantom.rgb, mpp=PHANTOM_MPP)
    else:
        write_pyramid(out, phantom.rgb, mpp=PHANTOM_MPP)
    data = {
        "file": str(out),
        "seed": seed,
        "mpp": PHANTOM_MPP,
        "true_cellularity_pct": round(phantom.cellularity_pct, 1),
        "nuclei": len(phantom.nuclei),
    }
    _emit(
        data,
        as_json,
        [f"{out}: phantom seed {seed}, true cellularity {data['true_cellularity_pct']:.1f} %"],
    )


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="image")
