"""One marrow, one story: when a relapse or a progression is called on a date, that date's
response calls are stored as superseded, saying which call stands and why.

Rule (issue 13, following ELN 2022 and NCCN ALL: relapse is defined *after* a remission, so a
marrow that meets a relapse definition is a relapse whatever response category its blast count
would also fit — e.g. 12 % blasts after CR are "PR" by the PR table and "haematologic relapse" by
the relapse table): **relapse wins over a response category of the same marrow**. The response
call is kept (append-only, for audit) with the flag ``SUPERSEDED_BY_RELAPSE`` and an evidence
item naming the relapse call; :func:`trephine.services.assessments.current_assessments` never
lists a superseded call as current, so no page shows both.

Myeloma progression (an IMWG 2016 ``progression`` call, confirmed or still to confirm) wins the
same way over the response call of the same paraprotein assessment: a paraprotein that rose 0.7
g/dL from its nadir but is still 80 % below baseline is "PR" by the response table and
progression by the PD table, and the patient has progressed (or is suspected to, until the next
assessment confirms it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from trephine.assess.call import Call, digest_of

# Which categories mean "relapse" or "progression" (the others say remission continues): one
# home, read off the rule sets (trephine.criteria.categories).
from trephine.criteria.categories import (
    RELAPSE_CATEGORIES,
    SUPERSEDING_CATEGORIES,
    category_words,
    mid_sentence,
)

SUPERSEDED = "SUPERSEDED_BY_RELAPSE"
REASON = "relapse wins over a response category of the same marrow (one marrow, one story)"
PROGRESSION_REASON = (
    "progression wins over a response category of the same assessment (one assessment, one story)"
)
#: The calls that call a relapse or a progression (their other categories say that it is not
#: met); the SQL side is :func:`trephine.services._rows.relapse_call`.
RELAPSE_KINDS = ("relapse", "progression")


def is_relapse(call: Call) -> bool:
    """A relapse or a progression called (confirmed where the criteria ask for it)."""
    return call.kind in RELAPSE_KINDS and call.category in RELAPSE_CATEGORIES


def supersedes_response(kind: str, category: str) -> bool:
    """A stored call (its kind and category) that wins over the same date's response call and
    stands for the patient's state until a later response: a relapse, or a progression called,
    confirmed or still to confirm."""
    return kind in RELAPSE_KINDS and category in SUPERSEDING_CATEGORIES


def one_story(calls: Iterable[Call]) -> tuple[Call, ...]:
    """The calls with every same-date ``response`` call of a relapse or progression marked
    superseded."""
    items = tuple(calls)
    relapse_on = {c.date: c for c in items if supersedes_response(c.kind, c.category)}
    out: list[Call] = []
    for c in items:
        relapse = relapse_on.get(c.date)
        if c.kind != "response" or relapse is None or SUPERSEDED in c.flags:
            out.append(c)
            continue
        # The category in the words every page gives it (one home: criteria.categories).
        what = mid_sentence(category_words(relapse.category))
        if relapse.kind == "relapse":
            sentence = f"Not current: {what} was called on this marrow ({relapse.rule}); {REASON}"
        else:
            sentence = (
                f"Not current: {what} was called on this assessment ({relapse.rule}); "
                f"{PROGRESSION_REASON}"
            )
        note = {
            "input": "same_marrow_relapse",
            "value": f"{relapse.category} ({relapse.rule})",
            "comparator": None,
            "threshold": None,
            "outcome": True,
            "sentence": sentence,
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
