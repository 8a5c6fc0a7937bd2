"""``trephine users link``, ``trephine release`` and ``trephine leaflet`` as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from typer.testing import CliRunner

from patients.conftest import Portal
from trephine.cli.main import app


def _run(portal: Portal, *args: str, user: str = "test-clinician") -> tuple[int, str]:
    from trephine.settings import get_settings
    from trephine.store.database import Database
    from trephine.testing.accounts import ensure_user

    database = Database(portal.url)
    ensure_user(database, user.removeprefix("test-"))
    database.dispose()
    get_settings.cache_clear()
    result = CliRunner().invoke(
        app, [*args, "--database-url", portal.url], env={"TREPHINE_USER": user}
    )
    get_settings.cache_clear()
    return result.exit_code, result.output


def test_leaflet_html_and_pdf(portal: Portal, tmp_path: Path) -> None:
    pid = portal.accounts["pat-two"]
    procedure = portal.procedures[pid][0]
    code, out = _run(
        portal,
        "leaflet",
        str(procedure),
        "--stage",
        "after",
        "--format",
        "html",
        "--out",
        str(tmp_path / "after.html"),
    )
    assert code == 0, out
    html = (tmp_path / "after.html").read_text()
    assert "When to call us" in html and 'class="callout"' in html
    code, out = _run(
        portal,
        "leaflet",
        str(procedure),
        "--stage",
        "before",
        "--format",
        "pdf",
        "--out",
        str(tmp_path / "before.pdf"),
    )
    assert code == 0, out
    pdf = (tmp_path / "before.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    # pdftoppm (poppler) renders the first page to a PNG that is not blank.
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "40",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "before.pdf"),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    png = next(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 1_000


def test_results_leaflet_waits_for_release_then_explains(portal: Portal, tmp_path: Path) -> None:
    pid = portal.accounts["pat-two"]
    procedure = portal.procedures[pid][-1]
    out_file = tmp_path / "results.html"
    code, out = _run(
        portal, "leaflet", str(procedure), "--stage", "results", "--out", str(out_file)
    )
    assert code == 0, out
    assert "not ready to view yet" in out_file.read_text()
    code, out = _run(portal, "release", str(procedure), "--note", "discussed in clinic")
    assert code == 0 and "results released" in out, out
    code, out = _run(portal, "release", str(procedure))
    assert code != 0 and "already released" in out
    code, out = _run(
        portal, "leaflet", str(procedure), "--stage", "results", "--out", str(out_file)
    )
    assert code == 0, out
    assert "Questions to ask your doctor" in out_file.read_text()


def test_bad_input_is_named(portal: Portal, tmp_path: Path) -> None:
    code, out = _run(portal, "leaflet", "1", "--stage", "during", "--out", str(tmp_path / "x"))
    assert code != 0 and "stage" in out and "before, after, results" in out
    code, out = _run(portal, "leaflet", "999999", "--out", str(tmp_path / "x"))
    assert code != 0 and "999999" in out
    code, out = _run(portal, "users", "link", "pat-one", "--patient", "NOPE-1", user="test-admin")
    assert code != 0 and "NOPE-1" in out
    code, out = _run(portal, "users", "link", "nobody", "--patient", "DEMO-0001", user="test-admin")
    assert code != 0 and "nobody" in out
    # Only a role that grants it may release or link.
    code, out = _run(portal, "release", "1", user="test-lab")
    assert code != 0 and "results:release" in out
    code, out = _run(portal, "users", "link", "pat-one", "--patient", "DEMO-0001")
    assert code != 0 and "users:manage" in out
