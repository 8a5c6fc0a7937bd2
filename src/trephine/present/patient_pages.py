"""The patient pages and leaflets as data: which sections a stage shows for one biopsy.

Shared by the web pages (``web/patient_pages.py``) and ``trephine leaflet`` so both say the
same thing. Pure apart from the read models it is given.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from trephine.criteria.procedure import SafetyCall
from trephine.domain.planning import Checklist
from trephine.domain.procedure import Indication
from trephine.present import patient_text as text
from trephine.present.catalogue import _

Stage = Literal["before", "after", "results"]
STAGES: tuple[Stage, ...] = ("before", "after", "results")


@dataclass(frozen=True)
class StagePage:
    stage: Stage
    title: str
    sections: tuple[text.Section, ...] = ()
    explanations: tuple[text.Explanation, ...] = ()
    #: True when the results stage has nothing released yet.
    not_released: bool = False
    questions: tuple[str, ...] = ()
    glossary: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return " ".join(
            [text.sections_text(self.sections), text.explanations_text(self.explanations)]
        ).strip()


def stage_title(stage: Stage) -> str:
    return {
        "before": _("Before your bone marrow biopsy"),
        "after": _("After your bone marrow biopsy"),
        "results": _("Your bone marrow results"),
    }[stage]


def _with_glossary(page: StagePage) -> StagePage:
    """Attach the glossary entries for every glossary word the page uses."""
    words = text.terms_used(page.text())
    for e in page.explanations:
        words.extend(t for t in e.terms if t not in words)
    entries = text.glossary()
    return StagePage(
        page.stage,
        page.title,
        page.sections,
        page.explanations,
        page.not_released,
        page.questions,
        {w: entries[w] for w in entries if w in words},
    )


def before_page(indication: Indication, checklist: Checklist | None) -> StagePage:
    return _with_glossary(
        StagePage(
            "before", stage_title("before"), tuple(text.before_sections(indication, checklist))
        )
    )


def after_page(call: SafetyCall | None, *, clinic_phone: str, fever_c: float) -> StagePage:
    sections = text.after_sections(
        bleeding=text.bleeding_risk(call), clinic_phone=clinic_phone, fever_c=fever_c
    )
    return _with_glossary(StagePage("after", stage_title("after"), tuple(sections)))


def results_page(
    results: list[tuple[object, object]] | None,
    calls: list[tuple[str, str, str]],
    corrected: Collection[int] = (),
) -> StagePage:
    """``results``: (kind, value) of each released signed-out result, or None before release;
    ``calls``: (rule set, call kind, category) of the current calls of that day; ``corrected``:
    the indexes in ``results`` of amended versions, which say so (clinical-systems.md §7 PF9:
    amended results clearly labelled)."""
    if results is None:
        return StagePage(
            "results",
            stage_title("results"),
            (
                text.Section(
                    "waiting",
                    _("Your results are not ready to view yet"),
                    (
                        _(
                            "Your doctor will look at your results first. They will show them "
                            "here once they have talked with you about them."
                        ),
                    ),
                ),
            ),
            not_released=True,
        )
    explanations: list[text.Explanation] = []
    for ruleset, call_kind, category in calls:
        e = text.explain_call(ruleset, call_kind, category)
        if e is not None and e not in explanations:
            explanations.append(e)
    for i, (kind, value) in enumerate(results):
        e = text.explain_result(kind, value)  # type: ignore[arg-type]
        if i in corrected:
            e = text.corrected(e)
        if e not in explanations:
            explanations.append(e)
    return _with_glossary(
        StagePage(
            "results",
            stage_title("results"),
            explanations=tuple(explanations),
            questions=text.questions(),
        )
    )
