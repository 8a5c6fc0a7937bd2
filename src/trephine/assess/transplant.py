"""Haematopoietic cell transplant on the stored timeline: engraftment days, graft failure, poor
graft function — for every patient with a transplant, whatever the disease.

Daily counts are the blood counts after the transplant (day 0 = the transplant date; the lowest
value of a day counts when a day has several). Rules (:mod:`trephine.criteria.sets.hct_graft`):

* ``engraftment`` — **neutrophil recovery**: the first of 3 consecutive count days with ANC
  ≥ 0.5 ×10⁹/L after the nadir (a day below 0.5 after day 0); **platelet recovery**: the first
  of 3 consecutive count days with platelets ≥ 20 ×10⁹/L, each at least 7 days after the last
  platelet transfusion. Consecutive = successive measurements on different days (CIBMTR).
  A day without a recorded transfusion counts as untransfused [I]: record every platelet
  transfusion on the blood count of its day (``platelet_transfusion``).
* ``graft`` — primary graft failure (no neutrophil recovery by day +30, +42 after cord blood,
  or no donor cells at day +56), secondary graft failure (ANC < 0.5 on 3 consecutive count
  days after recovery, or donor cells no longer detected), poor graft function (≥ 2 of Hb < 7,
  ANC < 0.5, platelets < 20 on 3 consecutive count days after day +28 with donor chimerism
  ≥ 95 %); alerts ``PRIMARY_GRAFT_FAILURE``, ``SECONDARY_GRAFT_FAILURE``,
  ``POOR_GRAFT_FUNCTION``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trephine import __version__
from trephine.assess.call import Alert, Call, Calls
from trephine.assess.common import call, run
from trephine.assess.inputs import PatientInputs, ResultRecord, value_of
from trephine.criteria.engine import resolve_params
from trephine.criteria.sets import hct_graft
from trephine.domain.results import BloodCount, Chimerism, ChimerismLineage
from trephine.domain.therapy import DonorType, Transplant
from trephine.errors import ValidationError

RULESETS = (hct_graft.RECOVERY_DAY, hct_graft.GRAFT)
#: The site parameters the graft rule set declares (the assessor reads two of them itself).
_GRAFT = frozenset(p.name for p in hct_graft.GRAFT.params)
_UNSORTED = (ChimerismLineage.WHOLE_BLOOD, ChimerismLineage.MARROW)


@dataclass(frozen=True)
class Day:
    """One count day after the transplant."""

    date: dt.date
    day: int  # days after the transplant
    anc: Decimal | None
    plt: Decimal | None
    hb: Decimal | None
    transfused: bool


def count_days(results: Sequence[ResultRecord], start: dt.date, end: dt.date | None) -> list[Day]:
    """The daily counts of one transplant (lowest value of a day; any transfusion that day)."""
    by_day: dict[dt.date, list[BloodCount]] = {}
    for r in results:
        inside = r.collected_on >= start and (end is None or r.collected_on < end)
        if inside and isinstance(r.value, BloodCount):
            by_day.setdefault(r.collected_on, []).append(r.value)
    days = []
    for date in sorted(by_day):
        counts = by_day[date]

        def lowest(values: list[Decimal | None]) -> Decimal | None:
            present = [v for v in values if v is not None]
            return min(present) if present else None

        days.append(
            Day(
                date,
                (date - start).days,
                lowest([value_of(c.anc) for c in counts]),
                lowest([value_of(c.platelets) for c in counts]),
                lowest([value_of(c.hemoglobin) for c in counts]),
                any(c.platelet_transfusion for c in counts),
            )
        )
    return days


def _first_of_three(days: Sequence[Day], ok: list[bool]) -> int | None:
    return _first_run(ok, 3)


def _whole_days(value: Decimal | int) -> int:
    """``secondary_gf_days_below`` as a count of days: a whole number, at least 1."""
    days = Decimal(value)
    if days != days.to_integral_value() or days < 1:
        raise ValidationError(
            "params.secondary_gf_days_below", value, "a whole number of days, at least 1"
        )
    return int(days)


def _first_run(ok: Sequence[bool], n: int) -> int | None:
    """Index of the first of ``n`` consecutive true entries (None when there is no such run)."""
    for i in range(len(ok) - n + 1):
        if all(ok[i : i + n]):
            return i
    return None


def neutrophil_recovery(days: Sequence[Day]) -> int | None:
    """Index of the first of 3 consecutive count days with ANC ≥ 0.5 after the nadir."""
    nadir = next(
        (i for i, d in enumerate(days) if d.anc is not None and d.anc < hct_graft.NEUTROPHIL_ANC),
        None,
    )
    if nadir is None:
        return None
    ok = [
        i > nadir and d.anc is not None and d.anc >= hct_graft.NEUTROPHIL_ANC
        for i, d in enumerate(days)
    ]
    return _first_of_three(days, ok)


def _days_since_transfusion(days: Sequence[Day], i: int) -> int | None:
    last = next((days[j].date for j in range(i, -1, -1) if days[j].transfused), None)
    return None if last is None else (days[i].date - last).days


def platelet_recovery(days: Sequence[Day]) -> int | None:
    """Index of the first of 3 consecutive count days with platelets ≥ 20, each ≥ 7 days after
    the last platelet transfusion."""
    ok = []
    for i, d in enumerate(days):
        since = _days_since_transfusion(days, i)
        untransfused = since is None or since >= hct_graft.PLATELET_TRANSFUSION_FREE_DAYS
        ok.append(d.plt is not None and d.plt >= hct_graft.PLATELET_COUNT and untransfused)
    return _first_of_three(days, ok)


def _engraftment_call(transplant: dt.date, days: Sequence[Day], i: int, lineage: str) -> Call:
    rule = "HCT-ANC-DAY" if lineage == "NEUTROPHIL" else "HCT-PLT-DAY"
    evidence: list[dict[str, Any]] = []
    for d in days[i : i + 3]:
        if lineage == "NEUTROPHIL":
            evidence.append(_evidence(f"anc day +{d.day}", d.anc, ">=", hct_graft.NEUTROPHIL_ANC))
        else:
            evidence.append(_evidence(f"plt day +{d.day}", d.plt, ">=", hct_graft.PLATELET_COUNT))
            since = _days_since_transfusion(days, days.index(d))
            evidence.append(
                _evidence(
                    f"days since platelet transfusion, day +{d.day}",
                    "none recorded" if since is None else Decimal(since),
                    ">=",
                    Decimal(hct_graft.PLATELET_TRANSFUSION_FREE_DAYS),
                )
            )
    evidence.append(
        {
            "input": "day_after_transplant",
            "value": days[i].day,
            "comparator": None,
            "threshold": None,
            "outcome": True,
            "sentence": f"{lineage.capitalize()} recovery on day +{days[i].day} after the "
            f"transplant of {transplant.isoformat()} (first of 3 consecutive count days)",
        }
    )
    rs = hct_graft.RECOVERY_DAY
    rule_row = next(r for r in rs.rules if r.id == rule)
    return Call.of(
        days[i].date,
        "engraftment",
        {
            "ruleset": rs.key,
            "rule": rule,
            "evidence": evidence,
            "citation": rule_row.citation_text,
            "flags": [],
            "params": {},
            "transplant": transplant.isoformat(),
        },
        category=f"{lineage}_RECOVERY",
        edition=rs.edition,
        software_version=__version__,
    )


def _evidence(name: str, value: Any, comparator: str, threshold: Decimal) -> dict[str, Any]:
    outcome = (
        None
        if not isinstance(value, Decimal)
        else (value >= threshold if comparator == ">=" else value < threshold)
    )
    return {
        "input": name,
        "value": None if value is None else str(value),
        "comparator": comparator,
        "threshold": str(threshold),
        "outcome": outcome,
    }


def _donor(results: Sequence[ResultRecord], start: dt.date, on: dt.date) -> Decimal | None:
    found = [
        r
        for r in results
        if isinstance(r.value, Chimerism)
        and r.value.lineage in _UNSORTED
        and start < r.collected_on <= on
    ]
    if not found:
        return None
    latest = max(found, key=lambda r: (r.collected_on, r.id)).value
    assert isinstance(latest, Chimerism)
    return latest.donor_percent.value if latest.donor_percent.detected else Decimal(0)


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    transplants = sorted(
        (e for e in inputs.cellular_therapies if isinstance(e, Transplant)), key=lambda t: t.on
    )
    results = [r for rs in inputs.by_date().values() for r in rs]
    out: list[Call] = []
    alerts: list[Alert] = []
    for n, tx in enumerate(transplants):
        end = transplants[n + 1].on if n + 1 < len(transplants) else None
        days = count_days(results, tx.on, end)
        out.extend(_one_transplant(tx, days, results, alerts, params))
    return Calls(tuple(out), tuple(alerts))


def _one_transplant(
    tx: Transplant,
    days: list[Day],
    results: Sequence[ResultRecord],
    alerts: list[Alert],
    params: Mapping[str, Any],
) -> list[Call]:
    """The engraftment, graft and chimerism calls of one transplant under the site's ``params``
    (``primary_gf_day``, ``primary_gf_day_ucb`` for a cord-blood graft,
    ``secondary_gf_days_below``: the graft rule set's; its defaults otherwise)."""
    out: list[Call] = []
    graft = resolve_params(hct_graft.GRAFT, {k: v for k, v in params.items() if k in _GRAFT})
    where = f"transplant {tx.on.isoformat()}"
    n_idx = neutrophil_recovery(days)
    if n_idx is not None:
        out.append(_engraftment_call(tx.on, days, n_idx, "NEUTROPHIL"))
    p_idx = platelet_recovery(days)
    if p_idx is not None:
        out.append(_engraftment_call(tx.on, days, p_idx, "PLATELET"))
    engrafted_on = None if n_idx is None else days[n_idx + 2].date  # known on the 3rd day

    # Primary graft failure: the first count day past the day limit without recovery by then
    # (ASTCT: day +42 after a cord-blood graft, +30 otherwise; the site may set either).
    cord = tx.donor_type is DonorType.CORD_BLOOD
    limit = graft["primary_gf_day_ucb" if cord else "primary_gf_day"]
    late = next((d for d in days if d.day > limit), None)
    # Only a count still below 0.5 past the limit shows failure: a single later count at or
    # above 0.5 (no daily counts recorded) shows neither recovery nor failure.
    if (
        late is not None
        and late.anc is not None
        and late.anc < hct_graft.NEUTROPHIL_ANC
        and (n_idx is None or days[n_idx].day > limit)
    ):
        a = run(
            hct_graft.GRAFT,
            {
                "days_since_transplant": late.day,
                "neutrophil_engrafted": False,
                **({"graft_source": "UCB"} if cord else {}),
            },
            f"{where}, day +{late.day}",
            params,
        )
        out.append(call(late.date, "graft", a))
        if a.category == "PRIMARY_GRAFT_FAILURE":
            alerts.append(
                Alert(
                    late.date,
                    "PRIMARY_GRAFT_FAILURE",
                    f"No neutrophil recovery (ANC ≥ 0.5 ×10⁹/L on 3 count days) by day "
                    f"+{limit} after the transplant of {tx.on.isoformat()}: primary graft "
                    "failure (ASTCT 2021)",
                )
            )
    # Secondary graft failure: ANC < 0.5 on ``secondary_gf_days_below`` (3) consecutive count
    # days after recovery.
    if n_idx is not None:
        below = [
            i > n_idx + 2 and d.anc is not None and d.anc < hct_graft.NEUTROPHIL_ANC
            for i, d in enumerate(days)
        ]
        run_days = _whole_days(graft["secondary_gf_days_below"])
        lost = _first_run(below, run_days)
        if lost is not None:
            third = days[lost + run_days - 1]
            a = run(
                hct_graft.GRAFT,
                {
                    "days_since_transplant": third.day,
                    "neutrophil_engrafted": True,
                    "anc_lost_after_engraftment": True,
                },
                f"{where}, day +{third.day}",
                params,
            )
            out.append(call(third.date, "graft", a))
            alerts.append(
                Alert(
                    third.date,
                    "SECONDARY_GRAFT_FAILURE",
                    f"ANC below 0.5 ×10⁹/L on {run_days} count days from day "
                    f"+{days[lost].day} after neutrophil recovery on day +{days[n_idx].day}: "
                    "secondary graft failure (ASTCT 2021)",
                )
            )
    # Poor graft function: ≥ 2 cytopenias on 3 consecutive count days after day +28.
    if engrafted_on is not None:
        cyto = [
            d.day > 28
            and sum(
                (
                    d.hb is not None and d.hb < 7,
                    d.anc is not None and d.anc < hct_graft.NEUTROPHIL_ANC,
                    d.plt is not None and d.plt < hct_graft.PLATELET_COUNT,
                )
            )
            >= 2
            for d in days
        ]
        start = _first_of_three(days, cyto)
        if start is not None:
            third = days[start + 2]
            donor = _donor(results, tx.on, third.date)
            values: dict[str, Any] = {
                "days_since_transplant": third.day,
                "neutrophil_engrafted": True,
                "anc_lost_after_engraftment": False,
                "cytopenic_days": 3,
            }
            for key, v in (("hb", third.hb), ("anc", third.anc), ("plt", third.plt)):
                if v is not None:
                    values[key] = v
            if donor is not None:
                values["donor_pct"] = donor
            a = run(hct_graft.GRAFT, values, f"{where}, day +{third.day}", params)
            out.append(call(third.date, "graft", a))
            if a.category == "POOR_GRAFT_FUNCTION":
                alerts.append(
                    Alert(
                        third.date,
                        "POOR_GRAFT_FUNCTION",
                        f"Two or more cytopenias on 3 count days from day +{days[start].day} "
                        f"with donor chimerism {donor} %: poor graft function (EBMT usage [R])",
                    )
                )
    # Chimerism: no donor cells detected (C4).
    for r in results:
        chim = r.value
        if (
            isinstance(chim, Chimerism)
            and chim.lineage in _UNSORTED
            and r.collected_on > tx.on
            and not chim.donor_percent.detected
        ):
            day = (r.collected_on - tx.on).days
            engrafted = engrafted_on is not None and engrafted_on <= r.collected_on
            a = run(
                hct_graft.GRAFT,
                {
                    "days_since_transplant": day,
                    "neutrophil_engrafted": engrafted,
                    "donor_cells_detected": False,
                },
                f"{where}, chimerism day +{day}",
                params,
            )
            out.append(call(r.collected_on, "graft", a))
            if a.category.endswith("GRAFT_FAILURE"):
                alerts.append(
                    Alert(
                        r.collected_on,
                        a.category,
                        f"No donor cells detected on day +{day} after the transplant of "
                        f"{tx.on.isoformat()}: {a.category.replace('_', ' ').lower()} "
                        "(spec §9 C4)",
                    )
                )
    return out
