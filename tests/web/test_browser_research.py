"""The research pages in a real browser (Debian chromium), signed in as a researcher: the
research list, a cohort page (definition, response rates, KM by landmark MRD with the at-risk
table, members), the study page, the export form and the paired-samples page. No identity
anywhere on any page — no name, MRN, birth date or record id of any patient, in the text, the
HTML or the plot image — and every page passes axe and fits 400 px (screenshots in the
artifacts folder). Signed in as a clinician: the enrolment form (an error shown next to its
field) and a patient's visits page with the hand-mapping form, axe and 400 px too."""

from __future__ import annotations

import base64
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from trephine.testing.served import (
    look,
    make_site,
    require_browser,
    run_cli,
    serving,
    sign_in,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long enough research test password"
KEY = "browser-research-export-key-0123"


class Site(NamedTuple):
    base: str
    db: Path
    identities: list[str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, site_templates: Path) -> Iterator[Site]:
    require_browser()
    work = tmp_path_factory.mktemp("research")
    accounts = [("r.admin", "admin"), ("r.researcher", "researcher"), ("r.clinician", "clinician")]
    env = make_site(
        work, accounts, PASSWORD, env={"TREPHINE_EXPORT_KEY": KEY}, templates=site_templates
    )
    db = work / "site.db"
    researcher = {**env, "TREPHINE_USER": "r.researcher"}
    run_cli(["cohort", "define", "aml", "--disease", "AML"], researcher)
    run_cli(["cohort", "define", "ind", "--study", "DEMO-AML-IND"], researcher)
    with sqlite3.connect(db) as con:
        found = [
            str(v)
            for row in con.execute(
                "SELECT p.external_id, i.name, i.mrn, i.birth_date, i.birth_date "
                "FROM patient p LEFT JOIN patient_identity i ON i.patient_id = p.id"
            )
            for v in row
            if v is not None
        ]
    # Names are "Family, Given": each part on its own too.
    identities = sorted({part.strip() for v in found for part in [v, *v.split(",")] if part})
    assert any(re.fullmatch(r"DEMO-\d{4}", v) for v in identities)
    with serving(env, work / "serve.log") as base:
        yield Site(base, db, identities)


def _no_identity(driver: Any, site: Site, name: str, failures: list[str]) -> None:
    """No patient's record id, name, MRN or birth date in the page's text, HTML or images."""
    from selenium.webdriver.common.by import By

    text = driver.find_element(By.TAG_NAME, "body").text
    html = driver.page_source
    images = [
        base64.b64decode(src.split("base64,", 1)[1]).decode("utf-8", "replace")
        for src in re.findall(r'src="(data:image/svg\+xml;base64,[^"]+)"', html)
    ]
    for where, blob in (("text", text), ("html", html), *(("plot", i) for i in images)):
        for value in site.identities:
            if re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", blob):
                failures.append(f"{name}: {value!r} in the page {where}")


def test_researcher_sees_cohort_study_and_export_without_identity(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    failures: list[str] = []
    sign_in(browser, site.base, "r.researcher", PASSWORD)
    assert browser.find_element(By.ID, "user-role").text == "researcher"

    browser.find_element(By.LINK_TEXT, "Research").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "cohorts"))
    look(browser, shots, "research-list", failures)
    browser.find_element(By.LINK_TEXT, "aml").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "members"))
    # The landmark form: day 60 ± 30, grouped as it was.
    landmark = browser.find_element(By.ID, "landmark")
    landmark.clear()
    landmark.send_keys("60")
    window = browser.find_element(By.ID, "window")
    window.clear()
    window.send_keys("30")
    browser.find_element(By.CSS_SELECTOR, "form.filter button").click()
    wait_for(browser, lambda d: "landmark=60" in d.current_url)
    rates = browser.find_element(By.ID, "response-rates").text
    assert "95 %" in browser.find_element(By.ID, "response-rates").get_attribute("innerHTML")
    assert re.search(r"\d+ of \d+", rates), rates
    assert browser.find_elements(By.ID, "km-plot"), "no KM plot at day 60 in the demo"
    km = browser.find_element(By.ID, "km-table").text
    assert "negative" in km or "positive" in km, km
    members = browser.find_element(By.ID, "members").text.split(", ")
    assert members and all(re.fullmatch(r"P[0-9a-f]{16}", m) for m in members), members
    _no_identity(browser, site, "cohort", failures)
    look(browser, shots, "research-cohort", failures)

    browser.get(f"{site.base}/research/studies/DEMO-AML-IND")
    wait_for(browser, lambda d: d.find_elements(By.ID, "enrolments"))
    assert "End of induction" in browser.find_element(By.ID, "schedule").text
    enrolled = browser.find_elements(By.CSS_SELECTOR, "#enrolments tbody tr")
    assert enrolled and "biopsy" in browser.find_element(By.ID, "enrolments").text
    _no_identity(browser, site, "study", failures)
    look(browser, shots, "research-study", failures)

    browser.get(f"{site.base}/research/cohorts/ind/export")
    wait_for(browser, lambda d: d.find_elements(By.ID, "download"))
    levels = [
        o.get_attribute("value")
        for o in browser.find_elements(By.CSS_SELECTOR, "#deidentify option")
    ]
    assert levels == ["safe-harbor", "limited"], "a researcher is offered identified exports"
    _no_identity(browser, site, "export", failures)
    look(browser, shots, "research-export", failures)
    assert not failures, "\n".join(failures)


def test_researcher_paired_samples_page_without_identity(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    failures: list[str] = []
    sign_in(browser, site.base, "r.researcher", PASSWORD)
    browser.get(f"{site.base}/research/cohorts/ind")
    wait_for(browser, lambda d: d.find_elements(By.ID, "paired-link"))
    browser.find_element(By.ID, "paired-link").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "clonal"))
    Select(browser.find_element(By.ID, "after")).select_by_value("end_of_induction")
    browser.find_element(By.CSS_SELECTOR, "form.filter button").click()
    wait_for(browser, lambda d: "after=end_of_induction" in d.current_url)
    assert browser.find_elements(By.CSS_SELECTOR, "table.clonal-pair"), "no clonal comparison"
    sentences = browser.find_element(By.ID, "paired-sentences").text
    assert "Wilcoxon signed-rank test: p = " in sentences, sentences
    _no_identity(browser, site, "paired", failures)
    look(browser, shots, "research-paired", failures)
    assert not failures, "\n".join(failures)


def test_researcher_microenvironment_page_without_identity(
    site: Site, browser: Any, shots: Path
) -> None:
    """Issue 14 §5: populations and measurements before and after therapy (table, paired-lines
    plot, pairs by pseudonym) and the aplastic-anaemia niche by day; axe and 400 px."""
    from selenium.webdriver.common.by import By

    failures: list[str] = []
    sign_in(browser, site.base, "r.researcher", PASSWORD)
    browser.get(f"{site.base}/research")
    wait_for(browser, lambda d: d.find_elements(By.ID, "microenvironment-link"))
    browser.find_element(By.ID, "microenvironment-link").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "niche"))
    tests = browser.find_element(By.ID, "microenv-tests").text
    assert "regulatory T cells" in tests, tests
    assert browser.find_elements(By.ID, "paired-lines"), "no paired-lines plot"
    patients = {
        cell.text
        for cell in browser.find_elements(By.CSS_SELECTOR, "#microenv-pairs td:nth-child(2)")
    }
    assert patients and all(re.fullmatch(r"P[0-9a-f]{16}", p) for p in patients), patients
    assert browser.find_elements(By.CSS_SELECTOR, "table.niche"), "no aplastic-anaemia niche"
    _no_identity(browser, site, "microenvironment", failures)
    look(browser, shots, "research-microenvironment", failures)
    assert not failures, "\n".join(failures)


def test_clinician_enrolment_and_visit_mapping_forms(site: Site, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    failures: list[str] = []
    sign_in(browser, site.base, "r.clinician", PASSWORD)
    browser.get(f"{site.base}/research/studies/DEMO-AML-IND")
    wait_for(browser, lambda d: d.find_elements(By.ID, "enrol-link"))
    browser.find_element(By.ID, "enrol-link").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "enrol-form"))
    browser.find_element(By.ID, "patient_id").send_keys("NO-SUCH-PATIENT")
    browser.find_element(By.ID, "enrol-submit").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "form-error"))
    for field in ("arm", "enrolled_on", "research_consent"):
        assert browser.find_elements(By.ID, f"err-{field}"), field
    look(browser, shots, "research-enrol-form-errors", failures)
    browser.get(f"{site.base}/research/studies/DEMO-AML-IND")
    wait_for(browser, lambda d: d.find_elements(By.ID, "enrolments"))
    browser.find_element(By.CSS_SELECTOR, "#enrolments tbody tr td.pid a").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "map-form"))
    assert browser.find_elements(By.CSS_SELECTOR, "#procedure option[value='none']")
    look(browser, shots, "research-map-form", failures)
    assert not failures, "\n".join(failures)
