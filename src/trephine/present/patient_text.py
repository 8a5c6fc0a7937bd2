"""What a patient reads about their biopsy: before, after, and their results in plain words.

Pure: it takes stored values (a checklist, results, response calls) and returns
:class:`Section`s of short sentences. Every sentence goes through the message catalogue
(:func:`trephine.present.catalogue._`), so it can be translated; the English here is the source.
Reading grade ≤ 8 and Flesch reading ease ≥ 60 for every section, for every indication and for
every result explanation of the demo cohort, are measured by ``tests/patients/test_readability.py``;
medical words that must stay are explained at first use or in :data:`GLOSSARY`.

Nothing here gives a number the criteria did not: "fewer than 5 in 100 cells" is the remission
blast limit of the response criteria (clinical-criteria.md, AML/ALL response), "1 in 10,000" is
the test's own limit of detection from the stored result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from trephine.criteria.procedure import SafetyCall
from trephine.criteria.sets.imwg2016_mm import PD_CONFIRMED, PD_UNCONFIRMED
from trephine.domain.planning import Checklist, DrugClass, Fasting
from trephine.domain.procedure import Anesthesia, Indication
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    Chimerism,
    CoreFindings,
    Extramedullary,
    FlowMRD,
    Karyotype,
    MolecularMRD,
    NGSVariant,
    ResultKind,
)
from trephine.present.catalogue import _
from trephine.present.procedures import indication_sentence


@dataclass(frozen=True)
class Section:
    """A heading, paragraphs, an optional list, and whether it is a box that must stand out."""

    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    callout: bool = False

    def text(self) -> str:
        """All its words as one text (what readability is measured on)."""
        return " ".join(
            [*self.paragraphs, *(i if i.endswith(".") else i + "." for i in self.items)]
        )


@dataclass(frozen=True)
class Explanation:
    """One result or response call explained: what it shows, what it means, what happens next."""

    title: str
    shows: str
    means: str = ""
    next_steps: str = ""
    #: Glossary words this explanation uses.
    terms: tuple[str, ...] = field(default=())

    def text(self) -> str:
        return " ".join(t for t in (self.shows, self.means, self.next_steps) if t)


# -- the glossary ------------------------------------------------------------------------------
def glossary() -> dict[str, str]:
    """Medical words that stay on the pages, each explained in plain words."""
    return {
        _("marrow"): _("The soft part inside your bones where blood cells are made."),
        _("biopsy"): _("Taking a small piece of the body to look at it closely."),
        _("aspirate"): _("A small amount of liquid marrow drawn up through a needle."),
        _("core"): _("A thin piece of bone and marrow, about as wide as a pencil lead."),
        _("blasts"): _("Young blood cells. Too many of them can be a sign of leukaemia."),
        _("leukaemia"): _("A cancer of the blood cells that starts in the marrow."),
        _("remission"): _("The illness can no longer be seen in the marrow with a microscope."),
        _("MRD"): _(
            "Short for measurable residual disease. It means very small amounts of illness "
            "left after treatment, too few to see with a microscope."
        ),
        _("relapse"): _("The illness has come back after it went away."),
        _("progression"): _("The illness is growing again after treatment held it back."),
        _("donor"): _("The person who gave you their stem cells."),
        _("chromosomes"): _("The parts of a cell that carry its genes."),
        _("local anaesthetic"): _("A medicine that numbs one part of your body. You stay awake."),
        _("sedation"): _("A medicine that makes you calm and sleepy."),
    }


def terms_used(text: str) -> list[str]:
    """The glossary words that appear in ``text`` (whole words, any case)."""
    import re

    found = []
    for term in glossary():
        if re.search(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", text, re.IGNORECASE):
            found.append(term)
    return found


# -- before -----------------------------------------------------------------------------------
def _medication_lines(checklist: Checklist | None) -> list[str]:
    if checklist is None:
        return [
            _(
                "Tell your team about every medicine you take, including vitamins and herbal "
                "remedies. Some of them can make you bleed more."
            )
        ]
    lines = []
    for med in checklist.medications:
        if med.drug_class is DrugClass.ANTICOAGULANT:
            lines.append(
                _(
                    "You take {name}, which thins your blood. Your team will tell you if and when "
                    "to stop it before the biopsy. Do not stop it unless they tell you to."
                ).format(name=med.name)
            )
        elif med.drug_class is DrugClass.ANTIPLATELET:
            lines.append(
                _(
                    "You take {name}, which makes you bleed more easily. Ask your team if you "
                    "should keep taking it. Do not stop it unless they tell you to."
                ).format(name=med.name)
            )
    if checklist.allergies:
        lines.append(
            _("Your team knows you are allergic to {allergies}.").format(
                allergies=", ".join(checklist.allergies)
            )
        )
    lines.append(
        _(
            "Tell your team if you start any new medicine before the day, including pain "
            "killers you buy in a shop."
        )
    )
    return lines


def _eating_line(checklist: Checklist | None) -> str:
    fasting = None if checklist is None else checklist.fasting
    if fasting is Fasting.FAST:
        return _(
            "Do not eat before the biopsy. Your team will tell you from what time. You may "
            "drink water unless they say not to."
        )
    if fasting is Fasting.EAT_AS_USUAL:
        return _("You can eat and drink as usual on the day.")
    return _("Eat a light meal before you come, unless your team tells you not to.")


def before_sections(indication: Indication, checklist: Checklist | None) -> list[Section]:
    """Why, how to prepare and what happens, for this patient's biopsy."""
    sedated = checklist is not None and checklist.sedation in (
        Anesthesia.CONSCIOUS_SEDATION,
        Anesthesia.GENERAL,
    )
    prepare = [
        *_medication_lines(checklist),
        _eating_line(checklist),
        _("Wear loose, comfortable clothes."),
        _("Bring a list of your medicines and any letters from your team."),
        _("Write down any questions you want to ask."),
    ]
    if sedated:
        escort = checklist.escort if checklist is not None else None
        prepare.append(
            _(
                "You will have sedation, a medicine that makes you sleepy. An adult must take "
                "you home and stay with you that day. You told us this will be {escort}."
            ).format(escort=escort)
            if escort
            else _(
                "You will have sedation, a medicine that makes you sleepy. An adult must take "
                "you home and stay with you that day."
            )
        )
    else:
        prepare.append(_("You can go home on your own, but it helps to have someone with you."))
    return [
        Section("why", _("Why you are having this test"), (indication_sentence(indication),)),
        Section("prepare", _("How to get ready"), items=tuple(prepare)),
        Section(
            "what-happens",
            _("What happens"),
            (
                _(
                    "A bone marrow biopsy takes about 10 to 20 minutes. It is usually done from "
                    "the back of your hip bone while you lie on your side."
                ),
                _(
                    "First the skin is numbed with a local anaesthetic, a medicine that numbs one "
                    "part of the body. You stay awake."
                ),
                _(
                    "Then a needle draws up a little liquid marrow. This is the aspirate. You may "
                    "feel pressure and a short pulling pain."
                ),
                _(
                    "Last, a thin piece of bone and marrow is taken. This is the core. Then a "
                    "dressing is put on the skin."
                ),
            ),
        ),
    ]


# -- after ------------------------------------------------------------------------------------
#: §10 reasons that mean pain killers which thin the blood (aspirin, ibuprofen) are avoided.
BLEEDING_REASONS = frozenset(
    {"PLATELETS_LOW", "INR_HIGH", "ANTICOAGULANT", "ANTIPLATELET", "MPN", "BLEEDING_DISORDER"}
)


def bleeding_risk(call: SafetyCall | None) -> bool:
    """Whether the stored §10 decision names a bleeding risk. Without a stored checklist we
    cannot tell, and err on the safe side."""
    if call is None:
        return True
    return any(r.code in BLEEDING_REASONS for r in call.reasons)


def after_sections(*, bleeding: bool, clinic_phone: str, fever_c: float) -> list[Section]:
    """Caring for the site and when to call (the call box stands out)."""
    pain = (
        _(
            "For pain, take paracetamol. Do not take aspirin or ibuprofen unless your doctor "
            "says so, because they can make you bleed more."
        )
        if bleeding
        else _("For pain, you can take paracetamol or ibuprofen. Follow the dose on the pack.")
    )
    return [
        Section(
            "care",
            _("Looking after the biopsy site"),
            items=(
                _("Keep the dressing on and dry for 24 hours. Then you can shower."),
                _("Do not take a bath or swim until the skin has healed."),
                _("If it is sore, hold an ice pack wrapped in a cloth on it for 10 minutes."),
                pain,
                _("Do not lift heavy things for a day or two."),
                _("Most people feel back to normal in a day or two."),
                _(
                    "If the site bleeds, press on it firmly with a clean cloth. If it does not "
                    "stop, call us."
                ),
            ),
        ),
        Section(
            "call",
            _("When to call us"),
            (_("Call {phone} straight away if you have any of these:").format(phone=clinic_phone),),
            items=(
                _("A fever: a temperature of {t} °C or higher").format(t=f"{fever_c:g}"),
                _("Bleeding that does not stop when you press on it"),
                _("Pain that is very bad or getting worse"),
                _("Redness, swelling or fluid at the biopsy site"),
            ),
            callout=True,
        ),
    ]


# -- results ----------------------------------------------------------------------------------
def _one_in(percent: Decimal) -> str:
    """0.01 % → "1 in 10,000"; 0.014 % → "1 in 7,100" (two significant digits: a patient
    reads a size, not a measurement)."""
    n = int((Decimal(100) / percent).to_integral_value())
    digits = len(str(n))
    if digits > 2:
        step = 10 ** (digits - 2)
        n = round(n / step) * step
    return f"1 in {n:,}"


def _whole(value: Decimal) -> str:
    return f"{int(value.to_integral_value()):,}"


def _mrd_sentence(q: Quantity, what: str) -> str:
    lod = q.lod
    if (
        q.qualifier is Qualifier.NOT_DETECTED
        or q.value is None
        or (q.qualifier is Qualifier.LESS_THAN)
    ):
        if lod is not None and lod > 0 and q.unit == "%":
            return _(
                "The {what} test did not find leukaemia cells at the level it can detect, {limit}."
            ).format(what=what, limit=_one_in(lod))
        return _("The {what} test did not find leukaemia cells at the level it can detect.").format(
            what=what
        )
    if q.unit == "%" and 0 < q.value < 1:
        return _(
            "The {what} test found a small number of leukaemia cells: about {share} cells."
        ).format(what=what, share=_one_in(q.value))
    if q.unit == "%" and q.value >= 1:
        return _("The {what} test found leukaemia cells: about {n} in 100 cells.").format(
            what=what, n=_whole(q.value)
        )
    return _("The {what} test found signs of leukaemia cells.").format(what=what)


def explain_result(kind: ResultKind, value: object) -> Explanation:
    """One signed-out result in plain words."""
    if isinstance(value, AspirateDifferential):
        blasts = value.counts.get(CellClass.BLAST, 0)
        pct = Decimal(blasts * 100) / Decimal(value.cells_counted)
        counted = _("A scientist counted {n} cells from your marrow under a microscope.").format(
            n=f"{value.cells_counted:,}"
        )
        share = (
            _("None of them were blasts, which are young blood cells.")
            if pct == 0
            else _("Fewer than 1 in 100 of them were blasts, which are young blood cells.")
            if pct < 1
            else _("About {b} in 100 of them were blasts, which are young blood cells.").format(
                b=_whole(pct)
            )
        )
        return Explanation(
            _("Marrow cell count"),
            counted + " " + share,
            _(
                "A healthy marrow has fewer than 5 blasts in every 100 cells."
                if pct < 5
                else "This is more than the 5 in 100 seen in a healthy marrow."
            ),
            terms=("marrow", "blasts"),
        )
    if isinstance(value, FlowMRD):
        return Explanation(
            _("MRD test (flow)"),
            _mrd_sentence(value.mrd, "MRD"),
            # What the test does, true at any level (a relapse's 38 % is not "too few to see").
            _(
                "An MRD test looks for leukaemia cells left after treatment, even amounts too "
                "small to see with a microscope."
            ),
            terms=("MRD", "leukaemia"),
        )
    if isinstance(value, MolecularMRD):
        return Explanation(
            _("MRD test (genes)"),
            _mrd_sentence(value.ratio, "MRD"),
            _("This test looks for a gene change that only the leukaemia cells carry."),
            terms=("MRD", "leukaemia"),
        )
    if (
        isinstance(value, CoreFindings)
        and value.cellularity is not None
        and (value.cellularity.value is not None)
    ):
        return Explanation(
            _("Marrow core"),
            _(
                "About {c} in 100 parts of your marrow sample were cells that make blood. The "
                "rest was fat."
            ).format(c=_whole(value.cellularity.value)),
            _("How much of the marrow makes blood changes with age and with treatment."),
            terms=("marrow", "core"),
        )
    if isinstance(value, Karyotype):
        normal = value.iscn.replace(" ", "") in ("46,XX", "46,XY", "46,XX[20]", "46,XY[20]")
        return Explanation(
            _("Chromosome test"),
            _("This test looks at the chromosomes, which carry the genes, in your marrow cells."),
            _("It found no change.") if normal else _("It found a change in the chromosomes."),
            terms=("chromosomes", "marrow"),
        )
    if isinstance(value, NGSVariant):
        return Explanation(
            _("Gene test"),
            _("The gene test found a change in a gene called {gene}.").format(gene=value.gene),
            _("Some gene changes help your doctor choose the best treatment."),
        )
    if isinstance(value, Chimerism) and value.donor_percent.value is not None:
        return Explanation(
            _("Donor cell test"),
            _("About {d} in 100 of the blood cells tested came from your donor.").format(
                d=_whole(value.donor_percent.value)
            ),
            _(
                "After a transplant, your doctor wants most of your blood cells to come from "
                "the donor."
            ),
            terms=("donor",),
        )
    if isinstance(value, BloodCount):
        # Named, not 'Other test': the blood count is the test patients know best. No reference
        # ranges are given (none in the spec; they vary by laboratory, age and sex).
        return Explanation(
            _("Blood count"),
            _(
                "A blood test taken on the same day counted your white cells, red cells and "
                "platelets."
            ),
            _(
                "Blood cells are made in the marrow, so these counts show how well it is "
                "working. Your doctor will tell you what your numbers mean."
            ),
            terms=("marrow",),
        )
    if isinstance(value, Extramedullary):
        # Named, not 'Other test': a remission needs no illness outside the marrow either
        # (ELN 2022 CR: no extramedullary disease), and the patient was examined for it.
        checked = _("A doctor checked your body for signs of the illness outside the marrow.")
        if value.present:
            return Explanation(
                _("Check outside the marrow"),
                checked + " " + _("Signs of the illness were found."),
                _("Your doctor will talk with you about what this means for your treatment."),
                terms=("marrow",),
            )
        return Explanation(
            _("Check outside the marrow"),
            checked + " " + _("No signs of the illness were found."),
            _("This check is one of the ways your team tells how well treatment is working."),
            terms=("marrow",),
        )
    return Explanation(
        _("Other test"),
        _("This test is part of your results. Your doctor will tell you what it shows."),
    )


def corrected(e: Explanation) -> Explanation:
    """A result changed after it was first reported, labelled as such (§7 PF9): the title says
    so, and what it shows is followed by who can say what changed."""
    note = _(
        "This result was corrected after it was first reported. Your doctor can tell you what "
        "changed."
    )
    return replace(
        e,
        title=_("{title} (corrected)").format(title=e.title),
        shows=f"{e.shows} {note}",
    )


def _family(ruleset: str) -> str:
    """Which illness a rule set is about, for the words of its calls."""
    r = ruleset.upper()
    if r.startswith(("ELN", "ALL")):
        return "leukaemia"
    if r.startswith("IMWG"):
        return "myeloma"
    if r.startswith("IWCLL"):
        return "cll"
    if r.startswith("AA"):
        return "aa"
    return "other"


#: Categories that are not a finding a patient needs (not met, not yet, not applicable).
_SILENT = frozenset(
    {"NOT_MET", "NOT_APPLICABLE", "NOT_EVALUABLE", "BEFORE_LANDMARK", "BASELINE", "NOT_REFRACTORY"}
)


def _call_words(family: str, call_kind: str, category: str) -> tuple[str, str, str] | None:
    """(title, what it shows, what usually happens next) or None when nothing is said."""
    c = category.upper()
    if c in _SILENT:
        return None
    cells = {
        "leukaemia": _("leukaemia cells"),
        "myeloma": _("myeloma cells"),
        "cll": _("CLL cells"),
    }.get(family, _("signs of the illness"))
    plan = _("Your team will plan the next step of treatment or check-ups.")
    talk = _("Your doctor will talk with you about what to do next.")
    if call_kind == "mrd":
        # Negative is below a threshold (ELN 2021 flow MRD: under 0.1 %), not "none found": a
        # flow test that counted 1 in 7,100 cells is negative, and the same page says so.
        if c in ("NEGATIVE", "FLOW_MRD_NEGATIVE", "UNDETECTABLE_MRD4", "MRD_CR"):
            return (
                _("MRD"),
                _(
                    "The MRD test was negative. It found no {cells}, or fewer than the number "
                    "that counts as a positive test."
                ).format(cells=cells),
                _("Your team will keep checking with regular tests."),
            )
        if c in ("POSITIVE", "MRD_POSITIVE", "LOW_LEVEL", "MRD_FAILURE"):
            return (
                _("MRD"),
                # Not "a small number": the call is the same at 0.2 % and at a relapse's 38 %;
                # the result's own sentence says how many.
                _("The MRD test found {cells}.").format(cells=cells),
                _("Your doctor will talk with you about what this means for your treatment."),
            )
        return None
    if call_kind == "relapse":
        if c == "HEMATOLOGIC_RELAPSE":
            return (
                _("Relapse"),
                _("The illness has come back in the marrow. This is called a relapse."),
                _("Your doctor will talk with you soon about what to do next."),
            )
        if c == "CONTINUED_REMISSION":
            return (_("Remission"), _("You are still in remission."), plan)
        return None
    if call_kind == "progression":
        # IMWG 2016: progression is confirmed on a second assessment in a row. One assessment
        # alone is not sure yet, and the words say so (clinical-systems.md §7: no false
        # certainty). A bare ``PD`` is what versions before confirmation stored for one
        # assessment: it was never confirmed, so it reads as one to confirm.
        if c == PD_CONFIRMED:
            return (
                _("Progression"),
                _(
                    "Two tests in a row show that the illness is growing again. This is "
                    "called progression."
                ),
                _("Your doctor will talk with you soon about what to do next."),
            )
        if c in (PD_UNCONFIRMED, "PD"):
            return (
                _("Progression (to confirm)"),
                _(
                    "One test shows that the illness may be growing again. This is called "
                    "progression. One test is not enough to be sure, so you will need another "
                    "test to check."
                ),
                _("Your doctor will talk with you about this and about when the next test is."),
            )
        return None
    if call_kind != "response":
        return None
    if family == "aa":
        if c in ("CR", "PARTIAL_RESPONSE", "PR"):
            return (_("Response"), _("Your blood counts have got better with treatment."), plan)
        if c == "NO_RESPONSE":
            return (
                _("Response"),
                _("Your blood counts have not got better enough with treatment yet."),
                talk,
            )
        return None
    if c.startswith("CR") or c in ("SCR", "MLFS"):
        recovered = not c.startswith(("CRI", "CRH", "MLFS"))
        if family == "leukaemia":
            shows = _("The marrow shows remission: fewer than 5 in 100 cells are leukaemia cells.")
        else:
            shows = _("The tests show remission: the usual tests cannot find the illness.")
        if not recovered:
            shows += " " + _("Your blood counts have not fully come back yet.")
        if c.endswith("MRD-"):
            shows += " " + _("The MRD test was negative too.")
        return (_("Remission"), shows, plan)
    if c == "VGPR":
        return (
            _("Response"),
            _("The treatment has worked very well. Only a trace of the illness can be found."),
            plan,
        )
    if c in ("PR", "PARTIAL_RESPONSE", "MR"):
        return (
            _("Response"),
            _("The treatment has worked in part. There are fewer {cells} than before.").format(
                cells=cells
            ),
            talk,
        )
    if c in ("NO_RESPONSE", "REFRACTORY", "RD", "PD"):
        return (_("Response"), _("The treatment has not cleared the illness yet."), talk)
    return None


def explain_call(ruleset: str, call_kind: str, category: str) -> Explanation | None:
    """A stored call in plain words, or None when it is not something a patient is told
    (not met, not yet evaluable, not applicable, or a category without agreed words — the
    page then says the doctor will explain)."""
    words = _call_words(_family(ruleset), call_kind, category)
    if words is None:
        return None
    title, shows, next_steps = words
    terms = tuple(
        t for t in ("remission", "MRD", "relapse", "progression", "marrow") if t in shows + title
    )
    return Explanation(title, shows, "", next_steps, terms=terms)


def questions() -> tuple[str, ...]:
    """Questions to ask your doctor about the results."""
    return (
        _("What do my results mean for me?"),
        _("Do I need more tests? When?"),
        _("Will my treatment change?"),
        _("When will I have my next marrow test?"),
        _("Who can I call if I have questions later?"),
    )


def sections_text(sections: Iterable[Section]) -> str:
    return " ".join(s.text() for s in sections)


def explanations_text(explanations: Sequence[Explanation]) -> str:
    return " ".join(e.text() for e in explanations)
