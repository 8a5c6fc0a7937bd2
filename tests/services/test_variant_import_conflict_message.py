"""``clonal import`` names the fields that differ from a signed-out variant (acceptance audit).

Found from the shell: a file with the same VAF but another depth was refused with "a signed-out
version says VAF 41.00 %, the file 41.00 %" — a message that names no real difference.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assess_case import biopsy, marrow_items, seed_aml_patient
from trephine.cli.main import app
from trephine.domain.results import ResultKind
from trephine.services import results
from trephine.store.database import Database

HEADER = "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf\n"


def _import(url: str, path: Path, depth: int, alt: int) -> tuple[int, str]:
    path.write_text(HEADER + f"P1\tA0\t0\tNPM1\tc.860_863dup\t{alt}\t{depth}\t0.45\n")
    res = CliRunner().invoke(app, ["clonal", "import", str(path), "--database-url", url])
    return res.exit_code, res.output


@pytest.fixture
def url(database: Database) -> str:
    seed_aml_patient(database)
    biopsy(database, 150, 3, marrow_items(40))
    return database.engine.url.render_as_string(hide_password=False)


def test_conflict_names_the_differing_field_and_its_column(url: str, tmp_path: Path) -> None:
    assert _import(url, tmp_path / "a.tsv", 1000, 450)[0] == 0
    db = Database(url)
    with db.unit_of_work("t") as uow:
        (npm1,) = results.patient_results(uow, "P1", (ResultKind.NGS_VARIANT,))
        results.verify_result(uow, npm1.id)
    db.dispose()
    # Same VAF, other read counts: the refusal must say depth/alt_count, not "VAF 45 vs 45".
    code, out = _import(url, tmp_path / "b.tsv", 2000, 900)
    assert code == 2, out
    assert "column 'depth'" in out, out
    assert "depth 1000 signed out, 2000 in the file" in out, out
    assert "alt_count 450 signed out, 900 in the file" in out, out
    assert "vaf" not in out.split("row 2", 1)[1].split("—")[0].lower(), out
    # The identical file stays idempotent.
    code, out = _import(url, tmp_path / "c.tsv", 1000, 450)
    assert code == 0 and "1 already present" in out, out
