"""Issue-13 inputs through the import template: red-cell indices, CD19 counts, platelet
transfusions and PNH clone on the blood count; lymphoid nodules, megaloblastic change and
plasma-cell clonality on the core; iron studies and marrow infection tests as result kinds.
Bad values are refused naming the file, row, field and what is allowed (all-or-nothing)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from trephine.domain.results import (
    AntigenStatus,
    BloodCount,
    CoreFindings,
    FlowMRD,
    InfectionOutcome,
    InfectionTest,
    InfectionTestType,
    IronStudies,
)
from trephine.errors import ImportRejected, ValidationError
from trephine.importers.clinical import import_path
from trephine.services import results
from trephine.store.database import Database

ROWS = [
    "EX24-0003,blood_count,,mcv,104,fL,,,verified",
    "EX24-0003,blood_count,,rdw,16.5,%,,,verified",
    "EX24-0003,blood_count,,cd19_count,0.12,10^9/L,,,verified",
    "EX24-0003,blood_count,,cd19_percent,3.5,%,,,verified",
    "EX24-0003,blood_count,,platelet_transfusion,yes,,,,verified",
    "EX24-0003,blood_count,,pnh_clone,1.2,%,,,verified",
    "EX24-0002,core,,lymphoid_nodules,no,,,,verified",
    "EX24-0002,core,,megaloblastic_change,yes,,,,verified",
    "EX24-0002,core,,plasma_cell_kappa_lambda,5.2,,,,verified",
    "EX24-0002,core,,plasma_cells_assessed,150,,,,verified",
    "EX24-0003,iron_studies,,ferritin,1450,ng/mL,,,verified",
    "EX24-0003,iron_studies,,transferrin_saturation,82,%,,,verified",
    "EX24-0003,iron_studies,,liver_iron,9.4,mg/g,,,verified",
    "EX24-0002,infection_test,1,test,acid-fast stain,,,,verified",
    "EX24-0002,infection_test,1,outcome,positive,,,,verified",
    "EX24-0002,infection_test,1,organism,Mycobacterium tuberculosis complex,,,,verified",
    "EX24-0004,flow_mrd,,cd19_on_blasts,negative,,,,verified",
]


def _append(example_dir: Path, rows: list[str]) -> None:
    with (example_dir / "results.csv").open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{r}\n" for r in rows))


def test_issue13_fields_import(database: Database, example_dir: Path) -> None:
    _append(example_dir, ROWS)
    import_path(database, example_dir, "importer")
    with database.unit_of_work("reader") as uow:
        stored = [r.value for r in results.patient_results(uow, "EX-001")]
    (count,) = [v for v in stored if isinstance(v, BloodCount) and v.mcv is not None]
    assert count.mcv is not None and count.mcv.value == Decimal(104)
    assert count.cd19_count is not None and count.cd19_count.value == Decimal(120)
    assert count.platelet_transfusion is True
    assert count.pnh_clone is not None and count.pnh_clone.value == Decimal("1.2")
    (core,) = [v for v in stored if isinstance(v, CoreFindings)]
    assert core.megaloblastic_change is True and core.lymphoid_nodules is False
    assert core.plasma_cell_kappa_lambda == Decimal("5.2") and core.plasma_cells_assessed == 150
    (iron,) = [v for v in stored if isinstance(v, IronStudies)]
    assert iron.ferritin is not None and iron.ferritin.value == Decimal(1450)
    (test,) = [v for v in stored if isinstance(v, InfectionTest)]
    assert test.test is InfectionTestType.ACID_FAST_STAIN
    assert test.outcome is InfectionOutcome.POSITIVE
    (flow,) = [v for v in stored if isinstance(v, FlowMRD)]
    assert flow.cd19_on_blasts is AntigenStatus.NEGATIVE


def test_unknown_infection_test_is_refused_naming_the_choices(
    database: Database, example_dir: Path
) -> None:
    _append(
        example_dir,
        [
            "EX24-0002,infection_test,1,test,gram stain,,,,verified",
            "EX24-0002,infection_test,1,outcome,negative,,,,verified",
        ],
    )
    with pytest.raises(ImportRejected) as info:
        import_path(database, example_dir, "importer")
    text = str(info.value)
    assert "results.csv, row " in text and "'gram stain' is not allowed" in text
    assert "acid-fast stain" in text and "fungal stain" in text


def test_mcv_out_of_range_is_refused(database: Database, example_dir: Path) -> None:
    _append(example_dir, ["EX24-0003,blood_count,,mcv,1040,fL,,,verified"])
    with pytest.raises(ImportRejected) as info:
        import_path(database, example_dir, "importer")
    assert "mcv" in str(info.value) and "0–200 fL" in str(info.value)


def test_clonality_ratio_needs_the_cells_it_was_counted_on() -> None:
    with pytest.raises(ValidationError, match="plasma_cells_assessed"):
        CoreFindings(plasma_cell_kappa_lambda=Decimal(5))


def test_organism_only_on_a_positive_test() -> None:
    with pytest.raises(ValidationError, match="organism"):
        InfectionTest(InfectionTestType.FUNGAL_STAIN, InfectionOutcome.NEGATIVE, "Candida")


def test_iron_studies_need_a_value() -> None:
    with pytest.raises(ValidationError, match="ferritin"):
        IronStudies()
