"""`trephine cohort ...`: define saved, versioned cohorts; list, show (evaluate) and analyse them.

Every evaluation runs the cohort's SQL now and is kept with its member list (``cohort history``).
Members are shown by the record's own pseudonymous patient ids, never by name or MRN. Who acts is
``cli/common.acting`` with ``records:read`` (the researcher's permission): once the database has
accounts, the account of ``TREPHINE_USER``/``TREPHINE_TOKEN``; ``--as`` may only repeat it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import typer

from trephine.cli.common import DATABASE_HELP, acting, audit_reads, fail, open_database, working

app = typer.Typer(help="Saved, versioned cohorts and their analyses.", no_args_is_help=True)


def _date(text: str | None, flag: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"{flag}: {text!r} is not allowed; allowed: a date YYYY-MM-DD") from None


@app.command("define")
def define(
    name: str = typer.Argument(..., help="Cohort name (letters, digits, _ . -)."),
    disease: list[str] = typer.Option([], "--disease", help="AML, MDS, myeloma, CLL, ALL, ..."),
    subtype: str | None = typer.Option(None, "--subtype", help="Text the subtype contains."),
    gene: list[str] = typer.Option([], "--gene", help="Gene detected at diagnosis (FLT3)."),
    marker: list[str] = typer.Option([], "--marker", help="Marker detected at diagnosis."),
    regimen: str | None = typer.Option(None, "--regimen", help="Text a regimen contains."),
    response: list[str] = typer.Option([], "--response", help="Response category reached."),
    response_by_day: int | None = typer.Option(None, "--response-by-day"),
    mrd: str | None = typer.Option(None, "--mrd", help="negative, low-level or positive"),
    mrd_day: int | None = typer.Option(None, "--mrd-day", help="Landmark day after diagnosis."),
    mrd_window: int = typer.Option(14, "--mrd-window", help="± days around --mrd-day."),
    alert: list[str] = typer.Option([], "--alert", help="Alert code raised (MRD_CONVERSION)."),
    diagnosed_from: str | None = typer.Option(None, "--diagnosed-from"),
    diagnosed_to: str | None = typer.Option(None, "--diagnosed-to"),
    study: str | None = typer.Option(None, "--study", help="Enrolled on this study."),
    arm: list[str] = typer.Option([], "--arm", help="... on this arm of --study."),
    description: str | None = typer.Option(None, "--description"),
    actor: str | None = typer.Option(None, "--as", help="Who defines it (audit trail)."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Save a cohort definition (a new version when the criteria change) and evaluate it."""
    from trephine.domain.cohort import CohortDefinition
    from trephine.errors import ValidationError
    from trephine.services import cohorts

    try:
        definition = CohortDefinition(
            diseases=tuple(disease),
            subtype=subtype,
            genes=tuple(gene),
            markers=tuple(marker),
            regimen=regimen,
            response=tuple(response),
            response_by_day=response_by_day,
            mrd=mrd,
            mrd_day=mrd_day,
            mrd_window=mrd_window,
            alerts=tuple(alert),
            diagnosed_from=_date(diagnosed_from, "--diagnosed-from"),
            diagnosed_to=_date(diagnosed_to, "--diagnosed-to"),
            study=study,
            arms=tuple(arm),
        )
    except ValidationError as exc:
        raise fail(_flag(exc)) from None
    database = open_database(database_url, migrate=False)
    who = acting(database, "records:read", actor)
    with working(database, who) as uow:
        cohort, created = cohorts.define(uow, name, definition, description)
        ev = cohorts.evaluate(uow, name)
    what = "saved as version" if created else "unchanged, version"
    typer.echo(f"cohort {cohort.name} {what} {cohort.version}: {cohort.definition.describe()}")
    typer.echo(f"{len(ev.members)} patient(s)")


def _flag(exc: Any) -> str:
    """A definition field as the option the user typed."""
    text = str(exc)
    field = exc.field
    return (
        text.replace(f"{field}:", f"--{field.replace('_', '-').rstrip('s')}:", 1) if field else text
    )


@app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json"),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """The saved cohorts (newest version of each)."""
    from trephine.services import cohorts

    database = open_database(database_url, migrate=False)
    with working(database, acting(database, "records:read")) as uow:
        found = cohorts.list_cohorts(uow)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "name": c.name,
                        "version": c.version,
                        "definition": c.definition.to_json(),
                        "created_by": c.created_by,
                        "created_at": c.created_at.isoformat(),
                    }
                    for c in found
                ],
                indent=2,
            )
        )
        return
    if not found:
        typer.echo("no cohorts saved; define one with `trephine cohort define NAME ...`")
    for c in found:
        typer.echo(f"{c.name}  v{c.version}  {c.definition.describe()}")


@app.command("show")
def show(
    name: str = typer.Argument(...),
    version: int | None = typer.Option(None, "--version", help="An earlier version."),
    as_json: bool = typer.Option(False, "--json"),
    actor: str | None = typer.Option(None, "--as"),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Evaluate the cohort now (kept with its member list) and show definition and members."""
    from trephine.services import cohorts

    database = open_database(database_url, migrate=False)
    who = acting(database, "records:read", actor)
    with working(database, who) as uow:
        ev = cohorts.evaluate(uow, name, version)
        audit_reads(uow, who, f"cohort {ev.cohort.name} members", ev.members, query=True)
    if as_json:
        typer.echo(json.dumps(ev.to_json(), indent=2))
        return
    c = ev.cohort
    typer.echo(f"cohort {c.name} v{c.version} (by {c.created_by}): {c.definition.describe()}")
    typer.echo(f"{len(ev.members)} patient(s): {', '.join(ev.members) or '-'}")


@app.command("history")
def history(
    name: str = typer.Argument(...),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Every kept evaluation: version, who, when, how many members."""
    from trephine.services import cohorts

    database = open_database(database_url, migrate=False)
    with working(database, acting(database, "records:read")) as uow:
        evs = cohorts.evaluations(uow, name)
    for e in evs:
        typer.echo(
            f"v{e.cohort.version}  {e.evaluated_at.isoformat(timespec='seconds')}  "
            f"{e.evaluated_by}  {len(e.members)} patient(s)"
        )


@app.command("analyse")
def analyse(
    name: str = typer.Argument(...),
    landmark_day: int = typer.Option(..., "--landmark-day", help="Days after diagnosis."),
    window: int = typer.Option(14, "--window", help="± days for the landmark MRD sample."),
    at: list[float] = typer.Option([], "--at", help="Report S(t) at this day (repeatable)."),
    group_by: str = typer.Option(
        "none", "--by", help="none, regimen (first line), disease or arm (of --study)"
    ),
    plots: str | None = typer.Option(None, "--plots", help="Folder for KM and swimmer plots."),
    fmt: str = typer.Option("png", "--format", help="png or svg (with --plots)"),
    as_json: bool = typer.Option(False, "--json"),
    actor: str | None = typer.Option(None, "--as"),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Response rates (Clopper–Pearson 95 % CI), time to first CR, duration of response,
    relapse-free survival by MRD status at the landmark (KM, at-risk, log-rank), cumulative
    incidence of relapse."""
    from trephine.services import cohorts, research

    if fmt not in ("png", "svg"):
        raise fail(f"--format: {fmt!r} is not allowed; allowed: png, svg")
    database = open_database(database_url, migrate=False)
    who = acting(database, "records:read", actor)
    with working(database, who) as uow:
        ev = cohorts.evaluate(uow, name)
        report = research.analyse(
            uow, ev, landmark_day=landmark_day, window=window, at=at, group_by=group_by
        )
        courses = research.courses(uow, ev) if plots else []
    if plots:
        written = _write_plots(report, courses, plots, fmt)
        report["plots"] = written
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    typer.echo(_text(report))


def _text(r: dict[str, Any]) -> str:
    from trephine.present.numbers import format_value as f

    def pct(x: float) -> str:
        # The one number rule, as the cohort page shows the same rate (86.86 %, not 86.9 %).
        return f"{f(100 * x)} %"

    out = [
        f"cohort {r['cohort']} v{r['version']}: {r['size']} patient(s); "
        "times in days from diagnosis"
    ]
    for rate in r["response_rates"]:
        lo, hi = rate["ci95"]
        out.append(
            f"CR/CRh/CRi or sCR ({rate['group']}): {rate['responders']} of {rate['n']}, "
            f"{pct(rate['rate'])} (95 % CI {pct(lo)} to {pct(hi)}, exact)"
        )
    lm = r["landmark"]
    km = lm["relapse_free_survival_by_mrd"]
    out.append(f"relapse-free survival from day {lm['day']} by MRD status ({lm['n']} patient(s)):")
    if km:
        for g, c in km["groups"].items():
            med = "not reached" if c["median"] is None else f(c["median"])
            out.append(f"  MRD {g}: n {c['n']}, relapses {c['events']}, median {med}")
        if "logrank" in km:
            out.append(
                f"  log-rank chi-square {f(km['logrank']['statistic'])}, "
                f"p = {f(km['logrank']['p'])}"
            )
    for lim in r["limitations"]:
        out.append(f"note: {lim}")
    if r.get("plots"):
        out.append("plots: " + ", ".join(r["plots"]))
    return "\n".join(out)


def _write_plots(report: dict[str, Any], courses: Any, folder: str, fmt: str) -> list[str]:
    """KM of relapse-free survival by landmark MRD and the swimmer plot, as PNG or SVG."""
    from pathlib import Path

    from trephine.analysis.cohort.outcomes import TimeRow
    from trephine.analysis.cohort.plots import km_figure, swimmer_figure

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    rows = [TimeRow(**r) for r in report["landmark"]["rows"]]
    if rows:
        fig = km_figure(
            rows,
            title=f"{report['cohort']}: relapse-free survival from day "
            f"{report['landmark']['day']} by MRD status",
            xlabel=f"days from day {report['landmark']['day']}",
        )
        path = out / f"{report['cohort']}-km-mrd.{fmt}"
        fig.savefig(path, dpi=150)
        written.append(str(path))
    fig = swimmer_figure(courses, title=f"{report['cohort']}: swimmer plot")
    path = out / f"{report['cohort']}-swimmer.{fmt}"
    fig.savefig(path, dpi=150)
    written.append(str(path))
    return written


@app.command("paired")
def paired(
    name: str = typer.Argument(..., help="A cohort that selects on a study (--study)."),
    before: str = typer.Option(..., "--before", help="The first visit (screening)."),
    after: str = typer.Option(..., "--after", help="The second visit (end_of_induction)."),
    as_json: bool = typer.Option(False, "--json"),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Paired before/after tests of every stored numeric measurement between two study visits:
    Wilcoxon signed-rank per field (rank-biserial effect size), Benjamini–Hochberg q-values.
    Patients as keyed-hash pseudonyms (the database's export key); audited."""
    from trephine.errors import ValidationError
    from trephine.present.deidentify import Level
    from trephine.services import cohorts, research
    from trephine.services.site_secret import deidentifier

    database = open_database(database_url, migrate=False)
    try:
        deid = deidentifier(database, Level.SAFE_HARBOR)
    except ValidationError as exc:
        raise fail(exc) from None
    who = acting(database, "records:read")
    with working(database, who) as uow:
        ev = cohorts.evaluate(uow, name)
        results, read = research.paired_visits(uow, ev, deid, before=before, after=after)
        audit_reads(uow, who, f"cohort {name} paired {before}/{after}", read, query=True)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "cohort": name,
                    "before": before,
                    "after": after,
                    "features": [r.to_json() for r in results],
                },
                indent=2,
            )
        )
        return
    if not results:
        typer.echo(f"no numeric measurement has a value at both {before} and {after}")
        return
    typer.echo(
        f"{'measurement':<40} {'pairs':>5} {'median before → after':>26} {'p':>8} {'q':>8} {'r':>6}"
    )
    for r in results:
        t = r.test
        if t is None:
            typer.echo(f"{r.feature:<40} {len(r.pairs):>5}  not tested: {r.not_tested}")
            continue
        medians = f"{t.median_before:.4g} → {t.median_after:.4g} {r.unit}"
        q = "" if r.q_value is None else f"{r.q_value:.3g}"
        typer.echo(
            f"{r.feature:<40} {t.n_pairs:>5} {medians:>26} {t.p_value:>8.3g} {q:>8} "
            f"{t.effect_size:>6.2f}"
        )
