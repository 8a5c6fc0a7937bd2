"""``trephine report`` / ``reports`` / ``fhir bundle`` as a user runs them; the PDF's pages are
rendered to PNG with pdftoppm and must not be blank."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.present import fhir
from trephine.services import audit, signatures
from trephine.testing.report_seed import Seeded

PATH_PASSWORD = "a long enough password 3"


def _accounts(seeded: Seeded) -> None:
    """A lab signer and a clinician (the CLI acts as an account once one exists)."""
    from trephine.access import Role
    from trephine.services import accounts

    with seeded.database.unit_of_work("admin") as uow:
        accounts.add_user(uow, "dr.path", Role.LAB, password=PATH_PASSWORD)
        accounts.add_user(uow, "dr.k", Role.CLINICIAN, password="a long enough password 4")


def _run(
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    code: int = 0,
    stdin: str | None = None,
) -> str:
    from trephine.settings import get_settings

    monkeypatch.setenv("TREPHINE_DATABASE_URL", seeded.database.url)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == code, result.output
    return result.output


def png_pages(pdf: Path, out: Path) -> list[Path]:
    """Render every page of ``pdf`` to PNG with pdftoppm (poppler-utils)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(out / "page")], check=True)
    return sorted(out.glob("page-*.png"))


def assert_not_blank(png: Path) -> None:
    """The page body (without the running header and footer in the margins) has ink."""
    with Image.open(png) as image:
        grey = np.asarray(image.convert("L"))
    height = grey.shape[0]
    body = grey[int(height * 0.1) : int(height * 0.9)]
    dark = int((body < 128).sum())
    assert dark > 50, f"{png.name} is blank ({dark} dark pixels in the body)"


def test_issue_and_write_html_pdf_fhir(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pid = str(seeded.procedure)
    wc = _run(seeded, monkeypatch, "report", pid, "--out", str(tmp_path / "wc.html"))
    assert "working copy, 5 signed-out result(s)" in wc
    refused = _run(
        seeded, monkeypatch, "report", pid, "--format", "fhir", "--out", "x.json", code=2
    )
    assert "no issued report version" in refused
    issue = ["reports", "issue", pid, "--status", "final", "--password-stdin"]
    issue += ["--diagnosis", "AML with NPM1 mutation", "--classification", "ICC 2022"]
    # Without accounts nobody can sign: issuing is refused, naming what it needs.
    unsigned = _run(seeded, monkeypatch, *issue, "--as", "dr.path", code=2, stdin="x\n")
    assert "electronic signature" in unsigned and "trephine users add" in unsigned
    _accounts(seeded)
    monkeypatch.setenv("TREPHINE_USER", "dr.path")
    # A wrong password issues nothing (and is audited as a failed signature).
    wrong = _run(seeded, monkeypatch, *issue, code=2, stdin="not the password\n")
    assert "nothing was signed" in wrong
    out = _run(seeded, monkeypatch, *issue, stdin=f"{PATH_PASSWORD}\n")
    assert "issued version 1 (final)" in out and "by dr.path" in out
    assert "Electronically signed by dr.path on" in out and "meaning: approved final" in out
    with seeded.database.unit_of_work("t") as uow:
        sigs = signatures.signatures_of_report(uow, seeded.procedure)
        failed = [e for e in audit.events(uow, "user") if e.action == "signature-failed"]
    assert [(s.signer, s.meaning, s.method, s.valid) for s in sigs[1]] == [
        ("dr.path", "approved final", "password", True)
    ]
    assert [e.entity_id for e in failed] == ["dr.path"]
    monkeypatch.setenv("TREPHINE_USER", "dr.k")
    _run(seeded, monkeypatch, "reports", "discussed", pid, "--with", "patient")
    listing = _run(seeded, monkeypatch, "reports", "versions", pid)
    assert "v1 final" in listing and "(current)" in listing and "discussed by dr.k" in listing
    versions = json.loads(_run(seeded, monkeypatch, "reports", "versions", pid, "--json"))
    assert versions[0]["issued_by"] == "dr.path" and len(versions[0]["results"]) == 5

    pdf = tmp_path / "report.pdf"
    _run(seeded, monkeypatch, "report", pid, "--format", "pdf", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    pages = png_pages(pdf, tmp_path)
    assert pages
    for page in pages:
        assert_not_blank(page)

    html = tmp_path / "report.html"
    _run(seeded, monkeypatch, "report", pid, "--format", "html", "--out", str(html))
    page = html.read_text()
    # A clinician's account may see identity (the researcher's view: the test below).
    assert "Version 1 (final) — current" in page and "Synthetic Person" in page

    bundle = tmp_path / "report.json"
    _run(seeded, monkeypatch, "report", pid, "--format", "fhir", "--out", str(bundle))
    back = fhir.loads(bundle.read_text())
    kinds = {e.resource.get_resource_type() for e in back.entry}
    assert {"Patient", "DiagnosticReport", "Observation", "Specimen", "Procedure"} <= kinds

    whole = tmp_path / "patient.json"
    said = _run(seeded, monkeypatch, "fhir", "bundle", "--patient", "P001", "--out", str(whole))
    assert "1 DiagnosticReport" in said and "3 Specimen" in said
    fhir.loads(whole.read_text())


def test_refusals(seeded: Seeded, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pid = str(seeded.procedure)
    bad = _run(seeded, monkeypatch, "report", pid, "--format", "docx", "--out", "x", code=2)
    assert "error: --format" in bad and "html, pdf, fhir" in bad
    bad = _run(seeded, monkeypatch, "reports", "issue", pid, "--status", "draft", code=2)
    assert "error: --status" in bad and "preliminary, final, amended" in bad
    bad = _run(seeded, monkeypatch, "report", "999", "--out", str(tmp_path / "x.html"), code=2)
    assert "procedure 999 not found" in bad
    bad = _run(seeded, monkeypatch, "reports", "discussed", pid, "--at", "yesterday", code=2)
    assert "error: --at" in bad


def test_identity_follows_the_cli_account(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from trephine.access import Role
    from trephine.services import accounts

    with seeded.database.unit_of_work("admin") as uow:
        accounts.add_user(uow, "lab.one", Role.LAB, password="a long enough password 1")
        accounts.add_user(uow, "res.one", Role.RESEARCHER, password="a long enough password 2")
    pid = str(seeded.procedure)
    monkeypatch.setenv("TREPHINE_USER", "lab.one")
    _run(seeded, monkeypatch, "report", pid, "--working-copy", "--out", str(tmp_path / "a.html"))
    assert "Synthetic Person, MRN MRN-0001" in (tmp_path / "a.html").read_text()
    monkeypatch.setenv("TREPHINE_USER", "res.one")
    _run(seeded, monkeypatch, "report", pid, "--working-copy", "--out", str(tmp_path / "b.html"))
    assert "Synthetic Person" not in (tmp_path / "b.html").read_text()
