"""``trephine batch flow-mrd``: many tubes, one row each, identical to ``trephine flow mrd``."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.analysis.flow.mrd import AML_ELN2021
from trephine.batch import runner as batch_runner
from trephine.batch.flow_mrd import (
    MrdSettings,
    TubeRecord,
    TubeTask,
    expand_inputs,
    plan_gatingml,
    process_tube,
)
from trephine.cli.common import flagged
from trephine.cli.main import app
from trephine.errors import ValidationError

pytestmark = pytest.mark.shared_data

cli = CliRunner()
DEN, ABN = "CD45pos", "CD34pos_CD117pos"
SETTINGS = MrdSettings(denominator=DEN, abnormal=ABN, criteria=AML_ELN2021)


def batch(*args: str) -> tuple[int, str, str]:
    res = cli.invoke(app, ["batch", "flow-mrd", *args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def gates(gating_ml: Path) -> list[str]:
    return ["--gating-ml", str(gating_ml), "--denominator", DEN, "--abnormal", ABN]


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """One in-process 2-worker cluster for the module (worker processes cost a second each)."""
    with batch_runner.open_client(workers=2, threads=True) as c:
        yield c


@pytest.fixture
def with_corrupt(tube_dir: Path, tmp_path: Path) -> Path:
    """The tubes plus a truncated copy (header intact, DATA cut short) sorted between them."""
    d = tmp_path / "day"
    shutil.copytree(tube_dir, d)
    data = (tube_dir / "tube_a.fcs").read_bytes()
    (d / "tube_a2_truncated.fcs").write_bytes(data[:5000])
    return d


# --------------------------------------------------------------------------- identity


def test_each_row_is_what_flow_mrd_reports_for_that_file(
    tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rows.json"
    code, _, err = batch(str(tube_dir), *gates(gating_ml), "--threads", "--out", str(out))
    assert code == 0, err
    doc = json.loads(out.read_text())
    files = doc["files"]
    assert [Path(f["file"]).name for f in files] == ["tube_a.fcs", "tube_b.fcs", "tube_c.fcs"]
    for row in files:
        single = cli.invoke(app, ["flow", "mrd", row["file"], *gates(gating_ml), "--json"])
        assert single.exit_code == 0, single.stderr
        expected = json.loads(single.stdout)
        assert expected.pop("file") == row["file"]
        assert row["result"] == expected
        assert row["error"] is None
        assert row["mrd_percent"] == expected["mrd_percent"]
        assert row["sha256"] == hashlib.sha256(Path(row["file"]).read_bytes()).hexdigest()
        assert row["call"] == expected["call"]
    # The sizes differ, so the events column must too (a constant would pass the loop above).
    assert sorted(r["events"] for r in files) == [12000, 20000, 30000]
    assert doc["files_failed"] == 0 and doc["criteria"] == AML_ELN2021.name


def test_criteria_and_laboratory_limits_are_applied_as_flow_mrd_applies_them(
    tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    opts = ["--criteria", "all", "--lod", "10", "--lloq", "30"]
    out = tmp_path / "rows.json"
    tube = str(tube_dir / "tube_b.fcs")
    code, _, err = batch(tube, *gates(gating_ml), *opts, "--threads", "--out", str(out))
    assert code == 0, err
    (row,) = json.loads(out.read_text())["files"]
    single = cli.invoke(app, ["flow", "mrd", tube, *gates(gating_ml), *opts, "--json"])
    expected = json.loads(single.stdout)
    expected.pop("file")
    assert row["result"] == expected
    assert (row["lod_events"], row["lloq_events"]) == (10, 30)
    assert row["result"]["criteria"].startswith("ALL")


def test_process_tube_on_a_cluster_equals_in_process(
    tube_dir: Path, gating_ml: Path, client: object
) -> None:
    paths = expand_inputs([str(tube_dir)])
    tasks = plan_gatingml(paths, gating_ml, SETTINGS)
    on_cluster = batch_runner.run_tubes(tasks, SETTINGS, client)  # type: ignore[arg-type]
    serial = batch_runner.run_serial(tasks, SETTINGS)
    assert [r.file for r in on_cluster] == [str(p) for p in paths]
    assert [r.result for r in on_cluster] == [r.result for r in serial]
    assert all(r.ok and r.result is not None for r in on_cluster)


def test_rows_come_back_in_path_order_whatever_finishes_first(
    tube_dir: Path, gating_ml: Path, client: object
) -> None:
    # Submit in reverse order: the biggest tube (tube_a) goes last, yet its row is still where
    # its task is; expand_inputs sorts by path however the arguments are given.
    names = ["tube_c.fcs", "tube_b.fcs", "tube_a.fcs"]
    paths = expand_inputs([str(tube_dir / n) for n in names])
    assert [p.name for p in paths] == sorted(names)
    tasks = list(reversed(plan_gatingml(paths, gating_ml, SETTINGS)))
    seen: list[str] = []
    recs = batch_runner.run_tubes(
        tasks,
        SETTINGS,
        client,
        on_done=lambda r: seen.append(r.file),  # type: ignore[arg-type]
    )
    assert [Path(r.file).name for r in recs] == list(reversed(sorted(names)))
    assert sorted(seen) == sorted(r.file for r in recs)


def test_each_row_keeps_its_own_warnings_on_worker_threads(
    tube_dir: Path, gating_ml: Path, client: object
) -> None:
    # A wrong FlowJo event count warns naming the file; tubes run two at a time on threads, and
    # twice, so a once-per-location filter or a shared capture would lose or mix them.
    tasks = [
        TubeTask(path=t.path, strategy=t.strategy, sample="s", expected_events=7)
        for t in plan_gatingml(expand_inputs([str(tube_dir)]), gating_ml, SETTINGS)
    ] * 2
    recs = batch_runner.run_tubes(tasks, SETTINGS, client)  # type: ignore[arg-type]
    for rec in recs:
        assert rec.ok
        assert len(rec.warnings) == 1, rec.warnings
        assert (
            rec.warnings[0].startswith(f"{rec.file}: ") and "FlowJo recorded 7" in rec.warnings[0]
        )
    # The process's own warnings still reach their usual destination afterwards.
    with pytest.warns(UserWarning, match="still shown"):
        import warnings

        warnings.warn("still shown", UserWarning, stacklevel=1)


# --------------------------------------------------------------------------- failures


def test_a_corrupt_file_fails_its_row_only(
    with_corrupt: Path, gating_ml: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rows.csv"
    code, _, err = batch(str(with_corrupt), *gates(gating_ml), "--threads", "--out", str(out))
    assert code == 1
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = [Path(r["file"]).name for r in rows]
    assert names == ["tube_a.fcs", "tube_a2_truncated.fcs", "tube_b.fcs", "tube_c.fcs"]
    bad = rows[1]
    assert bad["error_type"] == "ParseError"
    assert "tube_a2_truncated.fcs" in bad["error"] and "byte" in bad["error"]
    assert bad["mrd_percent"] == "" and bad["call"] == ""
    # The hash is of the bytes on disk even when they do not parse (for the audit trail).
    assert bad["sha256"] == hashlib.sha256((with_corrupt / names[1]).read_bytes()).hexdigest()
    for good in (rows[0], rows[2], rows[3]):
        assert good["error"] == "" and good["call"] == "positive"
        assert int(good["denominator_events"]) > int(good["abnormal_events"]) > 0
    # stderr names the failed file in one line; the exit code says "some files failed".
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "tube_a2_truncated.fcs" in errors[0]


def test_unreadable_and_not_fcs_files_are_row_errors(
    tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    text = tmp_path / "notes.fcs"
    text.write_text("this is not an FCS file\n")
    tasks = plan_gatingml([tube_dir / "tube_b.fcs", text], gating_ml, SETTINGS)
    good, bad = (process_tube(t, SETTINGS) for t in tasks)
    assert good.ok and good.result is not None
    assert not bad.ok and bad.error_type == "ParseError" and str(text) in (bad.error or "")
    vanished = process_tube(
        TubeTask(path=str(tmp_path / "gone.fcs"), strategy=tasks[0].strategy), SETTINGS
    )
    assert vanished.error_type == "FileNotFoundError" and "gone.fcs" in (vanished.error or "")


def test_a_defect_is_reported_as_internal_not_as_a_bad_file(
    tube_dir: Path, gating_ml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trephine.analysis.flow.mrd as mrd

    def boom(*_a: object, **_k: object) -> None:
        raise ZeroDivisionError("simulated defect")

    monkeypatch.setattr(mrd, "quantify_from_masks", boom)
    (task,) = plan_gatingml([tube_dir / "tube_b.fcs"], gating_ml, SETTINGS)
    rec = process_tube(task, SETTINGS)
    assert rec.error_type == "ZeroDivisionError"
    assert rec.error is not None and "internal error" in rec.error and "tube_b.fcs" in rec.error


def test_a_missing_gate_refuses_the_batch_before_reading_any_tube(
    tube_dir: Path, gating_ml: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rows.csv"
    code, stdout, err = batch(
        str(tube_dir), "--gating-ml", str(gating_ml), "--denominator", DEN,
        "--abnormal", "LAIP", "--threads", "--out", str(out),
    )  # fmt: skip
    assert code == 2
    assert "--abnormal" in err and "'LAIP'" in err and "CD34pos_CD117pos" in err
    assert str(gating_ml) in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and stdout == ""


def test_an_empty_directory_is_a_usage_error(tmp_path: Path, gating_ml: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("not a tube")
    code, _, err = batch(str(empty), *gates(gating_ml), "--threads")
    assert code == 2
    assert str(empty) in err and "no FCS files" in err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--criteria", "XYZ"], "allowed: AML, ALL, CLL, MM"),
        (["--out", "rows.txt"], ".csv, .json, .xlsx"),
        (["--out", "/nonexistent-dir/rows.csv"], "no such directory"),
        (["--memory-limit", "lots"], "--memory-limit"),
        (["--lod", "60", "--lloq", "50"], "0 < LOD <= LLOQ"),
        (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--scheduler"),
    ],
)
def test_bad_options_are_refused_with_exit_2(
    tube_dir: Path, gating_ml: Path, extra: list[str], needle: str
) -> None:
    code, _, err = batch(str(tube_dir), *gates(gating_ml), "--threads", *extra)
    assert code == 2 and needle in err, err


def test_one_strategy_is_required(tube_dir: Path, gating_ml: Path, tmp_path: Path) -> None:
    code, _, err = batch(str(tube_dir), "--denominator", DEN, "--abnormal", ABN)
    assert code == 2 and "--gating-ml" in err
    code, _, err = batch(str(tube_dir), *gates(gating_ml), "--flowjo", str(tmp_path / "x.wsp"))
    assert code == 2 and "give one strategy" in err


# --------------------------------------------------------------------------- inputs


def test_expand_inputs_dirs_globs_files_sorted_once(tube_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for n in ("z.FCS", "a.fcs", "m.lmd", "notes.txt"):
        (d / n).write_bytes(b"x")
    got = expand_inputs([str(d / "z.FCS"), str(d), str(d / "*.fcs")])
    assert [p.name for p in got] == ["a.fcs", "m.lmd", "z.FCS"]
    with pytest.raises(ValidationError, match="not found"):
        expand_inputs([str(d / "nope.fcs")])
    with pytest.raises(ValidationError, match="matches no file"):
        expand_inputs([str(d / "*.xyz")])


# --------------------------------------------------------------------------- outputs


def test_xlsx_and_table_outputs(tube_dir: Path, gating_ml: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "rows.xlsx"
    code, _, err = batch(str(tube_dir), *gates(gating_ml), "--threads", "--out", str(out))
    assert code == 0, err
    ws = load_workbook(out)["flow MRD"]
    rows = list(ws.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[0] == "file" and "mrd_percent" in header and "error" in header
    assert [Path(str(r[0])).name for r in body] == ["tube_a.fcs", "tube_b.fcs", "tube_c.fcs"]
    pct = header.index("mrd_percent")
    assert all(isinstance(r[pct], float) and r[pct] > 0 for r in body)
    # Without --out: a table on stdout, the summary line on stderr.
    code, stdout, err = batch(str(tube_dir), *gates(gating_ml), "--threads")
    assert code == 0 and "tube_b.fcs" in stdout and "positive" in stdout
    assert "3 file(s): 3 ok, 0 failed" in err


def test_an_unreachable_scheduler_is_a_usage_error() -> None:
    with (
        pytest.raises(ValidationError, match=r"^scheduler: .*tcp://127\.0\.0\.1:1"),
        batch_runner.open_client(scheduler="tcp://127.0.0.1:1", timeout="1s"),
    ):
        pass


def test_a_killed_worker_becomes_the_row_error() -> None:
    from distributed.scheduler import KilledWorker

    rec = batch_runner._lost(TubeTask(path="big.fcs", strategy=None), KilledWorker("k", "w", 1))
    assert rec.error_type == "KilledWorker" and not rec.ok
    assert (
        rec.error is not None
        and rec.error.startswith("big.fcs: ")
        and "--memory-limit" not in rec.error
        and "--memory-limit" in flagged(rec.error)
    )


def test_records_round_trip_rows() -> None:
    rec = TubeRecord(file="x.fcs", error="x.fcs: broken", error_type="ParseError")
    assert rec.row()["mrd_percent"] is None and rec.to_dict()["result"] is None
    assert not rec.ok


# --------------------------------------------------------------------------- clusters


@pytest.mark.slow
def test_worker_processes_and_an_existing_scheduler(
    with_corrupt: Path, gating_ml: Path, tmp_path: Path
) -> None:
    """The default (2 worker processes with a memory limit), and --scheduler on a running one."""
    out = tmp_path / "procs.json"
    code, _, err = batch(
        str(with_corrupt), *gates(gating_ml), "--workers", "2", "--memory-limit", "1GiB",
        "--out", str(out),
    )  # fmt: skip
    assert code == 1, err
    procs = json.loads(out.read_text())["files"]
    with batch_runner.open_client(workers=1, threads=True) as c:
        address = c.scheduler.address  # type: ignore[attr-defined]
        out2 = tmp_path / "remote.json"
        code2, _, err2 = batch(
            str(with_corrupt), *gates(gating_ml), "--scheduler", address, "--out", str(out2)
        )
    assert code2 == 1, err2
    remote = json.loads(out2.read_text())["files"]
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in procs]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in remote]
    assert [r["error_type"] for r in procs] == [None, "ParseError", None, None]


# --------------------------------------------------------------------------- FlowJo


DIAMOND = "flow/flowjo_wsp/simple_diamond_example"


def test_flowjo_gates_each_file_with_its_sample_and_reports_strangers(
    real_data: Path, tube_dir: Path, tmp_path: Path
) -> None:
    src = real_data / DIAMOND
    wsp = src / "simple_diamond_example_quad_gate.wsp"
    day = tmp_path / "day"
    day.mkdir()
    shutil.copy(src / "test_data_diamond_01.fcs", day)
    shutil.copy(tube_dir / "tube_b.fcs", day)  # no sample of the workspace uses this file
    # What `trephine flow gate --flowjo` counts for the same sample and file.
    name = "test_data_diamond_01.fcs"
    args = ["flow", "gate", str(day / name), "--flowjo", str(wsp), "--sample", name, "--json"]
    single = cli.invoke(app, args)
    counts = {g: v["count"] for g, v in json.loads(single.stdout)["gates"].items()}
    den = next(g for g in counts if g.startswith("Q2"))
    abn = next(g for g in counts if g.startswith("Q1"))
    out = tmp_path / "fj.json"
    code, _, err = batch(
        str(day), "--flowjo", str(wsp), "--denominator", den, "--abnormal", abn,
        "--threads", "--out", str(out),
    )  # fmt: skip
    assert code == 1
    diamond, stranger = json.loads(out.read_text())["files"]
    assert diamond["error"] is None and diamond["events"] == 200000
    assert diamond["denominator_events"] == counts[den]
    # Quadrants are disjoint: the abnormal gate lies outside the denominator, which is flagged.
    assert diamond["abnormal_events"] == 0
    assert "abnormal_outside_denominator" in diamond["flags"]
    assert stranger["error_type"] == "ValidationError"
    assert "tube_b.fcs" in stranger["error"] and "no sample of the workspace" in stranger["error"]
    assert "test_data_diamond_01.fcs" in stranger["error"]  # the files it does know
    assert "tube_b.fcs" in err


def test_flowjo_sample_without_the_gate_is_a_row_error(real_data: Path, tmp_path: Path) -> None:
    from trephine.batch.flow_mrd import plan_flowjo

    src = real_data / DIAMOND
    shutil.copy(src / "test_data_diamond_01.fcs", tmp_path)
    settings = MrdSettings(denominator="upper_right", abnormal="LAIP", criteria=AML_ELN2021)
    (task,) = plan_flowjo(
        [tmp_path / "test_data_diamond_01.fcs"], src / "test_data_diamond_asinh_rect.wsp", settings
    )
    rec = process_tube(task, settings)
    assert rec.error_type == "ValidationError" and rec.error is not None
    assert "test_data_diamond_01.fcs" in rec.error
    # The row names the domain field; only the CLI's refusals speak in options.
    assert "abnormal_gate: 'LAIP'" in rec.error and "upper_right" in rec.error


def test_flowjo_sample_without_a_population_gate_is_that_rows_error(
    real_data: Path, tmp_path: Path
) -> None:
    """With --store-populations, a sample gated without one of the gates fails its own row
    (nothing of that tube is quantified or stored); the batch is not refused as a whole."""
    from trephine.batch.flow_mrd import plan_flowjo

    src = real_data / DIAMOND
    shutil.copy(src / "test_data_diamond_01.fcs", tmp_path)
    settings = MrdSettings(
        denominator="upper_right",
        abnormal="upper_right",
        criteria=AML_ELN2021,
        populations=(("upper_right", "NK cells"), ("Tregs", None)),
    )
    (task,) = plan_flowjo(
        [tmp_path / "test_data_diamond_01.fcs"], src / "test_data_diamond_asinh_rect.wsp", settings
    )
    assert task.strategy is None and task.plans == ()
    rec = process_tube(task, settings)
    assert rec.error_type == "ValidationError" and rec.error is not None
    assert "test_data_diamond_01.fcs" in rec.error
    assert "gate: 'Tregs' is not allowed (not in the strategy of" in rec.error
    assert "allowed: upper_right" in rec.error


class _WorkerKiller:
    """A tube "path" whose opening ends the worker process (as an out-of-memory kill would).

    Only in another process: here (the test process) it refuses, so a mistake in the test
    cannot end the test run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pid = os.getpid()

    def __fspath__(self) -> str:
        if os.getpid() == self.pid:
            raise RuntimeError("not in a worker process")
        os._exit(1)

    def __str__(self) -> str:
        return self.name


@pytest.mark.slow
def test_a_tube_that_kills_its_worker_fails_alone(tube_dir: Path, gating_ml: Path) -> None:
    tasks = plan_gatingml(expand_inputs([str(tube_dir)]), gating_ml, SETTINGS)
    killer = TubeTask(path=_WorkerKiller("huge.fcs"), strategy=tasks[0].strategy)  # type: ignore[arg-type]
    with batch_runner.open_client(workers=2, memory_limit=2**30) as c:
        recs = batch_runner.run_tubes([tasks[0], killer, tasks[1], tasks[2]], SETTINGS, c)
    assert [r.ok for r in recs] == [True, False, True, True]
    assert recs[1].error_type == "KilledWorker"
    assert recs[1].error is not None and recs[1].error.startswith("huge.fcs: the worker")
