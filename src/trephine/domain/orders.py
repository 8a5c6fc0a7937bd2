"""Lab orders and specimen tracking: the study vocabulary and the study lifecycle, as data.

An order belongs to one biopsy procedure and lists the requested studies. Each study moves::

    ordered ─collect─► collected ─receive─► received ─start─► in progress ─report─► reported
       │                  │                   │  └──────────report─────────────────►
       └──────────────────┴───────cancel──────┴────────────────┴──► cancelled (with a reason)

``STUDY_TRANSITIONS`` is the whole state machine (like :mod:`trephine.workflow` for results): an
action is allowed only from the states listed for it; anything else raises
:class:`~trephine.errors.IllegalTransition` naming the actions that *are* allowed from the
current state. Who and when are recorded at every step by the service
(:mod:`trephine.services.orders`). Pure: no database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from trephine.domain.results import ResultKind
from trephine.domain.specimen import SpecimenType
from trephine.errors import IllegalTransition, ValidationError


class Section(StrEnum):
    """Lab sections that keep a work list of their own."""

    MORPHOLOGY = "morphology"
    FLOW = "flow cytometry"
    MOLECULAR = "molecular"
    CYTOGENETICS = "cytogenetics"
    TRANSPLANT = "transplant immunology"


@dataclass(frozen=True)
class StudyType:
    """One orderable study: its code, name, section, the specimen it is done on and the result
    kinds that report it (signing out a result of one of these kinds on the study's specimen
    reports the study)."""

    code: str
    name: str
    section: Section
    specimen: SpecimenType
    kinds: frozenset[ResultKind]


def _study(
    code: str, name: str, section: Section, specimen: SpecimenType, *kinds: ResultKind
) -> StudyType:
    return StudyType(code, name, section, specimen, frozenset(kinds))


#: The orderable studies (the lab's test menu for a marrow). Keys are the codes typed on the
#: command line and sent by forms.
STUDIES: dict[str, StudyType] = {
    s.code: s
    for s in (
        _study(
            "morphology",
            "Aspirate morphology (differential)",
            Section.MORPHOLOGY,
            SpecimenType.ASPIRATE,
            ResultKind.DIFFERENTIAL,
        ),
        _study(
            "trephine",
            "Trephine core histology",
            Section.MORPHOLOGY,
            SpecimenType.TREPHINE_CORE,
            ResultKind.CORE,
        ),
        _study(
            "iron-stain",
            "Iron stain (Perls)",
            Section.MORPHOLOGY,
            SpecimenType.TREPHINE_CORE,
            ResultKind.CORE,
        ),
        _study(
            "blood-count",
            "Full blood count",
            Section.MORPHOLOGY,
            SpecimenType.PERIPHERAL_BLOOD,
            ResultKind.BLOOD_COUNT,
        ),
        _study(
            "flow-mrd",
            "Flow cytometry MRD",
            Section.FLOW,
            SpecimenType.ASPIRATE,
            ResultKind.FLOW_MRD,
        ),
        _study(
            "molecular-mrd",
            "Molecular MRD (qPCR / ddPCR)",
            Section.MOLECULAR,
            SpecimenType.ASPIRATE,
            ResultKind.MOLECULAR_MRD,
        ),
        _study(
            "ngs",
            "Myeloid NGS panel",
            Section.MOLECULAR,
            SpecimenType.ASPIRATE,
            ResultKind.NGS_VARIANT,
        ),
        _study(
            "cytogenetics",
            "Karyotype (G-banding)",
            Section.CYTOGENETICS,
            SpecimenType.ASPIRATE,
            ResultKind.KARYOTYPE,
        ),
        _study(
            "chimerism",
            "Donor chimerism (STR)",
            Section.TRANSPLANT,
            SpecimenType.ASPIRATE,
            ResultKind.CHIMERISM,
        ),
    )
}


def study_type(code: str) -> StudyType:
    """The study ``code``, or a :class:`ValidationError` listing the orderable studies."""
    found = STUDIES.get(code.strip().lower())
    if found is None:
        raise ValidationError("study", code, sorted(STUDIES), reason="unknown study")
    return found


def parse_section(value: str) -> Section:
    try:
        return Section(value.strip().lower())
    except ValueError:
        raise ValidationError(
            "section", value, [s.value for s in Section], reason="unknown section"
        ) from None


class StudyState(StrEnum):
    ORDERED = "ordered"
    COLLECTED = "collected"
    RECEIVED = "received"
    IN_PROGRESS = "in progress"
    REPORTED = "reported"
    CANCELLED = "cancelled"


class StudyAction(StrEnum):
    COLLECT = "collect"
    RECEIVE = "receive"
    START = "start"
    REPORT = "report"
    CANCEL = "cancel"


@dataclass(frozen=True)
class StudyTransition:
    action: StudyAction
    sources: frozenset[StudyState]
    target: StudyState
    rationale: str


_OPEN = frozenset(
    {StudyState.ORDERED, StudyState.COLLECTED, StudyState.RECEIVED, StudyState.IN_PROGRESS}
)

STUDY_TRANSITIONS: dict[StudyAction, StudyTransition] = {
    t.action: t
    for t in (
        StudyTransition(
            StudyAction.COLLECT,
            frozenset({StudyState.ORDERED}),
            StudyState.COLLECTED,
            "a specimen is collected once, for an ordered study",
        ),
        StudyTransition(
            StudyAction.RECEIVE,
            frozenset({StudyState.COLLECTED}),
            StudyState.RECEIVED,
            "the lab receives a specimen that has been collected",
        ),
        StudyTransition(
            StudyAction.START,
            frozenset({StudyState.RECEIVED}),
            StudyState.IN_PROGRESS,
            "work starts on a received specimen",
        ),
        StudyTransition(
            StudyAction.REPORT,
            frozenset({StudyState.RECEIVED, StudyState.IN_PROGRESS}),
            StudyState.REPORTED,
            "a study is reported when its results are signed out, after receipt",
        ),
        StudyTransition(
            StudyAction.CANCEL,
            _OPEN,
            StudyState.CANCELLED,
            "a reported study cannot be cancelled; its results are amended instead",
        ),
    )
}

#: States still on a work list (not reported, not cancelled).
PENDING_STATES = _OPEN
#: The time column each state is entered at (``<column>_at``/``<column>_by`` on the study row).
STEP_COLUMNS: dict[StudyState, str] = {
    StudyState.ORDERED: "ordered",
    StudyState.COLLECTED: "collected",
    StudyState.RECEIVED: "received",
    StudyState.IN_PROGRESS: "started",
    StudyState.REPORTED: "reported",
    StudyState.CANCELLED: "cancelled",
}


def allowed_actions(current: StudyState) -> list[StudyAction]:
    """The actions the table allows from ``current``, in the table's order."""
    return [a for a, t in STUDY_TRANSITIONS.items() if current in t.sources]


def parse_action(value: str) -> StudyAction:
    try:
        return StudyAction(value.strip().lower())
    except ValueError:
        raise ValidationError(
            "action", value, [a.value for a in StudyAction], reason="unknown action"
        ) from None


def next_study_state(entity: str, current: StudyState, action: StudyAction) -> StudyState:
    """The state after ``action``; IllegalTransition naming the allowed actions otherwise."""
    transition = STUDY_TRANSITIONS[action]
    if current not in transition.sources:
        allowed = ", ".join(a.value for a in allowed_actions(current)) or "none (final state)"
        raise IllegalTransition(
            entity,
            str(current),
            str(transition.target),
            f"{action} is not allowed from {current} ({transition.rationale}); "
            f"allowed from {current}: {allowed}",
        )
    return transition.target


@dataclass(frozen=True)
class StudyStep:
    """One step a study took: the action, when and by whom."""

    action: StudyAction
    at: dt.datetime
    by: str


@dataclass(frozen=True)
class StudyRecord:
    """A study with the steps it has already taken, entered after the fact (a lab system's
    history, the demo cohort): ``steps`` follow :data:`STUDY_TRANSITIONS` from ``ordered``;
    ``specimen`` (an accession) goes with a ``collect`` step, ``cancel_reason`` with ``cancel``;
    ``ordered_at`` only for a study added to the order later (an add-on)."""

    code: str
    steps: tuple[StudyStep, ...] = ()
    specimen: str | None = None
    cancel_reason: str | None = None
    ordered_at: dt.datetime | None = None


@dataclass(frozen=True)
class OrderRecord:
    """A procedure's order with its studies, each as far as it has gone."""

    ordered_at: dt.datetime
    ordered_by: str
    studies: tuple[StudyRecord, ...]
    indication: str | None = None
