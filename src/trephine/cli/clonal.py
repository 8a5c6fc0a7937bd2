"""`trephine clonal ...` commands: track mutations, plot clones, compare paired cohorts.

Heavy libraries (numpy, scipy, matplotlib) are imported inside the commands so that
``trephine --help`` stays fast. Refusals exit with code 2 and one line on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from trephine.cli.common import refuse_import
from trephine.importers.variants import read_observations

app = typer.Typer(
    help="Clonal evolution across serial marrows: track, cluster, tree, plot.",
    no_args_is_help=True,
)


_LOD = typer.Option(0.01, "--lod", help="Detection limit: present where VAF >= LOD (fraction).")
_SAMPLES = typer.Option(
    None, "--samples", help="Sample sheet TSV (sample_id, patient_id, day) for VCF/MAF input."
)
_MISSING = typer.Option(
    False, "--allow-missing-depth", help="Accept rows with a VAF but no read depth."
)
_SEED = typer.Option(0, "--seed", help="Seed for the clustering restarts.")
_MAXK = typer.Option(10, "--max-clusters", help="Largest number of clusters tried.")
_TOL = typer.Option(0.05, "--tolerance", help="Sum-rule tolerance (absolute CCF).")
_PREC = typer.Option(
    200.0,
    "--precision",
    help="Beta-binomial precision (overdispersion) for clustering; 0 = plain binomial.",
)


def _precision(value: float) -> float | None:
    from trephine.errors import ValidationError

    if value < 0:
        raise ValidationError("--precision", value, "a positive number, or 0 for binomial")
    return None if value == 0 else value


@app.command("track")
def track_cmd(
    file: Path | None = typer.Argument(
        None, help="Long TSV, MAF or VCF (or --patient for stored variants)."
    ),
    patient: str | None = typer.Option(
        None, "--patient", help="Track the patient's STORED NGS variants instead of a file."
    ),
    include_drafts: bool = typer.Option(
        False, "--include-drafts", help="With --patient: also unverified (draft) variants."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database URL (default: TREPHINE_DATABASE_URL)."
    ),
    lod: float = _LOD,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    samples: Path | None = _SAMPLES,
    allow_missing_depth: bool = _MISSING,
    error_rate: float = typer.Option(
        0.001, "--error-rate", help="Sequencing error rate for the depth-aware call."
    ),
    seed: int = _SEED,
    max_clusters: int = _MAXK,
    tolerance: float = _TOL,
    precision: float = _PREC,
) -> None:
    """Presence per sample, status (persistent/cleared/emerging/transient), clones and tree."""
    from trephine.analysis.clonal.pipeline import Settings, analyse
    from trephine.errors import TrephineError

    try:
        if (file is None) == (patient is None):
            from trephine.errors import ValidationError

            raise ValidationError("FILE/--patient", None, "a FILE or --patient ID (not both)")
        if patient is not None:
            from trephine.cli.clonal_store import stored_observations

            obs = stored_observations(patient, include_drafts, database_url)
        else:
            assert file is not None
            obs = read_observations(file, samples, allow_missing_depth=allow_missing_depth)
        result = analyse(
            obs,
            Settings(
                lod=lod,
                error_rate=error_rate,
                seed=seed,
                max_clusters=max_clusters,
                tolerance=tolerance,
                precision=_precision(precision),
            ),
        )
    except TrephineError as exc:
        refuse_import(exc)
    data = result.to_json()
    if as_json:
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    _print_summary(data)


def _print_summary(data: dict[str, object]) -> None:
    from collections import Counter

    muts = data["mutations"]
    clones = data["clones"]
    trees = data["trees"]
    assert isinstance(muts, list) and isinstance(clones, list) and isinstance(trees, list)
    for pid in sorted({m["patient_id"] for m in muts}):
        pm = [m for m in muts if m["patient_id"] == pid]
        counts = Counter(m["status"] for m in pm)
        chip = sorted({m["gene"] for m in pm if m["chip"]})
        typer.echo(
            f"patient {pid}: {len(pm)} mutations — "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        )
        if chip:
            typer.echo(f"  CHIP genes (kept out of MRD, ELN 2021): {', '.join(chip)}")
        for c in (c for c in clones if c["patient_id"] == pid):
            fr = ", ".join(f"{s} {v:.1%}" for s, v in c["fractions"].items())
            genes = f", genes {', '.join(c['genes'])}" if c["genes"] else ""
            typer.echo(
                f"  clone {c['clone']} ({c['status']}; parent {c['parent'] or 'none'}; "
                f"{c['n_mutations']} mutation(s){genes}): own fraction {fr}"
            )
        for t in (t for t in trees if t["patient_id"] == pid):
            if t["fits"]:
                edges = ", ".join(f"{a or 'root'} → {b}" for a, b in t["edges"])
                typer.echo(f"  tree ({t['n_fitting_trees']} fitting found): {edges}")
            else:
                typer.echo("  no clone tree satisfies the sum rule:")
                for line in t["explanation"]:
                    typer.echo(f"    - {line}")


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="Long TSV, MAF or VCF of NGS variants."),
    samples: Path | None = typer.Option(
        None,
        "--samples",
        help="Sample sheet: sample_id, patient_id, day (VCF/MAF) and optional 'accession' "
        "mapping samples onto stored specimens (default: sample_id = accession).",
    ),
    allow_missing_depth: bool = _MISSING,
    actor: str | None = typer.Option(None, "--actor", help="Who imports (audit trail)."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database URL (default: TREPHINE_DATABASE_URL)."
    ),
) -> None:
    """Record the file's variants as DRAFT NGS variant results on stored specimens (all or
    nothing; re-importing the same file adds nothing)."""
    from trephine.cli.clonal_store import import_file
    from trephine.errors import TrephineError

    try:
        obs = read_observations(file, samples, allow_missing_depth=allow_missing_depth)
        report = import_file(file, obs, samples, actor, database_url)
    except TrephineError as exc:
        refuse_import(exc)
    typer.echo(
        f"imported {file}: {report.created} variant result(s) recorded as drafts, "
        f"{report.unchanged} already present, on {len(report.specimens)} specimen(s)"
    )


@app.command("plot")
def plot_cmd(
    file: Path = typer.Argument(..., help="Long TSV, MAF or VCF."),
    out: Path = typer.Option(..., "--out", help="Output directory."),
    lod: float = _LOD,
    samples: Path | None = _SAMPLES,
    allow_missing_depth: bool = _MISSING,
    log: bool = typer.Option(False, "--log", help="Log-scale VAF axis."),
    formats: str = typer.Option("png,svg", "--formats", help="Comma-separated: png, svg."),
    seed: int = _SEED,
    max_clusters: int = _MAXK,
    tolerance: float = _TOL,
    precision: float = _PREC,
) -> None:
    """VAF over real days, fish plot and clone tree per patient (+ plot-data JSON)."""
    from trephine.analysis.clonal.pipeline import Settings, analyse
    from trephine.analysis.clonal.plots import write_patient_plots
    from trephine.errors import TrephineError, ValidationError

    try:
        fmts = [f.strip().lower() for f in formats.split(",") if f.strip()]
        bad = [f for f in fmts if f not in ("png", "svg")]
        if bad or not fmts:
            raise ValidationError("--formats", formats, "png, svg")
        obs = read_observations(file, samples, allow_missing_depth=allow_missing_depth)
        result = analyse(
            obs,
            Settings(
                lod=lod,
                seed=seed,
                max_clusters=max_clusters,
                tolerance=tolerance,
                precision=_precision(precision),
            ),
        )
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for p in result.patients:
            written += write_patient_plots(p, out, lod=lod, log=log, formats=fmts)
    except TrephineError as exc:
        refuse_import(exc)
    except OSError as exc:
        # An unwritable or impossible --out (read-only place, a file in the way, a full disk)
        # is the user's input: one located line and exit 2, like every other refusal here.
        where = exc.filename if exc.filename is not None else out
        typer.echo(f"error: --out {where}: cannot write the plots: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    for w in written:
        typer.echo(str(w))


@app.command("compare")
def compare_cmd(
    primary: Path | None = typer.Argument(None, help="MAF of the primary (diagnosis) samples."),
    relapse: Path | None = typer.Argument(None, help="MAF of the relapse samples."),
    min_mutated: int = typer.Option(
        5, "--min-mutated", help="Keep genes mutated in at least this many samples of a cohort."
    ),
    patient: str | None = typer.Option(
        None, "--patient", help="Instead of MAF files: this patient's stored variants."
    ),
    before: str | None = typer.Option(
        None, "--before", help="With --patient: the earlier specimen (default: the first)."
    ),
    after: str | None = typer.Option(
        None, "--after", help="With --patient: the later specimen (default: the last)."
    ),
    include_drafts: bool = typer.Option(
        False, "--include-drafts", help="With --patient: also variants not yet signed out."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database URL (default: TREPHINE_DATABASE_URL)."
    ),
) -> None:
    """Gene mutation frequency, primary vs relapse (two MAF files): counts and Fisher's exact
    test. With --patient: one patient's two stored specimens, every mutation's VAF in each and
    whether it persisted, cleared or emerged."""
    from trephine.analysis.cohort.paired import compare_cohorts, paired_changes
    from trephine.errors import TrephineError, ValidationError
    from trephine.io.maf import read_maf

    if patient is not None:
        _compare_stored(patient, before, after, include_drafts, as_json, database_url)
        return
    if primary is None or relapse is None:
        refuse_import(
            ValidationError("PRIMARY RELAPSE", "missing", "two MAF files, or --patient ID")
        )
        return
    try:
        a, b = read_maf(primary), read_maf(relapse)
        rows = compare_cohorts(a, b, min_mutated=min_mutated)
        pairs = paired_changes(a, b)
    except TrephineError as exc:
        refuse_import(exc)
    if as_json:
        json.dump(
            {"genes": [r.to_json() for r in rows], "paired": pairs.to_json()},
            sys.stdout,
            indent=1,
        )
        sys.stdout.write("\n")
        return
    n1, n2 = (rows[0].n_primary, rows[0].n_relapse) if rows else (0, 0)
    typer.echo(f"gene\tprimary (of {n1})\trelapse (of {n2})\todds_ratio\tp_value\tfdr")
    for r in rows:
        typer.echo(
            f"{r.gene}\t{r.mutated_primary}\t{r.mutated_relapse}\t{r.odds_ratio:.3g}\t"
            f"{r.p_value:.3g}\t{r.fdr:.3g}"
        )
    typer.echo(
        f"{len(pairs.patients)} patients with both samples; genes gained at relapse in the most "
        "patients: " + ", ".join(f"{g} {n}" for g, n in pairs.most_gained(5))
    )


def _compare_stored(
    patient: str,
    before: str | None,
    after: str | None,
    include_drafts: bool,
    as_json: bool,
    database_url: str | None,
) -> None:
    """``clonal compare --patient``: two stored specimens of one patient (audited read)."""
    from trephine.analysis.cohort.paired import compare_specimens
    from trephine.cli.clonal_store import stored_observations
    from trephine.errors import TrephineError, ValidationError

    try:
        obs = stored_observations(patient, include_drafts, database_url)
        days = sorted({(o.day, o.sample_id) for o in obs})
        first = before or days[0][1]
        last = after or days[-1][1]
        changes = compare_specimens(obs, first, last)
    except TrephineError as exc:
        flag = {"before": "--before", "after": "--after"}.get(getattr(exc, "field", ""), "")
        if flag and isinstance(exc, ValidationError):
            exc = ValidationError(flag, exc.value, exc.allowed)
        refuse_import(exc)
        return
    day = {o.sample_id: o.day for o in obs}
    if as_json:
        json.dump(
            {
                "patient": patient,
                "before": {"specimen": first, "day": day[first]},
                "after": {"specimen": last, "day": day[last]},
                "mutations": [c.to_json() for c in changes],
            },
            sys.stdout,
            indent=1,
        )
        sys.stdout.write("\n")
        return

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.3g} %"

    typer.echo(
        f"{patient}: {first} (day {day[first]:g}) → {last} (day {day[last]:g}), "
        "days from diagnosis; VAF as stored"
    )
    typer.echo("gene\tmutation\tVAF before\tVAF after\tstatus")
    for c in changes:
        chip = " (likely CHIP; not an MRD marker)" if c.chip else ""
        typer.echo(
            f"{c.gene}\t{c.mutation_id}\t{pct(c.vaf_before)}\t{pct(c.vaf_after)}\t{c.status}{chip}"
        )
