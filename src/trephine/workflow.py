"""The result lifecycle, declared as data.

``TRANSITIONS`` is the whole state machine: an action is allowed only from the states listed for
it, and leads to the state given. Services consult it before touching a result and raise
:class:`~trephine.errors.IllegalTransition` otherwise, so a rule change is a one-line table edit.

Lifecycle (CLIA 42 CFR 493.1291(k): corrected reports keep the original; an amendment changes
content already issued and is labelled with who, when and why — clinical-systems.md §2.3)::

    draft ──verify──► verified ──amend──► superseded   (+ a new version in state "amended")
      │  ▲                                   ▲
      └──┘ edit                   amended ───┘ amend (again)
      └──cancel──► cancelled
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from trephine.errors import IllegalTransition


class ResultState(StrEnum):
    DRAFT = "draft"
    #: Signed out.
    VERIFIED = "verified"
    #: A signed-out version created by an amendment; it supersedes the previous version.
    AMENDED = "amended"
    #: Replaced by a later version; kept, readable, never changed again.
    SUPERSEDED = "superseded"
    #: A draft withdrawn before sign-out (entered in error).
    CANCELLED = "cancelled"


class Action(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    VERIFY = "verify"
    AMEND = "amend"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[ResultState]
    target: ResultState
    #: Why the rule exists; shown in the IllegalTransition message.
    rationale: str


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(
            Action.EDIT,
            frozenset({ResultState.DRAFT}),
            ResultState.DRAFT,
            "only drafts change in place; a signed-out result is amended instead",
        ),
        Transition(
            Action.VERIFY,
            frozenset({ResultState.DRAFT}),
            ResultState.VERIFIED,
            "only a draft can be signed out",
        ),
        Transition(
            Action.AMEND,
            frozenset({ResultState.VERIFIED, ResultState.AMENDED}),
            ResultState.SUPERSEDED,
            "only the current signed-out version can be amended; drafts are edited",
        ),
        Transition(
            Action.CANCEL,
            frozenset({ResultState.DRAFT}),
            ResultState.CANCELLED,
            "a signed-out result cannot be withdrawn, only amended",
        ),
    )
}

#: State of the new version an amendment creates.
AMENDMENT_STATE = ResultState.AMENDED
#: States that count as reported (signed out and current).
REPORTED_STATES = frozenset({ResultState.VERIFIED, ResultState.AMENDED})
#: States that are the current version of a result (not superseded or cancelled).
CURRENT_STATES = frozenset({ResultState.DRAFT, ResultState.VERIFIED, ResultState.AMENDED})


def next_state(entity: str, current: ResultState, action: Action) -> ResultState:
    """The state after ``action``; raises IllegalTransition if the table forbids it."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise IllegalTransition(entity, str(current), str(action), "no such transition")
    if current not in transition.sources:
        allowed = ", ".join(sorted(s.value for s in transition.sources))
        raise IllegalTransition(
            entity,
            str(current),
            str(transition.target),
            f"{action} is allowed only from {allowed}: {transition.rationale}",
        )
    return transition.target
