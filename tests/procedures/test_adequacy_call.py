"""§8 adequacy calls per specimen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from trephine.criteria.procedure import specimen_adequacy
from trephine.domain import Patient, Sex
from trephine.domain.specimen import Hemodilution, Specimen, SpecimenType
from trephine.services import patients, procedures
from trephine.store.database import Database
from trephine.store.tables import SpecimenRow

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


def test_a_batch_of_specimens_stores_each_ones_own_call(database: Database) -> None:
    """``add_specimens`` works a call out once per distinct set of facts; each stored call is
    still exactly the specimen's own, down to the length as written (14 and 14.0 mm are equal
    numbers, quoted differently in the reasons)."""
    cores = ["14", "14.0", "15", "14", None, "15.00"]
    specimens = [
        Specimen(f"C-{n}", SpecimenType.TREPHINE_CORE, AT, core_length_mm=Decimal(mm))
        if mm is not None
        else Specimen(f"C-{n}", SpecimenType.TREPHINE_CORE, AT)
        for n, mm in enumerate(cores)
    ] + [
        aspirate(spicules=True, first_pull=True, hemodilution=Hemodilution.NONE),
        Specimen("ASP-2", SpecimenType.ASPIRATE, AT, spicules=False, first_pull=False),
        Specimen("ASP-3", SpecimenType.ASPIRATE, AT, spicules=True, first_pull=True),
        Specimen("PB-1", SpecimenType.PERIPHERAL_BLOOD, AT),
    ]
    with database.unit_of_work("lab") as uow:
        patients.register_patient(uow, Patient("ADQ-1", Sex.FEMALE, 1960))
        procedures.add_specimens(uow, [("ADQ-1", s, None) for s in specimens])
        stored = {
            row.accession: (row.adequacy, row.adequacy_call)
            for row in uow.session.scalars(select(SpecimenRow))
        }
    params = procedures.site_adequacy_params()
    for specimen in specimens:
        own = procedures.adequacy_columns(specimen, params)
        assert stored[specimen.accession] == (own["adequacy"], own["adequacy_call"])
    assert "Core 14.0 mm" in " ".join(stored["C-1"][1]["reasons"])
    assert "Core 14 mm" in " ".join(stored["C-0"][1]["reasons"])
