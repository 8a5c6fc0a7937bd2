"""MAF reader: published APL/TCGA files and located refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from trephine.analysis.clonal.records import SampleInfo
from trephine.errors import ImportRejected
from trephine.io.maf import maf_observations, read_maf

HEAD = (
    "Hugo_Symbol\tChromosome\tStart_Position\tReference_Allele\tTumor_Seq_Allele2\t"
    "Tumor_Sample_Barcode\tt_alt_count\tt_ref_count"
)


@pytest.mark.shared_data
def test_apl_maf_counts(real_data: Path) -> None:
    recs = read_maf(real_data / "clonal/apl_madan2016/APL_primary.maf")
    # The file has 269 data lines (no trailing newline); the MANIFEST's "268 rows" is one short.
    assert len(recs) == 269
    assert len({r.sample for r in recs}) == 124
    itd = [r for r in recs if r.gene == "FLT3_ITD"]
    # Four FLT3-ITD rows carry no coordinates (NA); they are kept for gene-level presence.
    assert sum(r.start is None for r in itd) == 4
    assert len({r.mutation_id for r in recs if r.start is None}) == 1


@pytest.mark.shared_data
def test_tcga_percent_vaf_column_is_converted_by_name(real_data: Path) -> None:
    recs = read_maf(real_data / "clonal/tcga_laml/tcga_laml.maf")
    assert len(recs) == 2207 and len({r.sample for r in recs}) == 193
    first = recs[0]
    assert first.gene == "ABCA10" and first.vaf == pytest.approx(0.4566)
    assert all(r.vaf is None or 0 <= r.vaf <= 1 for r in recs)


def test_counts_to_observations_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "x.maf"
    p.write_bytes(
        (
            "#version 2.4\r\n" + HEAD + "\r\n"
            "NPM1\tchr5\t170837543\t-\tTCTG\tT1\t45\t55\r\n"
            "NPM1\tchr5\t170837543\t-\tTCTG\tT2\t2\t998\r\n"
        ).encode()
    )
    sheet = {"T1": SampleInfo("T1", "P9", 0.0, 0.8), "T2": SampleInfo("T2", "P9", 120.0)}
    obs = maf_observations(read_maf(p), sheet)
    assert [(o.sample_id, o.alt_count, o.depth, o.vaf, o.day) for o in obs] == [
        ("T1", 45, 100, 0.45, 0.0),
        ("T2", 2, 1000, 0.002, 120.0),
    ]
    assert obs[0].purity == 0.8 and obs[0].mutation_id == obs[1].mutation_id


def test_refusals_are_located(tmp_path: Path) -> None:
    p = tmp_path / "bad.maf"
    p.write_text(HEAD + "\nNPM1\t5\t100\t-\tT\tT1\t50\t-3\nTP53\t17\tabc\tC\tT\tT1\t1\t1\n")
    with pytest.raises(ImportRejected) as exc:
        read_maf(p)
    locs = [(i.location.row, i.location.column) for i in exc.value.issues]
    assert locs == [(2, "t_ref_count"), (3, "Start_Position")]
    q = tmp_path / "nocount.maf"
    q.write_text(HEAD.rsplit("\tt_alt", 1)[0] + "\nNPM1\t5\t100\t-\tT\tT9\n")
    with pytest.raises(ImportRejected) as exc2:
        maf_observations(read_maf(q), {"T1": SampleInfo("T1", "P", 0.0)})
    assert "'T9' is not in the sample sheet; allowed: T1" in str(exc2.value)
    with pytest.raises(ImportRejected, match="no read counts"):
        maf_observations(read_maf(q), {"T9": SampleInfo("T9", "P", 0.0)})
    r = tmp_path / "missing.maf"
    r.write_text("Hugo_Symbol\tChromosome\n")
    with pytest.raises(ImportRejected, match="missing MAF column"):
        read_maf(r)
