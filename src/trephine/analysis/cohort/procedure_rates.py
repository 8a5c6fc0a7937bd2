"""Complication and adequacy rates of marrow procedures, per operator, site, needle or period,
each with an exact Clopper–Pearson 95 % interval; serious complications beside the published
rates of clinical-criteria.md §10. Pure: plain facts in, rates out.

Definitions (docs/procedures.md):

- complication rate = procedures with at least one recorded complication / procedures;
- serious complication rate = procedures with a serious one (severe, life-threatening, death
  or a fatal outcome) / procedures [I];
- adequacy rate = specimens (aspirates and cores) whose §8 call is adequate / specimens with a
  call that could be made (``NOT_EVALUABLE`` — quality not recorded — is left out and counted
  as ``not_recorded``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trephine.analysis.stats import Interval, clopper_pearson
from trephine.errors import ValidationError

NOT_RECORDED = "not recorded"
GROUPINGS = ("operator", "site", "needle", "period")


@dataclass(frozen=True)
class ProcedureFacts:
    """What the report needs of one recorded procedure."""

    performed_on: dt.date
    site: str
    operator: str | None
    needle: str | None
    complications: int
    serious: int
    #: One entry per aspirate/core: True adequate, False not, None quality not recorded.
    adequacy: tuple[bool | None, ...] = ()


@dataclass(frozen=True)
class Rate:
    """``x`` of ``n`` with its exact interval (None when ``n`` is 0: no rate to give)."""

    x: int
    n: int
    interval: Interval | None

    def as_dict(self) -> dict[str, Any]:
        i = self.interval
        return {
            "x": self.x,
            "n": self.n,
            "percent": None if i is None else round(i.estimate * 100, 4),
            "ci95_percent": None
            if i is None
            else [round(i.lower * 100, 4), round(i.upper * 100, 4)],
            "method": "clopper-pearson",
        }


def rate(x: int, n: int) -> Rate:
    return Rate(x, n, None if n == 0 else clopper_pearson(x, n))


@dataclass(frozen=True)
class GroupRates:
    group: str
    procedures: int
    complications: Rate
    serious: Rate
    adequacy: Rate
    adequacy_not_recorded: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "procedures": self.procedures,
            "complication_rate": self.complications.as_dict(),
            "serious_complication_rate": self.serious.as_dict(),
            "adequacy_rate": self.adequacy.as_dict(),
            "adequacy_not_recorded": self.adequacy_not_recorded,
        }


@dataclass(frozen=True)
class PublishedRate:
    """A published serious-complication rate of §10 ([V]), with its exact interval."""

    series: str
    events: int
    procedures: int
    note: str
    rate: Rate = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", rate(self.events, self.procedures))

    def as_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "events": self.events,
            "procedures": self.procedures,
            "note": self.note,
            "rate": self.rate.as_dict(),
        }


#: clinical-criteria.md §10 published rates [V]. Bain 1995–2001 gives "~54,890" procedures.
PUBLISHED: tuple[PublishedRate, ...] = (
    PublishedRate(
        "Bain, BSH survey 1995–2001 (Br J Haematol 2003)",
        26,
        54_890,
        "adverse events; about 54,890 procedures; 1 death; haemorrhage 14",
    ),
    PublishedRate(
        "Bain, 2003 survey (J Clin Pathol 2005)", 16, 19_259, "adverse events; haemorrhage 11"
    ),
    PublishedRate(
        "Bain, 2004 survey (Haematologica 2006)", 15, 20_323, "adverse events, mainly bleeding"
    ),
    PublishedRate(
        "Grange et al. (J Thromb Thrombolysis 2022)",
        0,
        524,
        "major bleeding; clinically relevant non-major bleeding 0.19 %",
    ),
    PublishedRate(
        "Patiño et al. (2018, Colombia)",
        77,
        1_252,
        "all recorded events including minor (pain): compare with the complication rate",
    ),
)


@dataclass(frozen=True)
class Report:
    by: str | None
    overall: GroupRates
    groups: tuple[GroupRates, ...]
    published: tuple[PublishedRate, ...] = PUBLISHED

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "overall": self.overall.as_dict(),
            "groups": [g.as_dict() for g in self.groups],
            "published_serious_rates": [p.as_dict() for p in self.published],
            "definitions": {
                "complication_rate": "procedures with at least one complication / procedures",
                "serious_complication_rate": "procedures with a severe, life-threatening or "
                "fatal complication / procedures",
                "adequacy_rate": "adequate aspirates and cores (§8) / those with quality recorded",
            },
        }


def _key(by: str) -> Callable[[ProcedureFacts], str]:
    if by == "operator":
        return lambda p: p.operator or NOT_RECORDED
    if by == "site":
        return lambda p: p.site
    if by == "needle":
        return lambda p: p.needle or NOT_RECORDED
    if by == "period":
        return lambda p: str(p.performed_on.year)
    raise ValidationError("by", by, ", ".join(GROUPINGS))


def _rates(group: str, procedures: Sequence[ProcedureFacts]) -> GroupRates:
    calls = [a for p in procedures for a in p.adequacy]
    known = [a for a in calls if a is not None]
    return GroupRates(
        group=group,
        procedures=len(procedures),
        complications=rate(sum(1 for p in procedures if p.complications), len(procedures)),
        serious=rate(sum(1 for p in procedures if p.serious), len(procedures)),
        adequacy=rate(sum(known), len(known)),
        adequacy_not_recorded=len(calls) - len(known),
    )


def report(procedures: Iterable[ProcedureFacts], by: str | None = None) -> Report:
    """Overall rates and, with ``by``, one row per group (largest first, then by name)."""
    facts = list(procedures)
    groups: tuple[GroupRates, ...] = ()
    if by is not None:
        key = _key(by)
        buckets: dict[str, list[ProcedureFacts]] = {}
        for p in facts:
            buckets.setdefault(key(p), []).append(p)
        ordered = sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        if by == "period":
            ordered = sorted(buckets.items())
        groups = tuple(_rates(name, rows) for name, rows in ordered)
    return Report(by, _rates("all procedures", facts), groups)
