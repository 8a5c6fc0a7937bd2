"""``trephine batch flow-gate``: the batch of ``flow gate`` - every gate of every tube counted on
Dask, no MRD - and with ``--specimens MAP.csv --store-populations GATE,…`` the gated populations
of each tube stored as DRAFTs on its specimen (an immune panel's tubes have no MRD gates), all
or nothing per tube, through the code ``flow gate --store-populations`` and ``batch flow-mrd``
use."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.batch import runner as batch_runner
from trephine.batch.flow_mrd import GateSettings, expand_inputs, plan_gatingml
from trephine.cli.main import app
from trephine.domain.results import Population, PopulationMethod, ResultKind
from trephine.services import audit, results
from trephine.services.views import StoredResult
from trephine.store.database import Database
from trephine.workflow import ResultState

pytestmark = pytest.mark.shared_data

cli = CliRunner()
POPS = "Blasts,CD34pos_CD117pos=CD34+ progenitors"
DIAMOND = "flow/flowjo_wsp/simple_diamond_example"


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def write_map(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("file,specimen\n" + "".join(f"{f},{s}\n" for f, s in rows))
    return path


def batch(*args: str) -> tuple[int, str, str]:
    res = cli.invoke(app, ["batch", "flow-gate", *args, "--threads", "--no-progress"])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def single_gate(tube: Path, *strategy: str) -> dict[str, dict[str, object]]:
    res = cli.invoke(app, ["flow", "gate", str(tube), *strategy, "--json"])
    assert res.exit_code == 0, res.stderr
    gates: dict[str, dict[str, object]] = json.loads(res.stdout)["gates"]
    return gates


def stored(db: Database, kind: ResultKind, accession: str | None = None) -> list[StoredResult]:
    with db.unit_of_work("reader") as uow:
        rows = results.patient_results(uow, "P001", (kind,))
    return [r for r in rows if accession is None or r.accession == accession]


def result_event_count(db: Database) -> int:
    with db.unit_of_work("reader") as uow:
        return len(audit.events(uow, "result"))


def test_every_tubes_gates_are_counted_as_flow_gate_counts_them(
    tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    out = tmp_path / "day.json"
    code, _, err = batch(str(tube_dir), "--gating-ml", str(gating_ml), "--out", str(out))
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert doc["files_total"] == 3 and doc["files_failed"] == 0
    rows = doc["files"]
    assert [Path(r["file"]).name for r in rows] == ["tube_a.fcs", "tube_b.fcs", "tube_c.fcs"]
    for row in rows:
        assert row["gates"] == single_gate(Path(row["file"]), "--gating-ml", str(gating_ml))
        assert "result" not in row and "mrd_percent" not in row  # no MRD asked, none given
    # The CSV has the gate counts and none of the MRD columns.
    csv_out = tmp_path / "day.csv"
    code, _, err = batch(str(tube_dir), "--gating-ml", str(gating_ml), "--out", str(csv_out))
    assert code == 0, err
    table = list(csv.DictReader(csv_out.open()))
    assert "mrd_percent" not in table[0] and "call" not in table[0]
    counts = single_gate(tube_dir / "tube_b.fcs", "--gating-ml", str(gating_ml))
    assert table[1]["gates"] == "; ".join(f"{g} {v['count']}" for g, v in counts.items())
    # Excel: a sheet "flow gate" with the same columns, and the batch's settings.
    from openpyxl import load_workbook

    xlsx = tmp_path / "day.xlsx"
    code, _, err = batch(str(tube_dir), "--gating-ml", str(gating_ml), "--out", str(xlsx))
    assert code == 0, err
    book = load_workbook(xlsx)
    assert book.sheetnames == ["flow gate", "batch"]
    sheet = list(book["flow gate"].values)
    assert list(sheet[0]) == list(table[0]) and len(sheet) == 4


def test_on_a_dask_cluster_as_in_process(tube_dir: Path, gating_ml: Path) -> None:
    settings = GateSettings()
    tasks = plan_gatingml(expand_inputs([str(tube_dir)]), gating_ml, settings)
    serial = batch_runner.run_serial(tasks, settings)
    with batch_runner.open_client(workers=2, threads=True) as client:
        on_cluster = batch_runner.run_tubes(tasks, settings, client)
    assert [r.to_dict() | {"seconds": 0} for r in on_cluster] == [
        r.to_dict() | {"seconds": 0} for r in serial
    ]
    assert all(r.ok and r.result is None and r.gates for r in serial)


def test_a_corrupt_tube_is_its_own_rows_error(
    tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    day = tmp_path / "day"
    shutil.copytree(tube_dir, day)
    (day / "tube_bb.fcs").write_bytes((tube_dir / "tube_a.fcs").read_bytes()[:5000])
    out = tmp_path / "day.csv"
    code, _, err = batch(str(day), "--gating-ml", str(gating_ml), "--out", str(out))
    assert code == 1
    rows = {Path(r["file"]).name: r for r in csv.DictReader(out.open())}
    assert rows["tube_bb.fcs"]["error_type"] == "ParseError"
    assert "tube_bb.fcs" in rows["tube_bb.fcs"]["error"] and "truncated" in err
    assert all(rows[n]["gates"] and not rows[n]["error"] for n in ("tube_a.fcs", "tube_c.fcs"))


def test_stores_each_tubes_populations_without_mrd(
    seeded: Database,
    tube_dir: Path,
    gating_ml: Path,
    tmp_path: Path,
) -> None:
    tubes = [str(tube_dir / "tube_a.fcs"), str(tube_dir / "tube_b.fcs")]
    spec = write_map(tmp_path / "map.csv", [("tube_a.fcs", "A-1"), ("tube_b.fcs", "A-2")])
    out = tmp_path / "night.json"
    args = [*tubes, "--gating-ml", str(gating_ml), "--specimens", str(spec),
            "--store-populations", POPS, "--panel", "immune-8", "--out", str(out),
            "--database-url", url_of(seeded)]  # fmt: skip
    code, _, err = batch(*args, "--actor", "flow-lab")
    assert code == 0, err
    rows = json.loads(out.read_text())["files"]
    assert [r["stored"] for r in rows] == ["populations: 2 stored, 0 already stored"] * 2
    assert stored(seeded, ResultKind.FLOW_MRD) == []  # no MRD result, not even asked for one
    with seeded.unit_of_work("reader") as uow:
        creates = {e.entity_id for e in audit.events(uow, "result") if e.action == "create"}
    for row, acc in zip(rows, ["A-1", "A-2"], strict=True):
        counts = {g: v["count"] for g, v in row["gates"].items()}
        by_gate = {r.value.source_label: r for r in stored(seeded, ResultKind.POPULATION, acc)}
        assert sorted(by_gate) == ["Blasts", "CD34pos_CD117pos"]
        cd34 = by_gate["CD34pos_CD117pos"].value
        assert isinstance(cd34, Population)
        assert (cd34.population, cd34.count, cd34.parent, cd34.parent_count) == (
            "CD34+ progenitors",
            counts["CD34pos_CD117pos"],
            "blasts",
            counts["Blasts"],
        )
        assert (cd34.total_count, cd34.method, cd34.panel) == (
            counts["CD45pos"],
            PopulationMethod.FLOW,
            "immune-8",
        )
        assert cd34.source_sha256 == row["sha256"] and cd34.source_file == Path(row["file"]).name
        assert all(r.state is ResultState.DRAFT and r.created_by == "flow-lab"
                   for r in by_gate.values())  # fmt: skip
        assert {str(r.id) for r in by_gate.values()} <= creates
        # One code path: the single-file command finds the very same values already stored.
        again = cli.invoke(app, [
            "flow", "gate", row["file"], "--gating-ml", str(gating_ml), "--json", "--panel",
            "immune-8", "--store-populations", POPS, "--specimen", acc,
            "--database-url", url_of(seeded),
        ])  # fmt: skip
        assert again.exit_code == 0, again.stderr
        assert [p["created"] for p in json.loads(again.stdout)["stored"]["populations"]] == [
            False,
            False,
        ]
    # The same night again: nothing new, no audit event.
    before = result_event_count(seeded)
    code, _, err = batch(*args)
    assert code == 0, err
    assert [r["stored"] for r in json.loads(out.read_text())["files"]] == [
        "populations: 0 stored, 2 already stored"
    ] * 2
    assert len(stored(seeded, ResultKind.POPULATION)) == 4
    assert result_event_count(seeded) == before


def test_a_tube_that_cannot_be_stored_stores_none_of_its_populations(
    seeded: Database,
    tube_dir: Path,
    gating_ml: Path,
    tmp_path: Path,
) -> None:
    """A-2 already holds signed-out blasts with another count: tube_b's blasts are refused, so
    its CD34+ progenitors are not stored either; tube_a's populations are."""
    signed = Population("blasts", 7, "CD45+ cells", 1000, PopulationMethod.FLOW)
    with seeded.unit_of_work("lab") as uow:
        results.record_result(uow, "A-2", signed, verify=True)
    spec = write_map(tmp_path / "map.csv", [("tube_a.fcs", "A-1"), ("tube_b.fcs", "A-2")])
    out = tmp_path / "night.csv"
    code, _, err = batch(
        str(tube_dir / "tube_a.fcs"), str(tube_dir / "tube_b.fcs"), "--gating-ml",
        str(gating_ml), "--specimens", str(spec), "--store-populations", POPS,
        "--out", str(out), "--database-url", url_of(seeded),
    )  # fmt: skip
    assert code == 1
    a, b = csv.DictReader(out.open())
    assert a["stored"] == "populations: 2 stored, 0 already stored" and not a["error"]
    assert b["stored"] == "not stored" and b["error_type"] == "Conflict"
    assert "tube_b.fcs: not stored on A-2" in b["error"] and "amendment" in b["error"]
    assert b["gates"]  # the row keeps its counts
    assert "tube_b.fcs: not stored on A-2" in err
    assert [r.value for r in stored(seeded, ResultKind.POPULATION, "A-2")] == [signed]
    assert len(stored(seeded, ResultKind.POPULATION, "A-1")) == 2


@pytest.mark.parametrize(
    ("pops", "rows", "needle"),
    [
        # Unknown gates: every one named, with the document and the gates it has.
        (
            "Blasts,CD4,Tregs",
            [("tube_a.fcs", "A-1")],
            "gates: 'CD4, Tregs' is not allowed (not in the strategy of",
        ),
        ("Tregs", [("tube_a.fcs", "A-1")], "allowed: Blasts, CD34pos_CD117pos, CD45pos, Cells"),
        # A gate whose name is no population: the gate, the document and the vocabulary.
        ("CD34pos_CD117pos", [("tube_a.fcs", "A-1")], "maps to no population: write"),
        ("CD34pos_CD117pos", [("tube_a.fcs", "A-1")], "allowed: B cells, CD34+ progenitors"),
        ("Blasts=unicorns", [("tube_a.fcs", "A-1")], "'unicorns' is not allowed"),
        ("Blasts", [("tube_a.fcs", "NOPE-9")], "'NOPE-9' not found"),
        ("Blasts", [("tube_zz.fcs", "A-1")], "not one of the input files"),
    ],
)
def test_bad_requests_refuse_before_any_tube_is_read(
    seeded: Database,
    tube_dir: Path,
    gating_ml: Path,
    tmp_path: Path,
    pops: str,
    rows: list[tuple[str, str]],
    needle: str,
) -> None:
    before = result_event_count(seeded)
    spec = write_map(tmp_path / "map.csv", rows)
    out = tmp_path / "night.csv"
    code, _, err = batch(
        str(tube_dir / "tube_a.fcs"), "--gating-ml", str(gating_ml), "--specimens", str(spec),
        "--store-populations", pops, "--out", str(out), "--database-url", url_of(seeded),
    )  # fmt: skip
    assert code == 2 and needle in err, err
    if "strategy" in needle or "population" in needle:
        assert str(gating_ml) in err  # the document every tube is gated with
    assert not out.exists()
    assert stored(seeded, ResultKind.POPULATION) == []
    assert result_event_count(seeded) == before


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--store-populations", "Blasts"], "--specimens MAP.csv with --store-populations"),
        (["--specimens", "map.csv"], "--store-populations"),
        (["--total-gate", "CD45pos"], "--store-populations GATE"),
    ],
)
def test_options_go_together(
    tube_dir: Path, gating_ml: Path, tmp_path: Path, extra: list[str], needle: str
) -> None:
    write_map(tmp_path / "map.csv", [("tube_a.fcs", "A-1")])
    extra = [str(tmp_path / e) if e == "map.csv" else e for e in extra]
    code, _, err = batch(str(tube_dir / "tube_a.fcs"), "--gating-ml", str(gating_ml), *extra)
    assert code == 2 and needle in err, err


def test_flowjo_a_sample_without_the_populations_is_that_tubes_row_error(
    real_data: Path, tube_dir: Path, tmp_path: Path
) -> None:
    """Each file gated by its workspace sample: a tube the workspace has no sample for, and a
    sample whose gates cannot give the population, fail their own rows naming the tube, the
    gate and what is allowed."""
    src = real_data / DIAMOND
    shutil.copy(src / "test_data_diamond_01.fcs", tmp_path)
    shutil.copy(tube_dir / "tube_b.fcs", tmp_path)
    wsp = src / "simple_diamond_example_quad_gate.wsp"
    out = tmp_path / "rows.json"
    code, _, err = batch(str(tmp_path), "--flowjo", str(wsp), "--out", str(out))
    assert code == 1
    diamond, stranger = json.loads(out.read_text())["files"]
    assert diamond["gates"] == single_gate(
        tmp_path / "test_data_diamond_01.fcs", "--flowjo", str(wsp), "--sample",
        "test_data_diamond_01.fcs",
    )  # fmt: skip
    assert "tube_b.fcs" in stranger["error"] and "no sample of the workspace" in stranger["error"]
    assert "tube_b.fcs" in err
    # With populations to store, the quadrant gates have no ancestor naming a population.
    from trephine.batch.flow_mrd import plan_flowjo, process_tube

    settings = GateSettings(populations=(("Q2: channel_A+ , channel_B+", "NK cells"),))
    task = plan_flowjo([tmp_path / "test_data_diamond_01.fcs"], wsp, settings)[0]
    rec = process_tube(task, settings)
    assert rec.error is not None and rec.gates is None
    assert "test_data_diamond_01.fcs" in rec.error
    assert "parent of gate Q2: channel_A+ , channel_B+" in rec.error
    assert "an ancestor gate that names a population" in rec.error
