"""Myeloma paraprotein rows in the import template: units converted at ingestion, bad values
refused with the allowed ones."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from trephine.domain.results import Immunofixation, LightChain, Paraprotein
from trephine.errors import ImportRejected
from trephine.importers.clinical import import_path
from trephine.services import results
from trephine.store.database import Database

ROWS = [
    "EX24-0003,paraprotein,,isotype,IgG kappa,,,,verified",
    "EX24-0003,paraprotein,,serum_m_protein,32,g/L,,,verified",
    "EX24-0003,paraprotein,,urine_m_protein,0.45,g/24h,,,verified",
    "EX24-0003,paraprotein,,involved_light_chain,kappa,,,,verified",
    "EX24-0003,paraprotein,,involved_flc,452,mg/L,,,verified",
    "EX24-0003,paraprotein,,uninvolved_flc,8.1,mg/L,,,verified",
    "EX24-0003,paraprotein,,serum_ife,positive,,,,verified",
    "EX24-0003,paraprotein,,urine_ife,positive,,,,verified",
    "EX24-0003,paraprotein,,plasmacytoma,absent,,,,verified",
]


def _append(example_dir: Path, rows: list[str]) -> None:
    with (example_dir / "results.csv").open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{r}\n" for r in rows))


def test_paraprotein_imports_with_units_converted(database: Database, example_dir: Path) -> None:
    _append(example_dir, ROWS)
    import_path(database, example_dir, "importer")
    with database.unit_of_work("reader") as uow:
        stored = results.patient_results(uow, "EX-001")
    (pp,) = [r.value for r in stored if isinstance(r.value, Paraprotein)]
    assert pp.serum_m_protein is not None and pp.serum_m_protein.value == Decimal("3.2")
    assert pp.urine_m_protein is not None and pp.urine_m_protein.value == Decimal("450")
    # mg/L as analysers report → mg/dL, the unit of the IMWG thresholds.
    assert pp.involved_flc is not None and pp.involved_flc.value == Decimal("45.2")
    assert pp.uninvolved_flc is not None and pp.uninvolved_flc.value == Decimal("0.81")
    assert pp.involved_light_chain is LightChain.KAPPA
    assert pp.serum_ife is Immunofixation.POSITIVE
    assert pp.flc_ratio is not None and round(pp.flc_ratio, 1) == Decimal("55.8")


def test_unknown_flc_unit_is_refused_naming_the_allowed_units(
    database: Database, example_dir: Path
) -> None:
    rows = [r.replace("452,mg/L", "452,g/L") for r in ROWS]
    _append(example_dir, rows)
    with pytest.raises(ImportRejected) as info:
        import_path(database, example_dir, "importer")
    text = str(info.value)
    assert "results.csv" in text and "mg/dL" in text and "mg/L" in text
