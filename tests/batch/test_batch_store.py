"""``trephine batch flow-mrd --specimens MAP.csv [--store]``: each tube's result as a DRAFT on its
specimen, exactly as ``flow mrd --specimen --store`` records it; map and specimens checked first."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.domain import Patient, PatientIdentity, Procedure, Sex, Site, Specimen, SpecimenType
from trephine.domain.results import FlowMRD, ResultKind
from trephine.services import audit, patients, procedures, results
from trephine.store.database import Database

pytestmark = pytest.mark.shared_data

cli = CliRunner()
AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)
GATES = ["--denominator", "CD45pos", "--abnormal", "CD34pos_CD117pos"]


@pytest.fixture
def seeded(database: Database) -> Database:
    """Patient P001 with aspirates A-1, A-2 and a trephine core C-1 (no flow MRD on cores)."""
    with database.unit_of_work("seed") as uow:
        patients.register_patient(
            uow,
            Patient("P001", Sex.FEMALE, 1961),
            PatientIdentity("Synthetic Person", "MRN-0001", dt.date(1961, 5, 6)),
        )
        proc_id, _ = procedures.record_procedure(
            uow, "P001", Procedure(AT, Site.POSTERIOR_ILIAC_CREST)
        )
        for acc, first in (("A-1", True), ("A-2", False)):
            procedures.add_specimen(
                uow, "P001", Specimen(acc, SpecimenType.ASPIRATE, AT, first_pull=first), proc_id
            )
        procedures.add_specimen(
            uow,
            "P001",
            Specimen("C-1", SpecimenType.TREPHINE_CORE, AT, core_length_mm=Decimal("18")),
            proc_id,
        )
    return database


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def write_map(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("file,specimen\n" + "".join(f"{f},{s}\n" for f, s in rows))
    return path


def run(tubes: list[Path], gating_ml: Path, db: Database, *extra: str) -> tuple[int, str]:
    res = cli.invoke(
        app,
        [
            *("batch", "flow-mrd", *map(str, tubes), "--gating-ml", str(gating_ml), *GATES),
            *("--threads", "--no-progress", "--database-url", url_of(db), *extra),
        ],
    )
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stderr


def stored_flow(db: Database) -> list[FlowMRD]:
    with db.unit_of_work("reader") as uow:
        rows = results.patient_results(uow, "P001", (ResultKind.FLOW_MRD,))
    return [r.value for r in rows if isinstance(r.value, FlowMRD)]


def test_store_records_each_tube_on_its_specimen(
    seeded: Database, tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    tubes = [tube_dir / "tube_a.fcs", tube_dir / "tube_b.fcs"]
    spec = write_map(tmp_path / "map.csv", [("tube_a.fcs", "A-1"), ("tube_b.fcs", "A-2")])
    out = tmp_path / "rows.json"
    args = ["--specimens", str(spec), "--method", "LAIP", "--out", str(out)]
    code, err = run(tubes, gating_ml, seeded, *args, "--store", "--actor", "flow-lab")
    assert code == 0, err
    rows = json.loads(out.read_text())["files"]
    assert [r["specimen"] for r in rows] == ["A-1", "A-2"]
    assert all(r["stored"].startswith("stored: result ") for r in rows)
    by_file = {v.source_file: v for v in stored_flow(seeded)}
    assert sorted(by_file) == ["tube_a.fcs", "tube_b.fcs"]
    for row in rows:
        value = by_file[Path(row["file"]).name]
        assert str(value.mrd.value) == row["mrd_percent"]
        assert value.events_acquired == row["denominator_events"]
        assert value.abnormal_events == row["abnormal_events"]
        assert value.source_sha256 == row["sha256"]
    # The same batch again records nothing new (idempotent, as flow mrd --store).
    code, err = run(tubes, gating_ml, seeded, *args, "--store")
    assert code == 0, err
    assert all(
        r["stored"].startswith("already stored") for r in json.loads(out.read_text())["files"]
    )
    assert len(stored_flow(seeded)) == 2


def test_without_store_specimens_are_only_checked(
    seeded: Database, tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    spec = write_map(tmp_path / "map.csv", [("tube_a.fcs", "A-1")])
    out = tmp_path / "rows.csv"
    code, err = run(
        [tube_dir / "tube_a.fcs"], gating_ml, seeded,
        "--specimens", str(spec), "--method", "DfN", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "checked; nothing stored" in out.read_text()
    assert stored_flow(seeded) == []


@pytest.mark.parametrize(
    ("rows", "extra", "needle"),
    [
        ([("tube_a.fcs", "NOPE-9")], [], "'NOPE-9' not found"),
        ([("tube_a.fcs", "C-1")], [], "aspirate"),
        ([("tube_z.fcs", "A-1")], [], "not one of the input files"),
        ([("tube_a.fcs", "A-1"), ("tube_a.fcs", "A-2")], [], "listed twice"),
        ([], [], "no specimen for"),
        ([("tube_a.fcs", "A-1")], ["--method", "FISH"], "LAIP+DfN"),
    ],
)
def test_bad_maps_and_specimens_refuse_before_any_work(
    seeded: Database,
    tube_dir: Path,
    gating_ml: Path,
    tmp_path: Path,
    rows: list[tuple[str, str]],
    extra: list[str],
    needle: str,
) -> None:
    with seeded.unit_of_work("reader") as uow:
        before = len(audit.events(uow))
    spec = write_map(tmp_path / "map.csv", rows)
    method = extra or ["--method", "LAIP"]
    out = tmp_path / "rows.csv"
    code, err = run(
        [tube_dir / "tube_a.fcs"], gating_ml, seeded,
        "--specimens", str(spec), *method, "--store", "--out", str(out),
    )  # fmt: skip
    assert code == 2 and needle in err, err
    assert not out.exists()
    assert stored_flow(seeded) == []
    with seeded.unit_of_work("reader") as uow:
        assert len(audit.events(uow)) == before


def test_store_needs_a_map(seeded: Database, tube_dir: Path, gating_ml: Path) -> None:
    code, err = run([tube_dir / "tube_a.fcs"], gating_ml, seeded, "--store", "--method", "LAIP")
    assert code == 2 and "--specimens" in err
