"""One marrow, one story: when a relapse is called on a date, that date's response calls are
stored as superseded, saying which call stands and why.

Rule (issue 13, following ELN 2022 and NCCN ALL: relapse is defined *after* a remission, so a
marrow that meets a relapse definition is a relapse whatever response category its blast count
would also fit — e.g. 12 % blasts after CR are "PR" by the PR table and "haematologic relapse" by
the relapse table): **relapse wins over a response category of the same marrow**. The response
call is kept (append-only, for audit) with the flag ``SUPERSEDED_BY_RELAPSE`` and an evidence
item naming the relapse call; :func:`trephine.services.assessments.current_assessments` never
lists a superseded call as current, so no page shows both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from trephine.assess.call import Call, digest_of

# Categories of a ``relapse`` call that mean "relapse" (the others say remission continues):
# one home, read off the rule sets (trephine.criteria.categories).
from trephine.criteria.categories import RELAPSE_CATEGORIES

SUPERSEDED = "SUPERSEDED_BY_RELAPSE"
REASON = "relapse wins over a response category of the same marrow (one marrow, one story)"


def is_relapse(call: Call) -> bool:
    return call.kind == "relapse" and call.category in RELAPSE_CATEGORIES


def one_story(calls: Iterable[Call]) -> tuple[Call, ...]:
    """The calls with every same-date ``response`` call of a relapse marked superseded."""
    items = tuple(calls)
    relapse_on = {c.date: c for c in items if is_relapse(c)}
    out: list[Call] = []
    for c in items:
        relapse = relapse_on.get(c.date)
        if c.kind != "response" or relapse is None or SUPERSEDED in c.flags:
            out.append(c)
            continue
        note = {
            "input": "same_marrow_relapse",
            "value": f"{relapse.category} ({relapse.rule})",
            "comparator": None,
            "threshold": None,
            "outcome": True,
            "sentence": f"Not current: {relapse.category.replace('_', ' ').lower()} was called "
            f"on this marrow ({relapse.rule}); {REASON}",
        }
        out.append(
            replace(
                c,
                flags=(*c.flags, SUPERSEDED),
                evidence=(*c.evidence, note),
                digest=digest_of({"call": c.digest, "superseded_by": relapse.digest}),
            )
        )
    return tuple(out)
