"""Issue 14 §1: ``population`` and ``measurement`` results — the domain's checks, the import
template (all-or-nothing, located refusals), the JSON shape with Wilson intervals and Cell
Ontology ids, and the lifecycle (draft → verified → amended) with its audit trail."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from trephine.analysis.stats import wilson
from trephine.domain.populations import CELL_TYPES, MEASUREMENT_INDICES, cell_type_for
from trephine.domain.quantity import Quantity
from trephine.domain.results import (
    Measurement,
    MeasurementMethod,
    Population,
    PopulationMethod,
    ResultKind,
)
from trephine.errors import ImportRejected, ValidationError
from trephine.importers.amendment import Assignment, amended_value
from trephine.importers.clinical import import_path
from trephine.present import results as present
from trephine.services import results
from trephine.store.codec import decode_result, encode_result
from trephine.store.database import Database

ROWS = [
    "EX24-0001,population,treg,population,regulatory T cells,,,,draft",
    "EX24-0001,population,treg,count,310,,,,draft",
    "EX24-0001,population,treg,parent,CD4 T cells,,,,draft",
    "EX24-0001,population,treg,parent_count,5000,,,,draft",
    "EX24-0001,population,treg,total,CD45+ cells,,,,draft",
    "EX24-0001,population,treg,total_count,40000,,,,draft",
    "EX24-0001,population,treg,method,flow panel,,,,draft",
    "EX24-0001,population,treg,panel,Treg 8-colour,,,,draft",
    "EX24-0002,measurement,mvd,microvessel_density,14.2,vessels/mm2,,,verified",
    "EX24-0002,measurement,mvd,method,image analysis,,,,verified",
    "EX24-0002,measurement,mvd,region,intertrabecular,,,,verified",
    "EX24-0002,measurement,mvd,stain,CD34,,,,verified",
    "EX24-0002,measurement,fat,adipocyte_area_fraction,0.62,1,,,verified",
    "EX24-0002,measurement,fat,method,point counting,,,,verified",
]


def _append(example_dir: Path, rows: list[str]) -> None:
    with (example_dir / "results.csv").open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{r}\n" for r in rows))


def _treg(**kw: object) -> Population:
    args: dict[str, object] = {
        "population": "regulatory T cells",
        "count": 310,
        "parent": "CD4 T cells",
        "parent_count": 5000,
        "method": PopulationMethod.FLOW,
        "total": "CD45+ cells",
        "total_count": 40000,
    }
    args.update(kw)
    return Population(**args)  # type: ignore[arg-type]


def test_population_percentages_are_exact_fractions_of_the_counts() -> None:
    treg = _treg()
    assert treg.percent_of_parent == Decimal("6.2")
    assert treg.percent_of_total == Decimal("0.775")
    assert treg.analyte == "regulatory T cells (flow panel)"


def test_population_parent_that_is_a_total_is_the_total_too() -> None:
    nk = Population("NK cells", 120, "CD45+ cells", 2000, PopulationMethod.SINGLE_CELL)
    assert nk.total == "CD45+ cells" and nk.total_count == 2000
    assert nk.percent_of_total == Decimal(6)


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        ({"population": "Th17 cells"}, "population", "regulatory T cells"),
        ({"parent": "CD3"}, "parent", "nucleated cells"),
        ({"count": 5001}, "count", "≤ parent_count (5000)"),
        ({"parent_count": 50000}, "parent_count", "≤ total_count (40000)"),
        ({"parent_count": 0, "count": 0}, "parent_count", "> 0"),
        ({"total": "all events"}, "total", "CD45+ cells"),
        ({"total_count": None}, "total_count", "together with total"),
        ({"parent": "regulatory T cells"}, "parent", "other than"),
        ({"source_sha256": "ABC"}, "source_sha256", "SHA-256"),
        ({"count": -1}, "count", "0–"),
    ],
)
def test_population_refuses_bad_values_naming_field_and_allowed(
    change: dict[str, object], field: str, allowed: str
) -> None:
    with pytest.raises(ValidationError) as info:
        _treg(**change)
    assert info.value.field == field
    assert allowed in str(info.value)


def test_measurement_checks_index_unit_and_range() -> None:
    mvd = Measurement.of(
        "microvessel density", Quantity(Decimal("14.2"), "vessels/mm2"), MeasurementMethod.IMAGE
    )
    assert mvd.index == "microvessel density" and mvd.analyte == "microvessel density (whole core)"
    with pytest.raises(ValidationError, match="index"):
        Measurement.of("vessel count", Quantity(Decimal(1), "%"), MeasurementMethod.IMAGE)
    with pytest.raises(ValidationError, match="unit"):
        Measurement.of("microvessel density", Quantity(Decimal(1), "%"), MeasurementMethod.IMAGE)
    with pytest.raises(ValidationError, match="0–100 %"):
        Measurement.of(
            "adipocyte area fraction", Quantity(Decimal(140), "%"), MeasurementMethod.IMAGE
        )
    with pytest.raises(ValidationError, match="exactly one index"):
        Measurement(
            {
                "cellularity": Quantity(Decimal(30), "%"),
                "adipocyte area fraction": Quantity(Decimal(60), "%"),
            },
            MeasurementMethod.IMAGE,
        )


def test_both_kinds_round_trip_through_the_store_codec() -> None:
    treg = _treg(source_sha256="a" * 64, flags=("few events",))
    assert decode_result("population", encode_result(treg)) == treg
    fat = Measurement.of(
        "adipocyte area fraction",
        Quantity(Decimal("62.5"), "%"),
        MeasurementMethod.IMAGE,
        area_mm2=Decimal("1.44"),
    )
    assert decode_result("measurement", encode_result(fat)) == fat


def test_vocabulary_maps_labels_synonyms_and_ids() -> None:
    assert cell_type_for("Tregs") is CELL_TYPES["regulatory T cells"]
    assert cell_type_for("cd8+ t-cells") is CELL_TYPES["CD8 T cells"]
    assert cell_type_for("CL:0000623") is CELL_TYPES["NK cells"]
    assert cell_type_for("Monocyte") is CELL_TYPES["monocytes"]
    assert cell_type_for("unicorn cells") is None
    # Every entry has a CL id; the unverified ones say so wherever shown.
    for cell in CELL_TYPES.values():
        assert cell.cl_id.startswith("CL:") and len(cell.cl_id) == 10
        assert cell.cl_text.endswith("(unverified)") != cell.cl_verified
    assert CELL_TYPES["monocytic MDSC"].cl_verified is False


def test_json_detail_carries_wilson_intervals_and_the_cell_ontology_id() -> None:
    detail = present.detail(_treg())
    derived = detail["derived"]
    assert derived["cell_ontology"] == {
        "id": "CL:0000815",
        "label": "regulatory T cell",
        "verified": True,
    }
    expected = wilson(310, 5000)
    of_parent = derived["intervals"]["of_parent"]
    assert float(of_parent["ci95_low"]) == pytest.approx(expected.lower * 100, rel=1e-5)
    assert float(of_parent["ci95_high"]) == pytest.approx(expected.upper * 100, rel=1e-5)
    assert of_parent["text"] == "6.2 % (95 % CI 5.6–6.9 %)"
    assert derived["intervals"]["of_total"]["denominator"] == "CD45+ cells"
    assert "6.2 % (95 % CI" in present.summary(_treg())
    assert present.label(_treg()) == "Regulatory T cells (flow panel)"


def test_import_stores_both_kinds_and_amend_keeps_the_lifecycle(
    database: Database, example_dir: Path
) -> None:
    _append(example_dir, ROWS)
    import_path(database, example_dir, "importer")
    with database.unit_of_work("reader") as uow:
        stored = results.patient_results(
            uow, "EX-001", (ResultKind.POPULATION, ResultKind.MEASUREMENT)
        )
    by_kind = {(r.kind, r.analyte): r for r in stored}
    treg = by_kind[("population", "regulatory T cells (flow panel)")]
    assert treg.state == "draft"
    assert isinstance(treg.value, Population) and treg.value.panel == "Treg 8-colour"
    fat = by_kind[("measurement", "adipocyte area fraction (whole core)")].value
    assert isinstance(fat, Measurement) and fat.value.value == Decimal("62")
    assert MEASUREMENT_INDICES["microvessel density"].measure.unit == "vessels/mm2"
    mvd = by_kind[("measurement", "microvessel density (intertrabecular)")]
    assert mvd.state == "verified"

    # Amending a signed-out measurement makes a new version; the old one stays readable.
    assert isinstance(mvd.value, Measurement)
    new_value = amended_value(mvd.value, [Assignment("microvessel_density", "15.0")])
    assert isinstance(new_value, Measurement) and new_value.value.value == Decimal("15.0")
    with pytest.raises(ValidationError, match="exactly one index"):
        amended_value(mvd.value, [Assignment("cellularity", "40")])


def test_import_refuses_an_unknown_population_naming_row_and_vocabulary(
    database: Database, example_dir: Path
) -> None:
    rows = [r.replace("regulatory T cells", "Th17 cells") for r in ROWS[:8]]
    _append(example_dir, rows)
    with pytest.raises(ImportRejected) as info:
        import_path(database, example_dir, "importer")
    text = str(info.value)
    assert "results.csv, row " in text and "Th17 cells" in text
    assert "regulatory T cells" in text and "CD34+ progenitors" in text
    with database.unit_of_work("reader") as uow:  # all or nothing: not even the patient
        assert results.list_results(uow, kinds=(ResultKind.POPULATION,)) == []


def test_import_refuses_a_measurement_in_a_wrong_unit(
    database: Database, example_dir: Path
) -> None:
    _append(
        example_dir,
        [
            "EX24-0002,measurement,1,microvessel_density,14,%,,,verified",
            "EX24-0002,measurement,1,method,image analysis,,,,verified",
        ],
    )
    with pytest.raises(ImportRejected) as info:
        import_path(database, example_dir, "importer")
    assert "vessels/mm2" in str(info.value) and "unit" in str(info.value)
