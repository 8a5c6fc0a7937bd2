"""The marrow lab's day in a real browser (issue 10 acceptance; Debian chromium via selenium):
order → collect → receive → enter a differential (live figures checked against the server's) and
a flow MRD result → sign out with the password re-entered → amend one value with a reason →
the lab signs and issues the final report (password re-entered) → the clinician opens the
report, downloads its PDF (every page rendered to PNG with pdftoppm and checked for ink) and
sees the study's turnaround, collection to that final report.

Screenshots at 1400 and 400 px go to the artifacts folder and every page is checked with axe
(``trephine.testing.served.look``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from trephine.testing.served import (
    look,
    make_site,
    require_browser,
    serving,
    sign_in,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long enough browser test password"
PATIENT = "DEMO-0001"
ACCESSION = "LAB-PATH-1"
COUNTS = {
    "blasts": 31,
    "promyelocytes": 12,
    "myelocytes": 40,
    "metamyelocytes": 30,
    "bands": 20,
    "neutrophils": 107,
    "eosinophils": 6,
    "monocytes": 10,
    "proerythroblasts": 10,
    "erythroblasts": 150,
    "lymphocytes": 74,
    "plasma_cells": 10,
}  # 500 cells: blasts 6.2 %


class Site(NamedTuple):
    base: str
    url: str
    procedure: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, site_templates: Path) -> Iterator[Site]:
    require_browser()
    from trephine.domain import Procedure, Specimen, SpecimenType
    from trephine.domain import Site as BodySite
    from trephine.services import open_database, procedures

    work = tmp_path_factory.mktemp("lab-path")
    accounts = [("b.admin", "admin"), ("b.clinician", "clinician"), ("b.lab", "lab")]
    env = make_site(work, accounts, PASSWORD, patients=6, templates=site_templates)
    url = env["TREPHINE_DATABASE_URL"]
    at = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
    database = open_database(url)
    with database.unit_of_work("test-setup") as uow:
        proc, _ = procedures.record_procedure(
            uow, PATIENT, Procedure(at, BodySite.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, PATIENT, Specimen(ACCESSION, SpecimenType.ASPIRATE, at, first_pull=True), proc
        )
    database.dispose()
    with serving(env, work / "serve.log") as base:
        yield Site(base, url, proc)


def _sign_in(driver: Any, site: Site, role: str) -> None:
    sign_in(driver, site.base, f"b.{role}", PASSWORD, start="/lab/worklist")


def _look(driver: Any, shots: Path, name: str, failures: list[str]) -> None:
    look(driver, shots, f"lab-{name}", failures)


def _click(driver: Any, element_id: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, element_id).click()


def _study_url(driver: Any, site: Site, study: str) -> str:
    from selenium.webdriver.common.by import By

    driver.get(f"{site.base}/lab/orders?patient={PATIENT}")
    card = driver.find_element(By.ID, f"procedure-{site.procedure}")
    link = next(a for a in card.find_elements(By.CSS_SELECTOR, "ul.studies a") if study in a.text)
    return str(link.get_attribute("href"))


def _enter(driver: Any, values: dict[str, object]) -> None:
    from selenium.webdriver.common.by import By

    for name, value in values.items():
        box = driver.find_element(By.ID, f"f-{name}")
        if box.tag_name == "select":
            from selenium.webdriver.support.ui import Select

            Select(box).select_by_value(str(value))
        else:
            box.clear()
            box.send_keys(str(value))


def _sign(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "sign-password").send_keys(PASSWORD)
    _click(driver, "sign-submit")
    wait_for(driver, lambda d: d.find_elements(By.ID, "result-done"))
    assert "Electronically signed by b.lab" in driver.find_element(By.ID, "versions").text


def test_order_collect_receive_enter_sign_out_amend_and_report(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    failures: list[str] = []
    # The clinician orders morphology and flow MRD for the marrow and marks it collected.
    _sign_in(browser, site, "clinician")
    browser.get(f"{site.base}/lab/orders?patient={PATIENT}")
    _look(browser, shots, "orders", failures)
    for code in ("morphology", "flow-mrd"):
        _click(browser, f"order-{site.procedure}-{code}")
    browser.find_element(By.ID, f"indication-{site.procedure}").send_keys("day 28 response")
    _click(browser, f"order-submit-{site.procedure}")
    wait_for(browser, lambda d: d.find_elements(By.ID, "order-done"))
    for study in ("Aspirate morphology", "Flow cytometry MRD"):
        browser.get(_study_url(browser, site, study))
        _click(browser, "step-collect")
        wait_for(browser, lambda d: d.find_element(By.ID, "study-state").text == "collected")
    assert browser.find_element(By.ID, "study-specimen").text == ACCESSION

    # The lab receives both, enters a differential and signs it out.
    _sign_in(browser, site, "lab")
    _look(browser, shots, "worklist", failures)
    for study in ("Aspirate morphology", "Flow cytometry MRD"):
        browser.get(_study_url(browser, site, study))
        _click(browser, "step-receive")
        wait_for(browser, lambda d: d.find_element(By.ID, "study-state").text == "received")
    _look(browser, shots, "study", failures)
    browser.get(_study_url(browser, site, "Aspirate morphology"))
    _click(browser, "enter-differential")
    wait_for(browser, lambda d: d.find_elements(By.ID, "diff-grid"))
    _enter(browser, COUNTS)
    live_blasts = browser.find_element(By.ID, "live-blasts").text
    live_ci = browser.find_element(By.ID, "live-blasts-ci").text
    assert browser.find_element(By.ID, "live-total").text == "500"
    assert live_blasts == "6.2 %"
    assert browser.find_element(By.ID, "live-me").text == "1.5:1"  # 246 myeloid / 160 erythroid
    _look(browser, shots, "differential-entry", failures)
    _click(browser, "entry-save")
    wait_for(browser, lambda d: "/results/" in d.current_url)
    differential_url = browser.current_url
    # The browser's live figures are the server's (analysis.stats.wilson).
    assert browser.find_element(By.ID, "server-blasts").text == live_blasts
    assert (
        live_ci.strip("()").replace("95 % CI ", "")
        in browser.find_element(By.ID, "result-summary").text
    )
    _look(browser, shots, "result-draft", failures)
    _sign(browser)

    # Flow MRD, typed in, signed out.
    browser.get(_study_url(browser, site, "Flow cytometry MRD"))
    _click(browser, "enter-flow_mrd")
    wait_for(browser, lambda d: d.find_elements(By.ID, "f-mrd"))
    _enter(browser, {"mrd": "0.05", "method": "LAIP", "events_acquired": "500000"})
    _look(browser, shots, "flow-entry", failures)
    _click(browser, "entry-save")
    wait_for(browser, lambda d: "/results/" in d.current_url)
    _sign(browser)
    browser.get(_study_url(browser, site, "Flow cytometry MRD"))
    assert browser.find_element(By.ID, "study-state").text == "reported"

    # Amend one count of the differential with a reason; both versions side by side.
    browser.get(differential_url)
    _enter(browser, {"blasts": 36, "neutrophils": 102})
    browser.find_element(By.ID, "amend-reason").send_keys("recount of the blast fraction")
    browser.find_element(By.ID, "amend-password").send_keys(PASSWORD)
    _click(browser, "amend-submit")
    wait_for(browser, lambda d: d.find_elements(By.ID, "result-done"))
    table = browser.find_element(By.ID, "versions").text
    assert "v1 superseded" in table and "v2 amended" in table
    assert "recount of the blast fraction" in table
    assert len(browser.find_elements(By.CSS_SELECTOR, "#versions td.changed")) == 2
    _look(browser, shots, "result-amended", failures)

    # The lab issues the final report: an electronic signature, the password re-entered.
    report_url = f"{site.base}/procedures/{site.procedure}/report"
    browser.get(report_url)
    wait_for(browser, lambda d: d.find_elements(By.ID, "issue-form"))
    Select(browser.find_element(By.ID, "issue-status")).select_by_value("final")
    browser.find_element(By.ID, "issue-diagnosis").send_keys("AML in morphological remission")
    browser.find_element(By.ID, "issue-password").send_keys(PASSWORD)
    _click(browser, "issue-submit")
    wait_for(browser, lambda d: d.find_elements(By.ID, "report-done"))
    assert "Issued version 1." in browser.find_element(By.ID, "report-done").text
    signed = browser.find_element(By.ID, "report-signatures").text
    assert "Electronically signed by b.lab" in signed and "approved final" in signed
    issued_at = dt.datetime.now(dt.UTC)

    # The clinician reads it: the page, the PDF, and the order's turnaround.
    _sign_in(browser, site, "clinician")
    browser.get(report_url)
    wait_for(browser, lambda d: d.find_elements(By.ID, "report-pdf"))
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "Version 1 (final)" in page and "AML in morphological remission" in page
    assert "7.2 %" in page  # the amended differential: 36 blasts of 500
    assert not browser.find_elements(By.ID, "issue-form")  # a clinician does not issue
    _look(browser, shots, "report", failures)
    pdf_url = browser.find_element(By.ID, "report-pdf").get_attribute("href")
    pdf = _download(browser, str(pdf_url))
    assert pdf.startswith(b"%PDF")
    pages = _pdf_pages(pdf, shots)
    assert pages, "pdftoppm rendered no page"
    for png in pages:
        _assert_ink(png)
    browser.get(_study_url(browser, site, "Aspirate morphology"))
    shown = browser.find_element(By.ID, "study-turnaround").text
    assert "from collection to the final report" in shown and "issued marrow report" in shown
    hours = float(shown.split(" h ", 1)[0])
    collected = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
    assert abs(hours - (issued_at - collected).total_seconds() / 3600) < 1.0
    _look(browser, shots, "study-turnaround", failures)
    browser.get(f"{site.base}/lab/turnaround")
    assert "morphology" in browser.find_element(By.TAG_NAME, "main").text
    _look(browser, shots, "turnaround", failures)
    assert not failures, "\n".join(failures)


def _download(driver: Any, url: str) -> bytes:
    """GET ``url`` with the browser's session cookie (what the download link fetches)."""
    import httpx

    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    answer = httpx.get(url, cookies=cookies, timeout=120)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"] == "application/pdf"
    return answer.content


def _pdf_pages(pdf: bytes, out: Path) -> list[Path]:
    """Every page of ``pdf`` rendered to PNG with pdftoppm (poppler-utils)."""
    import shutil
    import subprocess

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    (out / "lab-report.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", str(out / "lab-report.pdf"), str(out / "lab-report-page")],
        check=True,
    )
    return sorted(out.glob("lab-report-page-*.png"))


def _assert_ink(png: Path) -> None:
    """The page body (without the running header and footer) is not blank."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        grey = np.asarray(image.convert("L"))
    body = grey[int(grey.shape[0] * 0.1) : int(grey.shape[0] * 0.9)]
    assert int((body < 128).sum()) > 50, f"{png.name} is blank"
