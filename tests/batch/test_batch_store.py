"""``trephine batch flow-mrd --specimens MAP.csv [--store] [--store-populations GATE,…]``: each
tube's result (and gated populations) as DRAFTs on its specimen, exactly as ``flow mrd --specimen
--store`` and ``flow gate --store-populations`` record them, all or nothing per tube; map,
specimens and population gates checked first."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.domain.results import FlowMRD, Population, PopulationMethod, ResultKind
from trephine.services import audit, results
from trephine.services.views import AuditEvent, StoredResult
from trephine.store.database import Database
from trephine.workflow import ResultState

pytestmark = pytest.mark.shared_data

cli = CliRunner()
GATES = ["--denominator", "CD45pos", "--abnormal", "CD34pos_CD117pos"]


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


# --------------------------------------------------------------------------- populations

POPS = "Blasts,CD34pos_CD117pos=CD34+ progenitors"


def stored_populations(db: Database, accession: str | None = None) -> list[StoredResult]:
    with db.unit_of_work("reader") as uow:
        rows = results.patient_results(uow, "P001", (ResultKind.POPULATION,))
    return [r for r in rows if accession is None or r.accession == accession]


def result_events(db: Database) -> list[AuditEvent]:
    with db.unit_of_work("reader") as uow:
        return list(audit.events(uow, "result"))


def test_store_populations_records_each_tubes_gates_as_drafts_on_its_specimen(
    seeded: Database, tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    tubes = [tube_dir / "tube_a.fcs", tube_dir / "tube_b.fcs"]
    spec = write_map(tmp_path / "map.csv", [("tube_a.fcs", "A-1"), ("tube_b.fcs", "A-2")])
    out = tmp_path / "rows.json"
    args = ["--specimens", str(spec), "--method", "LAIP", "--store-populations", POPS]
    code, err = run(tubes, gating_ml, seeded, *args, "--store", "--out", str(out),
                    "--actor", "flow-lab")  # fmt: skip
    assert code == 0, err
    rows = json.loads(out.read_text())["files"]
    assert all(r["stored"].endswith("populations: 2 stored, 0 already stored") for r in rows)
    events = result_events(seeded)
    for row, acc in zip(rows, ["A-1", "A-2"], strict=True):
        # Counts are what `flow gate` counts for the same tube.
        single = cli.invoke(app, ["flow", "gate", row["file"], "--gating-ml", str(gating_ml),
                                  "--json"])  # fmt: skip
        counts = {g: v["count"] for g, v in json.loads(single.stdout)["gates"].items()}
        by_gate = {r.value.source_label: r for r in stored_populations(seeded, acc)}
        assert sorted(by_gate) == ["Blasts", "CD34pos_CD117pos"]
        blasts, cd34 = by_gate["Blasts"].value, by_gate["CD34pos_CD117pos"].value
        assert isinstance(blasts, Population) and isinstance(cd34, Population)
        assert (blasts.population, blasts.count, blasts.parent, blasts.parent_count) == (
            "blasts",
            counts["Blasts"],
            "CD45+ cells",
            counts["CD45pos"],
        )
        assert (cd34.population, cd34.count, cd34.parent, cd34.parent_count) == (
            "CD34+ progenitors",
            counts["CD34pos_CD117pos"],
            "blasts",
            counts["Blasts"],
        )
        assert cd34.total_count == counts["CD45pos"]
        assert (
            cd34.source_sha256
            == row["sha256"]
            == hashlib.sha256(Path(row["file"]).read_bytes()).hexdigest()
        )
        assert all(r.state is ResultState.DRAFT and r.created_by == "flow-lab"
                   for r in by_gate.values())  # fmt: skip
        assert {str(r.id) for r in by_gate.values()} <= {
            e.entity_id for e in events if e.action == "create"
        }
        assert [p["gate"] for p in row["populations"]] == ["Blasts", "CD34pos_CD117pos"]
        assert row["populations"][0]["percent_of_parent"]["n"] == counts["CD45pos"]
        # One code path: the single-file command finds the very same values already stored.
        again = cli.invoke(app, [
            "flow", "gate", row["file"], "--gating-ml", str(gating_ml), "--json",
            "--store-populations", POPS, "--specimen", acc, "--database-url", url_of(seeded),
        ])  # fmt: skip
        assert again.exit_code == 0, again.stderr
        assert [p["created"] for p in json.loads(again.stdout)["stored"]["populations"]] == [
            False,
            False,
        ]
    assert len(stored_flow(seeded)) == 2
    # The same night's batch again: nothing new, no new audit events.
    before = len(result_events(seeded))
    code, err = run(tubes, gating_ml, seeded, *args, "--store", "--out", str(out))
    assert code == 0, err
    assert all(
        r["stored"].startswith("already stored")
        and r["stored"].endswith("populations: 0 stored, 2 already stored")
        for r in json.loads(out.read_text())["files"]
    )
    assert len(stored_populations(seeded)) == 4
    assert len(result_events(seeded)) == before


def test_store_populations_without_store_keeps_mrd_to_a_check(
    seeded: Database, tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    spec = write_map(tmp_path / "map.csv", [("tube_a.fcs", "A-1")])
    out = tmp_path / "rows.csv"
    code, err = run(
        [tube_dir / "tube_a.fcs"], gating_ml, seeded, "--specimens", str(spec),
        "--method", "LAIP", "--store-populations", "Blasts", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    text = out.read_text()
    assert "MRD checked, not stored (add --store); populations: 1 stored" in text
    assert "blasts " in text and "of CD45+ cells" in text  # the populations column
    assert stored_flow(seeded) == []
    assert [r.value.source_label for r in stored_populations(seeded)] == ["Blasts"]


def test_a_tube_that_cannot_be_stored_stores_nothing_of_that_tube(
    seeded: Database, tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    """All or nothing per tube: A-2 already has signed-out blasts with another count, so
    tube_b's populations are refused, and its MRD result is not stored either; tube_a is."""
    signed = Population("blasts", 7, "CD45+ cells", 1000, PopulationMethod.FLOW)
    with seeded.unit_of_work("lab") as uow:
        results.record_result(uow, "A-2", signed, verify=True)
    tubes = [tube_dir / "tube_a.fcs", tube_dir / "tube_b.fcs"]
    spec = write_map(tmp_path / "map.csv", [("tube_a.fcs", "A-1"), ("tube_b.fcs", "A-2")])
    out = tmp_path / "rows.json"
    code, err = run(
        tubes, gating_ml, seeded, "--specimens", str(spec), "--method", "LAIP", "--store",
        "--store-populations", POPS, "--out", str(out),
    )  # fmt: skip
    assert code == 1
    a, b = json.loads(out.read_text())["files"]
    assert a["error"] is None and a["stored"].startswith("stored: result")
    assert b["stored"] == "not stored" and b["error_type"] == "Conflict"
    assert "tube_b.fcs: not stored on A-2" in b["error"] and "amendment" in b["error"]
    assert b["mrd_percent"] is not None  # the row keeps its result
    assert "tube_b.fcs: not stored on A-2" in err
    assert [v.source_file for v in stored_flow(seeded)] == ["tube_a.fcs"]
    on_a2 = stored_populations(seeded, "A-2")
    assert [r.value for r in on_a2] == [signed]


@pytest.mark.parametrize(
    ("pops", "rows", "needle"),
    [
        # Every unknown gate named at once, with the gates the strategy has.
        (
            "Blasts,CD4,Tregs",
            [("tube_a.fcs", "A-1")],
            "gates: 'CD4, Tregs' is not allowed (not in the strategy of",
        ),
        ("Blasts,CD4", [("tube_a.fcs", "A-1")], "allowed: Blasts, CD34pos_CD117pos, CD45pos"),
        ("CD34pos_CD117pos", [("tube_a.fcs", "A-1")], "maps to no population"),
        ("Blasts=unicorns", [("tube_a.fcs", "A-1")], "'unicorns' is not allowed"),
        ("Blasts", [("tube_a.fcs", "NOPE-9")], "'NOPE-9' not found"),
    ],
)
def test_bad_population_requests_refuse_before_any_work(
    seeded: Database,
    tube_dir: Path,
    gating_ml: Path,
    tmp_path: Path,
    pops: str,
    rows: list[tuple[str, str]],
    needle: str,
) -> None:
    before = len(result_events(seeded))
    spec = write_map(tmp_path / "map.csv", rows)
    out = tmp_path / "rows.csv"
    code, err = run(
        [tube_dir / "tube_a.fcs"], gating_ml, seeded, "--specimens", str(spec),
        "--method", "LAIP", "--store", "--store-populations", pops, "--out", str(out),
    )  # fmt: skip
    assert code == 2 and needle in err, err
    assert not out.exists()
    assert stored_populations(seeded) == [] and stored_flow(seeded) == []
    assert len(result_events(seeded)) == before


def test_store_populations_needs_a_map(seeded: Database, tube_dir: Path, gating_ml: Path) -> None:
    code, err = run([tube_dir / "tube_a.fcs"], gating_ml, seeded, "--store-populations", "Blasts")
    assert code == 2 and "--specimens" in err
