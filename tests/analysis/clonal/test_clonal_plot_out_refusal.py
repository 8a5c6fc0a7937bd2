"""`trephine clonal plot --out` that cannot be written: one line, exit 2, no traceback.

Found in the acceptance audit: ``--out`` under a read-only or missing mount crashed with a
``FileNotFoundError`` traceback.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from trephine.cli.main import app

ROWS = (
    "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf\n"
    "P1\tS1\t0\tNPM1\tm1\t400\t1000\t0.4\n"
    "P1\tS2\t30\tNPM1\tm1\t10\t1000\t0.01\n"
)


def test_plot_into_a_path_under_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    tsv = tmp_path / "v.tsv"
    tsv.write_text(ROWS)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")  # --out below a regular file can never be created
    res = CliRunner().invoke(app, ["clonal", "plot", str(tsv), "--out", str(blocker / "plots")])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --out "), res.stderr
    assert "not-a-dir" in lines[0] and "cannot write the plots" in lines[0]
