"""§8 adequacy calls per specimen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from trephine.criteria.procedure import specimen_adequacy
from trephine.domain.specimen import Hemodilution, Specimen, SpecimenType

AT = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


def aspirate(**kw: object) -> Specimen:
    return Specimen("ASP-1", SpecimenType.ASPIRATE, AT, **kw)  # type: ignore[arg-type]


def test_particulate_first_pull_aspirate_is_adequate() -> None:
    call = specimen_adequacy(
        aspirate(spicules=True, first_pull=True, hemodilution=Hemodilution.NONE)
    )
    assert call is not None and call.category == "ADEQUATE" and call.adequate and not call.flags


def test_aparticulate_aspirate_is_haemodilute_and_not_adequate() -> None:
    call = specimen_adequacy(aspirate(spicules=False, first_pull=True))
    assert call is not None
    assert call.category == "APARTICULATE" and "HEMODILUTE" in call.flags and not call.adequate


def test_haemodilution_grade_is_a_site_parameter() -> None:
    mild = aspirate(spicules=True, first_pull=False, hemodilution=Hemodilution.MILD)
    call = specimen_adequacy(mild)
    assert call is not None and call.adequate and call.flags == ("NOT_FIRST_PULL",)
    strict = specimen_adequacy(mild, {"hemodilute_from": "mild"})
    assert strict is not None and not strict.adequate and "HEMODILUTE" in strict.flags
    assert strict.params["hemodilute_from"] == "mild"


def test_core_length_against_15_mm() -> None:
    def core(mm: str | None) -> Specimen:
        return Specimen(
            "CORE-1",
            SpecimenType.TREPHINE_CORE,
            AT,
            core_length_mm=None if mm is None else Decimal(mm),
        )

    short = specimen_adequacy(core("14"))
    assert short is not None and short.category == "SUBOPTIMAL_CORE_LENGTH"
    edge = specimen_adequacy(core("15"))
    assert edge is not None and edge.category == "ADEQUATE"
    unknown = specimen_adequacy(core(None))
    assert unknown is not None and unknown.category == "NOT_EVALUABLE"
    assert unknown.missing == ("core_length_mm",)


def test_blood_has_no_adequacy_call() -> None:
    assert specimen_adequacy(Specimen("PB-1", SpecimenType.PERIPHERAL_BLOOD, AT)) is None
