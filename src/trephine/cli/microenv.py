"""``trephine microenv compare|niche``: paired before/after comparison of populations and
measurements across patients (issue 14 §5), and one patient's marrow niche over time. Both read
records: ``records:read`` through ``cli/common.acting``, and the read is audited."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from trephine.cli import common
from trephine.cli.common import acting, audit_reads, open_database, refusals

app = typer.Typer(
    help="Marrow microenvironment: paired comparisons and the niche over time.",
    no_args_is_help=True,
)

MEASURES = ("percent_of_parent", "percent_of_total")


@app.command("compare")
def compare(
    measure: str = typer.Option(
        "percent_of_parent", "--measure", help="Population share: percent_of_parent|_of_total."
    ),
    diagnosis: str | None = typer.Option(None, "--diagnosis", help="Only patients with it."),
    pairs: str = typer.Option(
        "therapy",
        "--pairs",
        help="therapy: before vs after the first therapy line; relapse: before therapy "
        "(diagnosis) vs the first relapse.",
    ),
    response: str | None = typer.Option(
        None,
        "--response",
        help="Only responders (complete remission at any time) or non-responders.",
    ),
    include_drafts: bool = typer.Option(
        False, "--include-drafts", help="Also use results not yet signed out."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write the paired-lines plot (SVG)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    database_url: str | None = typer.Option(None, "--database-url", help=common.DATABASE_HELP),
) -> None:
    """Before vs after the first therapy line (or diagnosis vs first relapse, --pairs relapse):
    paired Wilcoxon per population/measurement (rank-biserial effect size), Benjamini-Hochberg
    q-values across them."""
    from trephine.analysis.microenvironment.paired import compare as run_compare
    from trephine.analysis.microenvironment.paired import paired_lines_svg
    from trephine.errors import ValidationError
    from trephine.services.microenvironment import PAIRINGS, RESPONSE_GROUPS, paired_features

    with refusals():
        if measure not in MEASURES:
            raise ValidationError("--measure", measure, list(MEASURES))
        if pairs not in PAIRINGS:
            raise ValidationError("--pairs", pairs, list(PAIRINGS))
        if response is not None and response not in RESPONSE_GROUPS:
            raise ValidationError("--response", response, list(RESPONSE_GROUPS))
    database = open_database(database_url, migrate=False)
    who = acting(database, "records:read")
    try:
        with refusals(), database.unit_of_work(who.name) as uow:
            features, read = paired_features(
                uow,
                measure=measure,
                diagnosis=diagnosis,
                include_drafts=include_drafts,
                pairs=pairs,
                response=response,
            )
            if read:
                audit_reads(uow, who, "microenvironment comparison", read, query=True)
    finally:
        database.dispose()
    results = run_compare(features)
    if plot is not None and results:
        paired_lines_svg(results, plot)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "measure": measure,
                    "pairs": pairs,
                    "response": response,
                    "features": [r.to_json() for r in results],
                },
                indent=2,
            )
        )
        return
    if not results:
        when = "at diagnosis and at relapse" if pairs == "relapse" else "before and after therapy"
        typer.echo(f"no population or measurement has a value {when}")
        return
    typer.echo(
        f"{'feature':<44} {'pairs':>5} {'median before → after':>24} {'p':>8} {'q':>8} {'r':>6}"
    )
    for r in results:
        t = r.test
        if t is None:
            typer.echo(f"{r.feature:<44} {len(r.pairs):>5}  not tested: {r.not_tested}")
            continue
        medians = f"{t.median_before:.3g} → {t.median_after:.3g} {r.unit}"
        q = "" if r.q_value is None else f"{r.q_value:.3g}"
        typer.echo(
            f"{r.feature:<44} {t.n_pairs:>5} {medians:>24} {t.p_value:>8.3g} {q:>8} "
            f"{t.effect_size:>6.2f}"
        )
    if plot is not None:
        typer.echo(f"paired-lines plot: {plot}")


@app.command("niche")
def niche(
    patient: str = typer.Argument(..., help="Patient id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    database_url: str | None = typer.Option(None, "--database-url", help=common.DATABASE_HELP),
) -> None:
    """A patient's marrow niche over time: cellularity, adipocytes, vessels, stromal cells."""
    from trephine.services.microenvironment import niche_series

    database = open_database(database_url, migrate=False)
    who = acting(database, "records:read")
    try:
        with refusals(), database.unit_of_work(who.name) as uow:
            rows = niche_series(uow, patient)
            audit_reads(uow, who, "marrow niche", [patient])
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps({"patient": patient, "niche": rows}, indent=2))
        return
    if not rows:
        typer.echo(f"{patient}: no cellularity or niche measurement recorded")
        return
    for row in rows:
        values = ", ".join(f"{k} {v}" for k, v in row["values"].items())
        typer.echo(f"{row['date']}  {values}  [{', '.join(row['states'])}]")
