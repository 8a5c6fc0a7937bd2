"""Invariants of patients, therapy, procedures, specimens and result kinds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trephine.domain import (
    BloodCount,
    Chimerism,
    CoreFindings,
    Cycle,
    Diagnosis,
    Disease,
    FlowMethod,
    FlowMRD,
    GeneticFinding,
    GeneticStatus,
    Intensity,
    IronScale,
    Karyotype,
    NGSVariant,
    Patient,
    Procedure,
    Sex,
    Site,
    Specimen,
    SpecimenType,
    TherapyIntent,
    TherapyLine,
)
from trephine.domain import quantity as q
from trephine.domain.codes import CodeSystem
from trephine.domain.results import FLOW_MRD, RESULT_TYPES, VAF, ResultKind, headline
from trephine.errors import ValidationError

UTC_AT = dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize("pid", ["", "has space", "ä-umlaut", "x" * 65, "-leading"])
def test_patient_ids_are_opaque_tokens(pid: str) -> None:
    with pytest.raises(ValidationError, match="patient_id"):
        Patient(pid, Sex.FEMALE)


def test_birth_year_range() -> None:
    with pytest.raises(ValidationError, match="birth_year"):
        Patient("P1", Sex.MALE, 1850)
    assert Patient("P1", Sex.MALE, 1950).age_at(dt.date(2024, 6, 1)) == 74


def test_diagnosis_markers_unique() -> None:
    finding = GeneticFinding("NPM1", GeneticStatus.DETECTED)
    with pytest.raises(ValidationError, match="genetics"):
        Diagnosis(Disease.AML, dt.date(2024, 1, 1), genetics=(finding, finding))


def test_therapy_line_dates_and_cycles() -> None:
    start = dt.date(2024, 1, 1)
    with pytest.raises(ValidationError, match="end"):
        TherapyLine(
            1,
            "7+3",
            TherapyIntent.INDUCTION,
            Intensity.INTENSIVE,
            start,
            start.replace(day=1) - dt.timedelta(days=1),
        )
    with pytest.raises(ValidationError, match="cycle 1 start"):
        TherapyLine(
            1,
            "aza",
            TherapyIntent.PALLIATIVE,
            Intensity.LESS_INTENSIVE,
            start,
            cycles=(Cycle(1, start - dt.timedelta(days=3)),),
        )
    with pytest.raises(ValidationError, match="cycles"):
        TherapyLine(
            1,
            "aza",
            TherapyIntent.PALLIATIVE,
            Intensity.LESS_INTENSIVE,
            start,
            cycles=(Cycle(2, start), Cycle(1, start)),
        )


def test_instants_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError, match="performed_at"):
        Procedure(dt.datetime(2024, 3, 1, 9), Site.STERNUM)
    assert Procedure(UTC_AT, Site.STERNUM).site.code is not None
    assert Site.POSTERIOR_ILIAC_CREST.code is None  # no verified SNOMED code exists


def test_specimen_quality_fields_belong_to_their_type() -> None:
    with pytest.raises(ValidationError, match="core_length_mm"):
        Specimen("A1", SpecimenType.ASPIRATE, UTC_AT, core_length_mm=Decimal(12))
    with pytest.raises(ValidationError, match="spicules"):
        Specimen("C1", SpecimenType.TREPHINE_CORE, UTC_AT, spicules=True)
    Specimen("C1", SpecimenType.TREPHINE_CORE, UTC_AT, core_length_mm=Decimal("18.5"))


def test_results_refuse_values_in_the_wrong_unit() -> None:
    grams_per_litre = q.Quantity(Decimal(95), "g/L")
    with pytest.raises(ValidationError, match="hemoglobin unit"):
        BloodCount(hemoglobin=grams_per_litre)
    with pytest.raises(ValidationError, match="anc"):
        BloodCount(wbc=q.WBC.parse("1.0"), anc=q.ANC.parse("2.0"))
    with pytest.raises(ValidationError, match="blood_count"):
        BloodCount()


def test_flow_mrd_event_counts() -> None:
    with pytest.raises(ValidationError, match="abnormal_events"):
        FlowMRD(FLOW_MRD.parse("0.1"), FlowMethod.LAIP, events_acquired=100, abnormal_events=101)


def test_core_iron_grade_follows_its_scale() -> None:
    CoreFindings(iron_grade=6, iron_scale=IronScale.GALE)
    with pytest.raises(ValidationError, match="iron_grade"):
        CoreFindings(iron_grade=5, iron_scale=IronScale.PLUS)
    with pytest.raises(ValidationError, match="iron_scale"):
        CoreFindings(iron_grade=2)


def test_variant_needs_hgvs_and_vaf_in_percent() -> None:
    with pytest.raises(ValidationError, match="hgvs"):
        NGSVariant("FLT3", "D835Y", VAF.parse("12"))
    variant = NGSVariant("FLT3", "c.2503G>T", VAF.parse("0.12", "1"))
    assert variant.vaf.value == Decimal(12) and variant.analyte == "FLT3 c.2503G>T"


def test_karyotype_abnormal_metaphases_bounded() -> None:
    with pytest.raises(ValidationError, match="abnormal_metaphases"):
        Karyotype("46,XX[20]", metaphases=20, abnormal_metaphases=21)


def test_every_kind_is_registered_and_coded_where_the_spec_gives_a_code() -> None:
    assert set(RESULT_TYPES) == set(ResultKind)
    assert RESULT_TYPES[ResultKind.FLOW_MRD].code is not None
    assert RESULT_TYPES[ResultKind.FLOW_MRD].code.code == "67128-9"  # type: ignore[union-attr]
    assert all(
        cls.code is None or cls.code.system is CodeSystem.LOINC for cls in RESULT_TYPES.values()
    )


def test_headline_of_chimerism_is_donor_percent() -> None:
    value = Chimerism(q.percent("donor_percent").parse("97.5"))
    assert headline(value) == value.donor_percent
