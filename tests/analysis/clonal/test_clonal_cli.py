"""`trephine clonal track|plot|compare`: the JSON contract and refusals (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app

runner = CliRunner()


@pytest.mark.shared_data
def test_track_json_contract_on_aml1(aml1_tsv: Path) -> None:
    res = runner.invoke(
        app, ["clonal", "track", str(aml1_tsv), "--lod", "0.01", "--json", "--allow-missing-depth"]
    )
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    muts = data["mutations"]
    assert len(muts) == 378
    assert {"patient_id", "mutation_id", "gene", "status", "clone", "chip"} <= set(muts[0])
    assert all(isinstance(m["chip"], bool) for m in muts)
    statuses = [m["status"] for m in muts]
    assert (
        statuses.count("persistent"),
        statuses.count("emerging"),
        statuses.count("cleared"),
    ) == (312, 62, 4)
    clones = data["clones"]
    assert len(clones) == 5
    assert all(set(c["fractions"]) == {"P", "R"} for c in clones)
    assert sum(c["parent"] is None for c in clones) == 1
    etv6 = next(m for m in muts if m["gene"] == "ETV6")
    assert etv6["status"] == "emerging"
    relapse_clone = next(c for c in clones if c["clone"] == etv6["clone"])
    assert relapse_clone["fractions"]["R"] > 0.5
    assert relapse_clone["status"] == "emerging" and relapse_clone["first_detected_day"] == 335
    assert sorted(c["status"] for c in clones) == ["cleared", "emerging"] + ["persistent"] * 3


@pytest.mark.shared_data
def test_missing_depth_refused_with_one_line(aml1_tsv: Path) -> None:
    res = runner.invoke(app, ["clonal", "track", str(aml1_tsv)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "column 'depth'" in lines[0] and "--allow-missing-depth" in lines[0]


def test_percent_vaf_refused(tmp_path: Path) -> None:
    p = tmp_path / "pct.tsv"
    p.write_text(
        "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf\n"
        "P1\tS1\t0\tNPM1\tm1\t40\t100\t40\n"
    )
    res = runner.invoke(app, ["clonal", "track", str(p), "--json"])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith(f"error: {p}, row 2, column 'vaf': vaf='40' is above 1")


def test_vcf_needs_a_sample_sheet(tmp_path: Path) -> None:
    p = tmp_path / "x.vcf"
    p.write_text("##fileformat=VCFv4.2\n")
    res = runner.invoke(app, ["clonal", "track", str(p)])
    assert res.exit_code == 2 and "--samples" in res.stderr


def test_vcf_end_to_end_and_plot(tmp_path: Path) -> None:
    header = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tD0\tD30\tD200\n"
    rows = []
    for i in range(4):
        rows.append(
            f"chr1\t{100 + i}\t.\tA\tT\t.\tPASS\tGENE=NPM1\tAD:DP\t30,0:30\t"
            f"55,45:100\t100,0:100\t58,42:100\n"
        )
        rows.append(
            f"chr2\t{100 + i}\t.\tC\tG\t.\tPASS\tGENE=TET2\tAD:DP\t30,0:30\t"
            f"80,20:100\t80,20:100\t79,21:100\n"
        )
    vcf = tmp_path / "serial.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n" + header + "".join(rows))
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample_id\tpatient_id\tday\nD0\tPT\t0\nD30\tPT\t30\nD200\tPT\t200\n")
    res = runner.invoke(app, ["clonal", "track", str(vcf), "--samples", str(sheet), "--json"])
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    by_gene = {m["gene"]: m for m in data["mutations"]}
    assert by_gene["NPM1"]["status"] == "persistent" and by_gene["NPM1"]["intermittent"]
    assert by_gene["TET2"]["chip"] and not by_gene["TET2"]["mrd_informative"]
    # At day 30 only the TET2 (CHIP) clone is left: nothing MRD-informative is present.
    d30 = next(s for s in data["samples"] if s["sample_id"] == "D30")
    assert d30["n_present"] == 4 and d30["n_present_mrd_informative"] == 0
    assert d30["chip_genes_present"] == ["TET2"] and d30["max_vaf_mrd_informative"] is None
    out = tmp_path / "plots"
    res = runner.invoke(
        app,
        [
            "clonal",
            "plot",
            str(vcf),
            "--samples",
            str(sheet),
            "--out",
            str(out),
            "--formats",
            "svg",
        ],
    )
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "PT_fish.svg",
        "PT_plotdata.json",
        "PT_tree.svg",
        "PT_vaf.svg",
    ]


@pytest.mark.shared_data
def test_compare_json(real_data: Path) -> None:
    d = real_data / "clonal/apl_madan2016"
    res = runner.invoke(
        app, ["clonal", "compare", str(d / "APL_primary.maf"), str(d / "APL_relapse.maf"), "--json"]
    )
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["genes"][0]["gene"] == "PML"
    assert len(data["paired"]["patients"]) == 22


def test_bad_options_refused(tmp_path: Path) -> None:
    p = tmp_path / "ok.tsv"
    p.write_text(
        "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf\n"
        "P1\tS1\t0\tNPM1\tm1\t40\t100\t0.4\n"
    )
    res = runner.invoke(app, ["clonal", "track", str(p), "--precision", "-1"])
    assert res.exit_code == 2 and "--precision" in res.stderr
    res = runner.invoke(app, ["clonal", "track", str(p), "--lod", "5"])
    assert res.exit_code == 2 and "lod: 5.0 is not allowed" in res.stderr
    res = runner.invoke(app, ["clonal", "plot", str(p), "--out", str(tmp_path), "--formats", "gif"])
    assert res.exit_code == 2 and "allowed: png, svg" in res.stderr
    res = runner.invoke(app, ["clonal", "track", str(p), "--precision", "0", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["settings"]["precision"] is None
