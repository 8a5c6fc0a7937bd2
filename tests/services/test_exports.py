"""Research exports: a Safe Harbor export of a cohort holding imported identities contains none of
them in any file of any format; Parquet reads back equal; the cBioPortal folder follows the
documented file rules; limited data sets shift dates per patient; every export is audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from testdata import REPO_ROOT
from trephine.cli.main import app
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.store.tables import (
    AuditEventRow,
    DiagnosisRow,
    PatientIdentityRow,
    PatientRow,
)

runner = CliRunner()
KEY = "test-export-key-0123456789"
FULL_DATE = re.compile(rb"(19|20)\d\d-[01]\d-[0-3]\d")


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def identified(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The example template (names, MRNs, birth dates) plus a 96-year-old, in a cohort 'all'."""
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", KEY)
    get_settings.cache_clear()
    src = tmp_path / "example"
    shutil.copytree(REPO_ROOT / "docs" / "templates" / "example", src)
    r = runner.invoke(app, ["import", str(src), "--database-url", database.url])
    assert r.exit_code == 0, r.stderr
    with database.unit_of_work("seed") as uow:
        p = PatientRow(
            external_id="OLD-1",
            sex="female",
            birth_year=1928,
            created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        )
        uow.session.add(p)
        uow.session.flush()
        uow.session.add(
            PatientIdentityRow(
                patient_id=p.id,
                name="Synthetic Elder",
                mrn="SYN-OLD-9",
                birth_date=dt.date(1928, 2, 3),
            )
        )
        uow.session.add(
            DiagnosisRow(
                patient_id=p.id,
                disease="MDS",
                classification="WHO 5th",
                subtype=None,
                diagnosed_on=dt.date(2024, 5, 6),
                genetics=[],
            )
        )
    r = runner.invoke(app, ["cohort", "define", "all", "--database-url", database.url])
    assert r.exit_code == 0, r.stderr
    return database


def identities(db: Database) -> list[bytes]:
    with db.unit_of_work("t") as uow:
        rows = uow.session.execute(
            select(
                PatientRow.external_id,
                PatientIdentityRow.name,
                PatientIdentityRow.mrn,
                PatientIdentityRow.birth_date,
            ).join(PatientIdentityRow, isouter=True)
        ).all()
    out: list[bytes] = []
    for ext, name, mrn, born in rows:
        out += [ext.encode()]
        out += [x.encode() for x in (name, mrn) if x]
        if born:
            out += [born.isoformat().encode()]
    return out


def export(db: Database, tmp_path: Path, fmt: str, level: str) -> Path:
    out = tmp_path / f"{fmt}-{level}"
    r = runner.invoke(
        app,
        [
            "export",
            "all",
            "--format",
            fmt,
            "--deidentify",
            level,
            "--out",
            str(out),
            "--database-url",
            db.url,
        ],
    )
    assert r.exit_code == 0, r.stderr
    return out


def file_text(path: Path) -> bytes:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas().to_csv(index=False).encode()
    return path.read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "cbioportal", "fhir"])
def test_safe_harbor_export_holds_no_identity(
    identified: Database, tmp_path: Path, fmt: str
) -> None:
    out = export(identified, tmp_path, fmt, "safe-harbor")
    secrets = identities(identified)
    assert len(secrets) >= 8
    files = list(out.iterdir())
    assert files
    for f in files:
        text = file_text(f)
        for s in secrets:
            assert s not in text, f"{s!r} found in {f.name}"
        assert not FULL_DATE.search(text), f"a full date in {f.name}: {FULL_DATE.search(text)}"
    # Ages over 89 are 90+; the data are still there (days from diagnosis, pseudonyms).
    if fmt == "csv":
        patients = (out / "patients.csv").read_text()
        assert ",90+," in patients
        assert "birth_year" not in patients
        assert "days from time zero" in (out / "data_dictionary.csv").read_text()
        assert "Safe Harbor" in (out / "README.txt").read_text()
        results = (out / "results.csv").read_text().splitlines()
        assert len(results) > 10 and results[0].startswith("patient_id,specimen_id,kind")


def test_pseudonyms_stable_across_exports_and_keyed(
    identified: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = (export(identified, tmp_path / "a", "csv", "safe-harbor") / "patients.csv").read_text()
    b = (export(identified, tmp_path / "b", "csv", "safe-harbor") / "patients.csv").read_text()
    assert a == b
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", "another-key-0123456789")
    get_settings.cache_clear()
    c = (export(identified, tmp_path / "c", "csv", "safe-harbor") / "patients.csv").read_text()
    assert c != a
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", "too-short")
    get_settings.cache_clear()
    r = runner.invoke(
        app, ["export", "all", "--out", str(tmp_path / "d"), "--database-url", identified.url]
    )
    assert r.exit_code == 2 and "TREPHINE_EXPORT_KEY" in r.stderr
    assert not (tmp_path / "d").exists()
    # Without the setting: the database's own key, stable, other pseudonyms than either key's.
    monkeypatch.delenv("TREPHINE_EXPORT_KEY")
    get_settings.cache_clear()
    d = (export(identified, tmp_path / "d", "csv", "safe-harbor") / "patients.csv").read_text()
    e = (export(identified, tmp_path / "e", "csv", "safe-harbor") / "patients.csv").read_text()
    assert d == e and d not in (a, c)


def test_parquet_reads_back_equal_to_csv(identified: Database, tmp_path: Path) -> None:
    import csv

    def shown(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v) if isinstance(v, float) else str(v)

    pq_dir = export(identified, tmp_path, "parquet", "safe-harbor")
    csv_dir = export(identified, tmp_path, "csv", "safe-harbor")
    names = sorted(f.stem for f in pq_dir.glob("*.parquet"))
    assert names == sorted(f.stem for f in csv_dir.glob("*.csv") if f.stem != "data_dictionary")
    for name in names:
        table = pq.read_table(pq_dir / f"{name}.parquet")
        with (csv_dir / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == table.column_names, name
        assert rows[1:] == [[shown(v) for v in r.values()] for r in table.to_pylist()], name
    types = pq.read_table(pq_dir / "results.parquet").schema
    assert str(types.field("value").type) == "double"
    assert str(types.field("collected_day").type) == "int64"


def test_limited_shifts_each_patient_by_one_secret_offset(
    identified: Database, tmp_path: Path
) -> None:
    import pandas as pd

    none = export(identified, tmp_path, "csv", "none")
    lim = export(identified, tmp_path, "csv", "limited")
    assert "LIMITED DATA SET" in (lim / "README.txt").read_text()
    real = pd.read_csv(none / "specimens.csv")
    shifted = pd.read_csv(lim / "specimens.csv")
    assert len(real) == len(shifted)
    real_d = pd.to_datetime(real.collected_on.str[:10])
    shift_d = pd.to_datetime(shifted.collected_on.str[:10])
    offsets = (shift_d - real_d).dt.days
    per_patient = offsets.groupby(shifted.patient_id).nunique()
    assert (per_patient == 1).all()
    assert offsets.between(-364, -1).all()
    for s in identities(identified):
        assert s not in (lim / "specimens.csv").read_bytes()


def test_cbioportal_folder_follows_the_file_rules(identified: Database, tmp_path: Path) -> None:
    out = export(identified, tmp_path, "cbioportal", "safe-harbor")
    meta = {
        f.name: dict(line.split(": ", 1) for line in f.read_text().splitlines())
        for f in out.glob("meta_*.txt")
    }
    study = meta["meta_study.txt"]
    assert {"type_of_cancer", "cancer_study_identifier", "name", "description"} <= set(study)
    assert re.fullmatch(r"[a-z0-9_]+", study["cancer_study_identifier"])
    for name, m in meta.items():
        if name == "meta_study.txt":
            continue
        assert m["cancer_study_identifier"] == study["cancer_study_identifier"]
        assert {"genetic_alteration_type", "datatype", "data_filename"} <= set(m)
        assert (out / m["data_filename"]).exists()
    ids: dict[str, set[str]] = {}
    for kind in ("patient", "sample"):
        lines = (out / f"data_clinical_{kind}.txt").read_text().splitlines()
        head, body = lines[:5], lines[5:]
        assert all(h.startswith("#") for h in head[:4]) and not head[4].startswith("#")
        width = len(head[4].split("\t"))
        assert all(len(x.split("\t")) == width for x in lines)
        types = head[2][1:].split("\t")
        assert set(types) <= {"STRING", "NUMBER", "BOOLEAN"}
        cols = head[4].split("\t")
        assert cols == [c.upper() for c in cols]
        for row in body:
            for _col, t, v in zip(cols, types, row.split("\t"), strict=True):
                if t == "NUMBER" and v != "NA":
                    float(v)
        ids[kind] = {r.split("\t")[cols.index(f"{kind.upper()}_ID")] for r in body}
        if kind == "sample":
            assert {r.split("\t")[0] for r in body} <= ids["patient"]
    maf = (out / "data_mutations.txt").read_text().splitlines()
    cols = maf[0].split("\t")
    assert {"Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification"} <= set(cols)
    for row in maf[1:]:
        assert row.split("\t")[cols.index("Tumor_Sample_Barcode")] in ids["sample"]
    tl = (out / "data_timeline.txt").read_text().splitlines()
    assert tl[0].split("\t")[:4] == ["PATIENT_ID", "START_DATE", "STOP_DATE", "EVENT_TYPE"]
    for row in tl[1:]:
        f = row.split("\t")
        assert f[0] in ids["patient"]
        int(f[1])


def test_every_export_is_audited_with_file_hashes(identified: Database, tmp_path: Path) -> None:
    out = export(identified, tmp_path, "csv", "safe-harbor")
    with identified.unit_of_work("t") as uow:
        ev = uow.session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "export")
        ).all()
    assert len(ev) == 1
    d = ev[0].detail
    assert ev[0].entity_id == "all v1" and d["level"] == "safe-harbor" and d["format"] == "csv"
    assert d["files"] == {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(out.iterdir())
    }
    r = runner.invoke(app, ["export", "all", "--out", str(out), "--database-url", identified.url])
    assert r.exit_code == 2 and "not an empty folder" in r.stderr
    r = runner.invoke(
        app,
        [
            "export",
            "all",
            "--deidentify",
            "partly",
            "--out",
            str(tmp_path / "x"),
            "--database-url",
            identified.url,
        ],
    )
    assert r.exit_code == 2 and "none, safe-harbor, limited" in r.stderr
