"""Long variant TSV: located refusals (percent VAF, missing depth, alt > depth, duplicates)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trephine.errors import ImportRejected
from trephine.io.variants_tsv import (
    OPTIONAL,
    REQUIRED,
    read_samples_tsv,
    read_variants_tsv,
    write_variants_tsv,
)

HEADER = "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf"


def _write(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "v.tsv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([header, *rows]) + "\n")
    return p


def _errors(exc: pytest.ExceptionInfo[ImportRejected]) -> list[tuple[int | None, str | None, str]]:
    return [(i.location.row, i.location.column, i.code) for i in exc.value.issues]


def test_reads_rows_with_locations(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        ["P1\tS1\t0\tNPM1\tm1\t40\t100\t0.4", "P1\tS2\t30\tNPM1\tm1\t0\t120\t0"],
    )
    obs = read_variants_tsv(p)
    assert [(o.sample_id, o.alt_count, o.depth, o.vaf) for o in obs] == [
        ("S1", 40, 100, 0.4),
        ("S2", 0, 120, 0.0),
    ]
    assert obs[1].source is not None and obs[1].source.row == 3


def test_rows_are_file_lines_counting_comments_and_blank_lines(tmp_path: Path) -> None:
    """A refusal must point at the line the user sees: '#' comments and blank lines before the
    header or between rows count (they used to be dropped before numbering, so line 6 was
    reported as row 3)."""
    p = tmp_path / "v.tsv"
    p.write_text(
        "# pipeline v2\n# reference GRCh38\n" + HEADER + "\n\n"
        "P1\tS1\t0\tTP53\tm1\t10\t100\t0.1\nP1\tS2\tx\tTP53\tm1\t10\t100\t0.1\n"
    )
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(p)
    assert _errors(exc) == [(6, "day", "number")]
    missing = tmp_path / "h.tsv"
    missing.write_text("# comment\npatient_id\tsample_id\tday\n")
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(missing)
    assert _errors(exc) == [(2, None, "header")]


def test_vaf_above_one_is_refused_with_row_and_column(tmp_path: Path) -> None:
    p = _write(tmp_path, ["P1\tS1\t0\tNPM1\tm1\t40\t100\t40"])
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(p)
    assert _errors(exc) == [(2, "vaf", "vaf_percent")]
    assert "percentage" in str(exc.value) and "does not rescale" in str(exc.value)


def test_percent_column_below_one_is_refused(tmp_path: Path) -> None:
    # MRD-level data in percent: every value <= 1, yet the column equals 100*alt/depth.
    rows = [f"P1\tS1\t0\tG{i}\tm{i}\t{a}\t1000\t{a / 10:g}" for i, a in enumerate([3, 5, 7, 9])]
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(_write(tmp_path, rows))
    assert exc.value.issues[0].code == "vaf_percent"
    assert "100*alt_count/depth on 4 of 4 rows" in exc.value.issues[0].message


@pytest.mark.parametrize("n_rows", [1, 2])
def test_percent_column_in_a_tiny_file_is_refused(tmp_path: Path, n_rows: int) -> None:
    # A two-row MRD file in percent (0.5 for 5/1000 reads) must not slip through on its size.
    rows = [f"P1\tS{i}\t{i}\tNPM1\tm1\t5\t1000\t0.5" for i in range(n_rows)]
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(_write(tmp_path, rows))
    assert _errors(exc)[0] == (2, "vaf", "vaf_percent")


def test_fraction_column_with_low_vafs_is_accepted(tmp_path: Path) -> None:
    rows = [f"P1\tS1\t0\tG{i}\tm{i}\t{a}\t1000\t{a / 1000:g}" for i, a in enumerate([3, 5, 7, 9])]
    assert len(read_variants_tsv(_write(tmp_path, rows))) == 4


def test_missing_depth_refused_unless_allowed(tmp_path: Path) -> None:
    p = _write(tmp_path, ["P1\tS1\t0\tNPM1\tm1\t40\t100\t0.4", "P1\tS2\t9\tNPM1\tm1\t\t\t0.2"])
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(p)
    assert _errors(exc) == [(3, "depth", "missing_depth")]
    obs = read_variants_tsv(p, allow_missing_depth=True)
    assert obs[1].depth is None and obs[1].vaf == 0.2


def test_alt_greater_than_depth_and_duplicates_and_bad_numbers(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        [
            "P1\tS1\t0\tNPM1\tm1\t140\t100\t0.4",
            "P1\tS1\t0\tNPM1\tm2\t10\t100\t0.1",
            "P1\tS1\t0\tNPM1\tm2\t10\t100\t0.1",
            "P1\tS2\tday3\tNPM1\tm1\t1\t100\t0.01",
            "P1\tS3\t5\tNPM1\tm1\t1.5\t100\t0.01",
        ],
    )
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(p)
    assert _errors(exc) == [
        (2, "alt_count", "alt_gt_depth"),
        (4, "mutation_id", "duplicate"),
        (5, "day", "number"),
        (6, "alt_count", "integer"),
    ]


def test_missing_column_names_what_is_required(tmp_path: Path) -> None:
    p = _write(tmp_path, ["P1\tS1\t0\tNPM1\tm1\t40\t0.4"], header=HEADER.replace("\tdepth", ""))
    with pytest.raises(ImportRejected, match="missing column\\(s\\) depth; required: patient_id"):
        read_variants_tsv(p)


def test_sample_on_two_days_is_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, ["P1\tS1\t0\tNPM1\tm1\t40\t100\t0.4", "P1\tS1\t7\tNPM1\tm2\t4\t100\t0.04"])
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(p)
    assert _errors(exc) == [(3, "sample_id", "sample_conflict")]


def test_blast_pct_becomes_purity_and_purity_percent_is_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, ["P1\tS1\t0\tNPM1\tm1\t40\t100\t0.4\t62"], header=HEADER + "\tblast_pct")
    assert read_variants_tsv(p)[0].purity == pytest.approx(0.62)
    q = _write(tmp_path, ["P1\tS1\t0\tNPM1\tm1\t40\t100\t0.4\t62"], header=HEADER + "\tpurity")
    with pytest.raises(ImportRejected, match="blast_pct"):
        read_variants_tsv(q)


def test_round_trip(tmp_path: Path) -> None:
    p = _write(
        tmp_path, ["P1\tS1\t0\tNPM1\tm1\t40\t100\t0.4", "P1\tS2\t30\tTET2\tm2\t3\t90\t0.0333"]
    )
    obs = read_variants_tsv(p)
    out = tmp_path / "rt.tsv"
    write_variants_tsv(obs, out)
    again = read_variants_tsv(out)
    assert [(o.mutation_id, o.vaf, o.depth, o.chip) for o in again] == [
        (o.mutation_id, o.vaf, o.depth, o.chip) for o in obs
    ]
    assert again[1].chip


def test_round_trip_keeps_every_declared_column_including_blast_pct(tmp_path: Path) -> None:
    header = HEADER + "\tblast_pct\tclone\tmajor_cn\tminor_cn"
    p = _write(
        tmp_path,
        [
            "P1\tS1\t0\tNPM1\tm1\t40\t100\t0.4\t62\tA\t2\t1",
            "P1\tS2\t30\tTET2\tm2\t3\t90\t0.0333\t\t\t\t",
        ],
        header=header,
    )
    obs = read_variants_tsv(p)
    out = tmp_path / "rt.tsv"
    write_variants_tsv(obs, out)
    written = out.read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert written == [*REQUIRED, *OPTIONAL] and "blast_pct" in written
    again = read_variants_tsv(out)
    fields = ("mutation_id", "vaf", "depth", "purity", "clone", "major_cn", "minor_cn")
    assert [tuple(getattr(o, f) for f in fields) for o in again] == [
        tuple(getattr(o, f) for f in fields) for o in obs
    ]
    assert again[0].purity == pytest.approx(0.62) and again[1].purity is None


def test_sample_sheet(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        ["T1\tP1\t0\t80", "T2\tP1\t90\t"],
        header="sample_id\tpatient_id\tday\tblast_pct",
        name="s.tsv",
    )
    sheet = read_samples_tsv(p)
    assert sheet["T1"].purity == pytest.approx(0.8) and sheet["T2"].purity is None
    bad = _write(tmp_path, ["T1\tP1\t"], header="sample_id\tpatient_id\tday", name="b.tsv")
    with pytest.raises(ImportRejected, match="row 2, column 'day'"):
        read_samples_tsv(bad)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.lists(
        st.tuples(st.integers(1, 600), st.integers(1000, 5000)), min_size=3, max_size=12
    )
)
def test_property_percent_vaf_is_always_refused(
    tmp_path: Path, counts: list[tuple[int, int]]
) -> None:
    """Whatever the counts, a VAF column written as 100*alt/depth never imports."""
    rows = [f"P1\tS1\t0\tG\tm{i}\t{a}\t{d}\t{100 * a / d:.6g}" for i, (a, d) in enumerate(counts)]
    with pytest.raises(ImportRejected) as exc:
        read_variants_tsv(_write(tmp_path, rows))
    assert {i.code for i in exc.value.issues} == {"vaf_percent"}
