"""``trephine clonal import`` (NGS variants onto stored specimens) and ``clonal track
--patient`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assess_case import biopsy, marrow_items, seed_aml_patient
from trephine.cli.main import app
from trephine.domain.results import NGSVariant, ResultKind
from trephine.services import audit, results
from trephine.store.database import Database
from trephine.workflow import ResultState

HEADER = "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf\n"
ROWS = [
    ("P1", "A0", 0, "NPM1", "c.860_863dup", 450, 1000, "0.45"),
    ("P1", "A0", 0, "DNMT3A", "c.2645G>A", 480, 1000, "0.48"),
    ("P1", "A0", 0, "FLT3", "chr13:28034105:A>T", 200, 1000, "0.2"),
    ("P1", "A1", 30, "NPM1", "c.860_863dup", 0, 1200, "0"),
    ("P1", "A1", 30, "DNMT3A", "c.2645G>A", 410, 1000, "0.41"),
    ("P1", "A1", 30, "FLT3", "chr13:28034105:A>T", 0, 1000, "0"),
    ("P1", "A3", 150, "NPM1", "c.860_863dup", 300, 1000, "0.3"),
    ("P1", "A3", 150, "DNMT3A", "c.2645G>A", 450, 1000, "0.45"),
    ("P1", "A3", 150, "FLT3", "chr13:28034105:A>T", 0, 900, "0"),
]


def write(path: Path, rows: list[tuple[object, ...]], header: str = HEADER) -> Path:
    path.write_text(header + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.fixture
def url(database: Database) -> str:
    seed_aml_patient(database)
    biopsy(database, 150, 3, marrow_items(40))
    return database.engine.url.render_as_string(hide_password=False)


def invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def stored(db_url: str) -> list[NGSVariant]:
    db = Database(db_url)
    try:
        with db.unit_of_work("t") as uow:
            rs = results.patient_results(uow, "P1", (ResultKind.NGS_VARIANT,))
    finally:
        db.dispose()
    assert all(r.state is ResultState.DRAFT for r in rs)
    return [r.value for r in rs if isinstance(r.value, NGSVariant)]


def test_import_is_whole_and_idempotent_then_track_matches_the_file(
    url: str, tmp_path: Path
) -> None:
    tsv = write(tmp_path / "ngs.tsv", ROWS)
    code, out = invoke("clonal", "import", str(tsv), "--database-url", url)
    assert code == 0, out
    assert "9 variant result(s) recorded as drafts, 0 already present, on 3 specimen(s)" in out
    variants = stored(url)
    npm1 = next(v for v in variants if v.gene == "NPM1" and v.alt_count == 450)
    assert (npm1.vaf.value, npm1.vaf.unit, npm1.depth) == (Decimal(45), "%", 1000)
    code, out = invoke("clonal", "import", str(tsv), "--database-url", url)
    assert code == 0 and "0 variant result(s) recorded as drafts, 9 already present" in out
    assert len(stored(url)) == 9
    # Drafts are not tracked unless asked; with them, the JSON equals the file's.
    code, out = invoke("clonal", "track", "--patient", "P1", "--json", "--database-url", url)
    assert code == 2 and "--include-drafts" in out
    code, from_db = invoke(
        "clonal", "track", "--patient", "P1", "--include-drafts", "--json", "--database-url", url
    )
    assert code == 0, from_db
    code, from_file = invoke("clonal", "track", str(tsv), "--json")
    assert json.loads(from_db) == json.loads(from_file)


def test_bad_rows_are_all_located_and_nothing_is_written(url: str, tmp_path: Path) -> None:
    bad = [
        *ROWS[:2],
        ("P1", "XX-404", 0, "TP53", "c.743G>A", 10, 100, "0.1"),  # row 4: no such specimen
        ("P2", "A3", 150, "TP53", "c.743G>A", 10, 100, "0.1"),  # row 5: specimen of P1
        ("P1", "A1", 30, "TP53", "TP53_R248Q", 10, 100, "0.1"),  # row 6: not HGVS
    ]
    tsv = write(tmp_path / "bad.tsv", bad)
    db = Database(url)
    with db.unit_of_work("t") as uow:
        before = len(audit.events(uow))
    code, out = invoke("clonal", "import", str(tsv), "--database-url", url)
    assert code == 2
    assert f"{tsv}" in out and "row 4" in out and "sample_id" in out and "XX-404" in out
    assert "2 more error(s)" in out and "nothing imported" in out
    with db.unit_of_work("t") as uow:
        assert len(audit.events(uow)) == before
    db.dispose()
    assert stored(url) == []


def test_all_issues_are_reported_by_the_service(url: str, tmp_path: Path) -> None:
    from trephine.errors import ImportRejected
    from trephine.io.variants_tsv import read_variants_tsv
    from trephine.services.variants import import_variants

    bad = [
        ("P1", "XX-404", 0, "TP53", "c.743G>A", 10, 100, "0.1"),
        ("P2", "A3", 150, "TP53", "c.743G>A", 10, 100, "0.1"),
        ("P1", "A1", 30, "TP53", "TP53_R248Q", 10, 100, "0.1"),
    ]
    obs = read_variants_tsv(write(tmp_path / "bad.tsv", bad))
    db = Database(url)
    with pytest.raises(ImportRejected) as info, db.unit_of_work("t") as uow:
        import_variants(uow, obs, "bad.tsv")
    db.dispose()
    found = [(i.code, i.location.row, i.location.column) for i in info.value.issues]
    assert found == [
        ("unknown_specimen", 2, "sample_id"),
        ("patient_mismatch", 3, "patient_id"),
        ("invalid", 4, "mutation_id"),
    ]
    assert "allowed" in info.value.issues[2].message


def test_sample_sheet_maps_names_to_accessions(url: str, tmp_path: Path) -> None:
    renamed = [(p, {"A0": "dx", "A1": "d30", "A3": "rel"}[s], *rest) for p, s, *rest in ROWS]
    tsv = write(tmp_path / "named.tsv", renamed)
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample_id\tpatient_id\tday\taccession\ndx\tP1\t0\tA0\nd30\tP1\t30\tA1\n")
    code, out = invoke("clonal", "import", str(tsv), "--samples", str(sheet), "--database-url", url)
    assert code == 2 and "'rel'" in out  # not in the sheet and not an accession
    sheet.write_text(sheet.read_text() + "rel\tP1\t150\tA3\n")
    code, out = invoke("clonal", "import", str(tsv), "--samples", str(sheet), "--database-url", url)
    assert code == 0, out
    assert len(stored(url)) == 9


def test_changing_a_signed_out_variant_is_refused(url: str, tmp_path: Path) -> None:
    tsv = write(tmp_path / "ngs.tsv", ROWS)
    assert invoke("clonal", "import", str(tsv), "--database-url", url)[0] == 0
    db = Database(url)
    with db.unit_of_work("t") as uow:
        npm1 = next(
            r
            for r in results.patient_results(uow, "P1", (ResultKind.NGS_VARIANT,))
            if r.accession == "A0" and r.analyte.startswith("NPM1")
        )
        results.verify_result(uow, npm1.id)
    db.dispose()
    changed = [(*r[:7], "0.46") if r[1:5] == ("A0", 0, "NPM1", "c.860_863dup") else r for r in ROWS]
    code, out = invoke(
        "clonal", "import", str(write(tmp_path / "c.tsv", changed)), "--database-url", url
    )
    assert code == 2 and "amend" in out and "row 2" in out
