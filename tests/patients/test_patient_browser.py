"""The patient pages in a real browser (Debian chromium): a patient signs in, reads their
before and after pages, cannot open another patient's page, and sees results only after a
clinician releases them. axe on every page; screenshots at 1400 and 400 px (phones) into the
artifacts folder; no page scrolls sideways at 400 px."""

from __future__ import annotations

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
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long enough patient test password"


class Site(NamedTuple):
    base: str
    env: dict[str, str]
    own: list[str]
    other: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, site_templates: Path) -> Iterator[Site]:
    require_browser()
    work = tmp_path_factory.mktemp("patient-pages")
    accounts = [("b.admin", "admin"), ("b.patient", "patient"), ("b.clinician", "clinician")]
    env = make_site(
        work,
        accounts,
        PASSWORD,
        env={"TREPHINE_CLINIC_PHONE": "0123 456 7890"},
        templates=site_templates,
    )
    run_cli(
        ["users", "link", "b.patient", "--patient", "DEMO-0001"],
        {**env, "TREPHINE_USER": "b.admin"},
    )
    env = {**env, "TREPHINE_USER": "b.clinician"}

    # The biopsies' ids, read here as `trephine patients show ID --json` shows them (the same
    # reader; two CLI start-ups saved, ~1.3 s of CPU each).
    from trephine.api.readers import patient_timeline
    from trephine.services import open_database

    database = open_database(env["TREPHINE_DATABASE_URL"])
    with database.unit_of_work("test-setup") as uow:
        own = [b.id for b in patient_timeline(uow, "DEMO-0001").biopsies]
        other = patient_timeline(uow, "DEMO-0002").biopsies[0].id
    database.dispose()
    with serving(env, work / "serve.log") as base:
        yield Site(base, env, own, other)


def test_patient_reads_own_pages_and_results_only_after_release(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    failures: list[str] = []
    latest = site.own[-1]
    sign_in(driver, site.base, "b.patient", PASSWORD)
    assert driver.current_url.endswith("/my")
    assert driver.find_element(By.ID, "user-role").text == "patient"
    look(driver, shots, "patient-home", failures)
    driver.find_element(By.CSS_SELECTOR, f"a[href='/my/procedures/{latest}/before']").click()
    assert "Why you are having this test" in driver.page_source
    look(driver, shots, "patient-before", failures)
    driver.get(f"{site.base}/my/procedures/{latest}/after")
    box = driver.find_element(By.CSS_SELECTOR, "section.callout")
    assert "0123 456 7890" in box.text and "When to call us" in box.text
    look(driver, shots, "patient-after", failures)
    driver.get(f"{site.base}/my/procedures/{latest}/results")
    assert "not ready to view yet" in driver.page_source
    look(driver, shots, "patient-results-waiting", failures)
    # Another patient's biopsy: not found, whatever the stage.
    driver.get(f"{site.base}/my/procedures/{site.other}/before")
    assert "We could not find that page" in driver.page_source
    assert "Why you are having this test" not in driver.page_source
    driver.get(f"{site.base}/patients/DEMO-0001")
    assert "DEMO-0001" not in driver.find_element(By.TAG_NAME, "main").text

    # A clinician releases the latest biopsy's results (the CLI form of the same action).
    run_cli(["release", latest], site.env)
    driver.get(f"{site.base}/my/procedures/{latest}/results")
    assert "not ready to view yet" not in driver.page_source
    assert "Questions to ask your doctor" in driver.page_source
    assert "Words we use" in driver.page_source
    look(driver, shots, "patient-results", failures)
    assert not failures, "\n".join(failures)
