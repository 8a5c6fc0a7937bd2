"""The patient pages in a real browser (Debian chromium): a patient signs in, reads their
before and after pages, cannot open another patient's page, and sees results only after a
clinician releases them. axe on every page; screenshots at 1400 and 400 px (phones) into the
artifacts folder; no page scrolls sideways at 400 px."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from trephine.testing.served import (
    artifacts_dir,
    browser_missing,
    chromium,
    run_cli,
    serving,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("TREPHINE_AXE_JS", ROOT / ".cache/node_modules/axe-core/axe.min.js"))
PASSWORD = "a long enough patient test password"


class Site(NamedTuple):
    base: str
    env: dict[str, str]
    own: list[str]
    other: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    missing = browser_missing() + ([] if AXE.is_file() else [f"axe-core at {AXE}"])
    if missing:
        message = f"browser tests need {', '.join(missing)}"
        if os.environ.get("TREPHINE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " and TREPHINE_REQUIRE_BROWSER=1")
        pytest.skip(message)
    work = tmp_path_factory.mktemp("patient-pages")
    env = {**os.environ, "TREPHINE_DATABASE_URL": f"sqlite:///{work / 'site.db'}"}
    env["TREPHINE_CLINIC_PHONE"] = "0123 456 7890"
    run_cli(["init"], env)
    run_cli(["demo", "--patients", "20", "--seed", "7", "--no-accounts"], env)
    run_cli(["users", "add", "b.admin", "--role", "admin", "--password-stdin"], env, PASSWORD)
    admin = {**env, "TREPHINE_USER": "b.admin"}
    for name, role in (("b.patient", "patient"), ("b.clinician", "clinician")):
        run_cli(["users", "add", name, "--role", role, "--password-stdin"], admin, PASSWORD)
    run_cli(["users", "link", "b.patient", "--patient", "DEMO-0001"], admin)
    env = {**env, "TREPHINE_USER": "b.clinician"}

    def biopsies(pid: str) -> list[str]:
        shown = run_cli(["patients", "show", pid, "--json"], env)
        return [b["id"] for b in json.loads(shown.stdout)["biopsies"]]

    with serving(env, work / "serve.log") as base:
        yield Site(base, env, biopsies("DEMO-0001"), biopsies("DEMO-0002")[0])


def _axe(driver: Any) -> list[str]:
    driver.execute_script(AXE.read_text())
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations));"
    )
    return [f"{v['id']}: {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]


def _look(driver: Any, shots: Path, name: str, failures: list[str]) -> None:
    failures.extend(f"{name}: {v}" for v in _axe(driver))
    for width in (1400, 400):
        driver.set_window_size(width, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(int(height) + 140, 6000))
        if driver.execute_script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
        ):
            failures.append(f"{name}: scrolls sideways at {width} px")
        driver.save_screenshot(str(shots / f"patient-{name}-{width}.png"))
    driver.set_window_size(1400, 1000)


def _sign_in(driver: Any, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/sign-in")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.sign-in-form button").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "user-role"))


def test_patient_reads_own_pages_and_results_only_after_release(
    site: Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from selenium.webdriver.common.by import By

    shots = artifacts_dir(tmp_path_factory.mktemp("screenshots"))
    failures: list[str] = []
    latest = site.own[-1]
    with chromium(1400, 1000) as driver:
        _sign_in(driver, site.base, "b.patient")
        assert driver.current_url.endswith("/my")
        assert driver.find_element(By.ID, "user-role").text == "patient"
        _look(driver, shots, "home", failures)
        driver.find_element(By.CSS_SELECTOR, f"a[href='/my/procedures/{latest}/before']").click()
        assert "Why you are having this test" in driver.page_source
        _look(driver, shots, "before", failures)
        driver.get(f"{site.base}/my/procedures/{latest}/after")
        box = driver.find_element(By.CSS_SELECTOR, "section.callout")
        assert "0123 456 7890" in box.text and "When to call us" in box.text
        _look(driver, shots, "after", failures)
        driver.get(f"{site.base}/my/procedures/{latest}/results")
        assert "not ready to view yet" in driver.page_source
        _look(driver, shots, "results-waiting", failures)
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
        _look(driver, shots, "results", failures)
    assert not failures, "\n".join(failures)
