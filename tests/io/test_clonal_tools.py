"""ClonEvol, TimeScape and PyClone-VI files read as they are published (io.clonal_tools, and
``trephine clonal track`` on them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.analysis.clonal.records import SampleInfo
from trephine.cli.main import app
from trephine.errors import ImportRejected
from trephine.io.clonal_tools import read_clonal_tool_file, read_header, sniff

runner = CliRunner()
AML1 = {
    "P": SampleInfo("P", "AML1", 0.0),
    "R": SampleInfo("R", "AML1", 335.0),
    "Diagnosis": SampleInfo("Diagnosis", "AML1", 0.0),
    "Relapse": SampleInfo("Relapse", "AML1", 335.0),
}
SIM = {f"s{i}": SampleInfo(f"s{i}", "SIM", float(30 * i)) for i in range(4)}


def _sheet(path: Path, sheet: dict[str, SampleInfo]) -> Path:
    rows = [f"{s.sample_id}\t{s.patient_id}\t{s.day:g}" for s in sheet.values()]
    path.write_text("sample_id\tpatient_id\tday\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_formats_are_told_apart_by_their_columns(real_data: Path) -> None:
    clonal = real_data / "clonal"
    assert sniff(read_header(clonal / "ding2012_aml1/aml1_variants.tsv")) == "ClonEvol"
    assert sniff(read_header(clonal / "ding2012_aml1/timescape_AML_mutations.csv")) == "TimeScape"
    assert sniff(read_header(clonal / "pyclone_vi/synthetic.tsv")) == "PyClone-VI"
    assert sniff(["patient_id", "sample_id", "day", "gene", "vaf"]) is None


def test_clonevol_percent_vafs_become_fractions_with_counts_and_clusters(real_data: Path) -> None:
    path = real_data / "clonal/ding2012_aml1/aml1_variants.tsv"
    obs = read_clonal_tool_file(path, "ClonEvol", AML1, allow_missing_depth=True)
    assert len({o.mutation_id for o in obs}) == 378  # MANIFEST anchor: 378 variants
    first = next(o for o in obs if o.mutation_id == "1" and o.sample_id == "P")
    assert first.vaf == pytest.approx(0.4383) and (first.alt_count, first.depth) == (2364, 5296)
    assert first.clone == "1" and first.day == 0.0 and first.patient_id == "AML1"
    sizes = {c: len({o.mutation_id for o in obs if o.clone == c}) for c in "12345"}
    assert sizes == {"1": 305, "2": 4, "3": 3, "4": 3, "5": 63}
    # Some rows have no relapse counts: refused unless VAF-only tracking is asked for.
    with pytest.raises(ImportRejected) as info:
        read_clonal_tool_file(path, "ClonEvol", AML1)
    # Named as the reader's own parameter; the CLI shows it as --allow-missing-depth.
    assert "`allow_missing_depth`" in str(info.value.issues[0])


def test_timescape_needs_vaf_only_tracking_and_skips_unmeasured(real_data: Path) -> None:
    path = real_data / "clonal/ding2012_aml1/timescape_AML_mutations.csv"
    with pytest.raises(ImportRejected, match="`allow_missing_depth`"):
        read_clonal_tool_file(path, "TimeScape", AML1)
    obs = read_clonal_tool_file(path, "TimeScape", AML1, allow_missing_depth=True)
    # 379 mutations x 2 timepoints, one relapse VAF recorded as NA (not measured, not zero).
    assert len(obs) == 757
    assert {o.sample_id for o in obs} == {"Diagnosis", "Relapse"}
    assert all(o.alt_count is None and 0 <= o.vaf <= 1 for o in obs)


def test_pyclone_vi_counts_copy_numbers_and_purity(real_data: Path) -> None:
    path = real_data / "clonal/pyclone_vi/synthetic.tsv"
    obs = read_clonal_tool_file(path, "PyClone-VI", SIM)
    assert len(obs) == 400  # 100 mutations x 4 samples
    m0 = next(o for o in obs if o.mutation_id == "m0" and o.sample_id == "s0")
    assert (m0.alt_count, m0.depth, m0.major_cn, m0.minor_cn) == (29, 98, 3, 0)
    assert m0.vaf == pytest.approx(29 / 98) and m0.purity == 1.0 and m0.day == 0.0


def test_bad_rows_are_refused_whole_with_their_place(tmp_path: Path) -> None:
    bad = tmp_path / "pyclone.tsv"
    bad.write_text(
        "mutation_id\tsample_id\tref_counts\talt_counts\tmajor_cn\tminor_cn\n"
        "m1\ts0\t10\t5\t1\t1\n"
        "m1\tsX\t10\t5\t1\t1\n"
        "m2\ts0\t10\t-5\t1\t1\n"
        "m3\ts0\t10\t5\t3000000\t1\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as info:
        read_clonal_tool_file(bad, "PyClone-VI", SIM)
    where = [(i.location.row, i.location.column) for i in info.value.issues]
    assert where == [(3, "sample_id"), (4, "alt_counts"), (5, "major_cn")]
    assert "sample 'sX' is not in the sample sheet" in str(info.value.issues[0])
    clonevol = tmp_path / "clonevol.tsv"
    clonevol.write_text("variant_index\tcluster\tP.vaf\n1\t1\t0.5\n2\t1\t150\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as info:
        read_clonal_tool_file(clonevol, "ClonEvol", AML1, allow_missing_depth=True)
    assert [(i.location.row, i.location.column) for i in info.value.issues] == [(3, "P.vaf")]


@pytest.mark.parametrize(
    ("rel", "extra", "says"),
    [
        ("ding2012_aml1/aml1_variants.tsv", ["--allow-missing-depth"], "378 mutations"),
        ("ding2012_aml1/timescape_AML_mutations.csv", ["--allow-missing-depth"], "379 mutations"),
        ("pyclone_vi/synthetic.tsv", [], "100 mutations"),
    ],
)
def test_clonal_track_reads_the_published_files(
    real_data: Path, tmp_path: Path, rel: str, extra: list[str], says: str
) -> None:
    sheet = _sheet(tmp_path / "samples.tsv", SIM if "pyclone" in rel else AML1)
    path = real_data / "clonal" / rel
    res = runner.invoke(app, ["clonal", "track", str(path), "--samples", str(sheet), *extra])
    assert res.exit_code == 0, res.output
    assert says in res.stdout
    res = runner.invoke(
        app, ["clonal", "track", str(path), "--samples", str(sheet), *extra, "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)


def test_clonal_track_asks_for_the_sample_sheet(real_data: Path) -> None:
    path = real_data / "clonal/pyclone_vi/synthetic.tsv"
    res = runner.invoke(app, ["clonal", "track", str(path)])
    assert res.exit_code == 2 and "PyClone-VI samples onto patients and days" in res.stderr
