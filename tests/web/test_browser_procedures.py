"""Acceptance in a real browser (Debian chromium via selenium): a clinician plans a marrow, fills
the checklist with apixaban and platelets 18 ×10⁹/L and sees REVIEW_REQUIRED with both reasons,
records consent and the procedure; the report page shows the rates; a clinical examination is
refused on its field, corrected and recorded. Screenshots at 1400 and
400 px and axe-core (trephine.testing.served.look)."""

from __future__ import annotations

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


class Site(NamedTuple):
    base: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, site_templates: Path) -> Iterator[Site]:
    require_browser()
    work = tmp_path_factory.mktemp("procedures")
    env = make_site(
        work, [("b.clinician", "clinician")], PASSWORD, patients=12, templates=site_templates
    )
    with serving(env, work / "serve.log") as base:
        yield Site(base, env)


def _set(driver: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].value = arguments[1];", element, value)


def test_clinician_checklist_review_required_consent_and_procedure(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    failures: list[str] = []
    sign_in(browser, site.base, "b.clinician", PASSWORD, start="/")
    browser.find_element(By.LINK_TEXT, "Procedures").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "plan-form"))
    look(browser, shots, "procedures", failures)
    browser.find_element(By.ID, "patient_id").send_keys("DEMO-0001")
    _set(browser, "planned_for", "2026-12-03T09:00")
    Select(browser.find_element(By.ID, "indication")).select_by_value("suspected leukaemia")
    browser.find_element(By.ID, "operator").send_keys("Dr Demo Ash")
    browser.find_element(By.ID, "plan-submit").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "checklist-form"))
    browser.find_element(By.ID, "med_name_0").send_keys("apixaban")
    _set(browser, "med_last_dose_0", "2026-12-02T20:00")
    browser.find_element(By.ID, "platelets").send_keys("18")
    Select(browser.find_element(By.ID, "fasting")).select_by_value("light meal")
    browser.find_element(By.ID, "checklist-submit").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "safety-decision"))
    box = browser.find_element(By.ID, "safety-decision")
    assert box.get_attribute("data-decision") == "REVIEW_REQUIRED"
    codes = [
        li.get_attribute("data-code")
        for li in browser.find_elements(By.CSS_SELECTOR, "#safety-reasons li")
    ]
    assert codes == ["PLATELETS_LOW", "ANTICOAGULANT"]
    assert "Platelets 18" in box.text and "apixaban" in box.text
    look(browser, shots, "procedure-checklist", failures)
    _set(browser, "consented_at", "2026-12-03T08:30")
    browser.find_element(By.ID, "leaflet_version").send_keys("2026-1")
    for n in (1, 2, 3):
        browser.find_element(By.ID, f"risk-{n}").click()
    browser.find_element(By.ID, "consent-submit").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "consent-record"))
    assert "b.clinician" in browser.find_element(By.ID, "consent-record").text
    _set(browser, "performed_at", "2026-12-03T09:10")
    browser.find_element(By.ID, "needle").send_keys("Jamshidi 11G")
    browser.find_element(By.ID, "done-submit").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "procedure-record"))
    assert browser.find_element(By.ID, "plan-status").text == "done"
    look(browser, shots, "procedure-done", failures)
    browser.get(f"{site.base}/procedures/report?by=needle")
    wait_for(browser, lambda d: d.find_elements(By.ID, "rates"))
    assert "Jamshidi 11G" in browser.find_element(By.ID, "rates").text
    look(browser, shots, "procedure-report", failures)
    _examination(browser, site, shots, failures)
    assert not failures, "\n".join(failures)


def _examination(browser: Any, site: Site, shots: Path, failures: list[str]) -> None:
    """The clinician records a clinical examination from the patient page: a spleen of 60 cm is
    refused on its field with the allowed range, then the corrected form is recorded and listed
    at the precision typed (15 mm → 1.5 cm)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{site.base}/patients/DEMO-0001")
    browser.find_element(By.ID, "exams-link").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "exam-form"))
    _set(browser, "f-examined_on", "2026-12-02")
    browser.find_element(By.ID, "f-largest_node").send_keys("15")
    Select(browser.find_element(By.ID, "u-largest_node")).select_by_value("mm")
    Select(browser.find_element(By.ID, "f-liver_spleen_normal")).select_by_value("yes")
    browser.find_element(By.ID, "f-spleen_length").send_keys("60")
    Select(browser.find_element(By.ID, "f-constitutional_symptoms")).select_by_value("no")
    browser.find_element(By.ID, "exam-submit").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "exam-errors"))
    assert "0–50 cm" in browser.find_element(By.ID, "err-spleen_length").text
    look(browser, shots, "exam-refused", failures)
    spleen = browser.find_element(By.ID, "f-spleen_length")
    spleen.clear()
    spleen.send_keys("12.5")
    browser.find_element(By.ID, "exam-submit").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "exams"))
    row = browser.find_element(By.CSS_SELECTOR, "#exams tbody tr").text
    assert "1.5 cm" in row and "12.5 cm" in row and "b.clinician" in row
    look(browser, shots, "exam-recorded", failures)
