"""Acceptance in a real browser (Debian chromium via selenium), one served app for the module.

For each role: sign in, search, open a patient, (clinician) acknowledge an alert, (lab) import a
file with an error and then a good one, sign out. Also: an idle session expires, a forged CSRF
token is refused. Every page is screenshotted at 1400 and 400 px into the artifacts folder
(``$TREPHINE_ARTIFACTS``, else ``$TREPHINE_SCREENSHOT_DIR``, else pytest's tmp dir) and checked
with axe-core (npm, installed by scripts/run-tests into .cache/node_modules; path overridable
with ``$TREPHINE_AXE_JS``): no serious or critical violation.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
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
EXAMPLE = ROOT / "docs" / "templates" / "example"
AXE = Path(os.environ.get("TREPHINE_AXE_JS", ROOT / ".cache/node_modules/axe-core/axe.min.js"))
PASSWORD = "a long enough browser test password"
ROLES = ("clinician", "lab", "researcher", "admin")


class Site(NamedTuple):
    base: str
    env: dict[str, str]
    work: Path


def _require_browser() -> None:
    missing = browser_missing() + ([] if AXE.is_file() else [f"axe-core at {AXE}"])
    if missing:
        message = f"browser tests need {', '.join(missing)}"
        if os.environ.get("TREPHINE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " and TREPHINE_REQUIRE_BROWSER=1")
        pytest.skip(message)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _require_browser()
    work = tmp_path_factory.mktemp("roles")
    env = {**os.environ, "TREPHINE_DATABASE_URL": f"sqlite:///{work / 'site.db'}"}
    run_cli(["init"], env)
    run_cli(["demo", "--patients", "20", "--seed", "7", "--no-accounts"], env)
    # The first account (an admin) is added freely; once accounts exist an admin adds the rest.
    run_cli(["users", "add", "b.admin", "--role", "admin", "--password-stdin"], env, PASSWORD)
    admin = {**env, "TREPHINE_USER": "b.admin"}
    for role in ROLES:
        if role != "admin":
            run_cli(
                ["users", "add", f"b.{role}", "--role", role, "--password-stdin"], admin, PASSWORD
            )
    with serving(env, work / "serve.log") as base:
        yield Site(base, env, work)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    with chromium(1400, 1000) as driver:
        yield driver


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artifacts_dir(tmp_path_factory.mktemp("screenshots"))


def _wait(driver: Any, condition: Any, timeout: float = 60) -> Any:
    return wait_for(driver, condition, timeout)  # waits through stale elements of a navigating page


def _axe(driver: Any) -> list[str]:
    """Serious and critical axe-core violations of the current page."""
    driver.execute_script(AXE.read_text())
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations));"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def _look(driver: Any, shots: Path, name: str, failures: list[str]) -> None:
    """Axe, then screenshots at 1400 and 400 px (full page height), then back to 1400."""
    failures.extend(f"{name}: {v}" for v in _axe(driver))
    for width in (1400, 400):
        driver.set_window_size(width, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(int(height) + 140, 6000))
        wide = driver.execute_script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        if wide:
            failures.append(f"{name}: scrolls sideways at {width} px")
        driver.save_screenshot(str(shots / f"{name}-{width}.png"))
    driver.set_window_size(1400, 1000)


def _sign_in(driver: Any, site: Site, role: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{site.base}/")
    _wait(driver, lambda d: "/sign-in" in d.current_url)
    driver.find_element(By.ID, "name").send_keys(f"b.{role}")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.sign-in-form button").click()
    _wait(driver, lambda d: d.find_elements(By.ID, "user-role"))
    assert driver.find_element(By.ID, "user-name").text == f"b.{role}"
    assert driver.find_element(By.ID, "user-role").text == role


def _search_and_open(driver: Any, patient: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(patient)
    driver.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    _wait(driver, lambda d: "q=" in d.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "#patient-table tbody tr")
    assert [r.get_attribute("data-patient-id") for r in rows] == [patient]
    driver.find_element(By.LINK_TEXT, patient).click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline-chart[data-rendered]"))


def _sign_out(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "sign-out").click()
    _wait(driver, lambda d: "/sign-in" in d.current_url)
    driver.get(driver.current_url.split("/sign-in")[0] + "/alerts")
    _wait(driver, lambda d: "/sign-in" in d.current_url)  # signed out for real


def _zip(path: Path, broken: bool) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for csv in sorted(EXAMPLE.glob("*.csv")):
            text = csv.read_text()
            if broken and csv.name == "patients.csv":
                text = text.replace("female", "feminine", 1)
            z.writestr(csv.name, text)
    path.write_bytes(buffer.getvalue())
    return path


def test_clinician_signs_in_searches_opens_acknowledges_signs_out(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    failures: list[str] = []
    browser.get(f"{site.base}/sign-in")
    _look(browser, shots, "sign-in", failures)
    _sign_in(browser, site, "clinician")
    _look(browser, shots, "patients", failures)
    _search_and_open(browser, "DEMO-0006")
    _look(browser, shots, "patient", failures)
    browser.get(f"{site.base}/alerts")
    _look(browser, shots, "alerts", failures)
    form = browser.find_elements(By.CSS_SELECTOR, "form.alert-actions")[0]
    alert_id = form.get_attribute("data-alert-id")
    form.find_element(By.NAME, "note").send_keys("seen in clinic")
    form.find_element(By.CSS_SELECTOR, "button[value=acknowledge]").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "alert-done"))
    browser.get(f"{site.base}/alerts?status=acknowledged")
    card = browser.find_element(By.CSS_SELECTOR, f".alert-card[data-alert-id='{alert_id}']")
    assert "acknowledged by b.clinician" in card.text and "seen in clinic" in card.text
    _sign_out(browser)
    assert not failures, "\n".join(failures)


def test_lab_imports_a_file_with_an_error_then_a_good_one(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    failures: list[str] = []
    _sign_in(browser, site, "lab")
    _search_and_open(browser, "DEMO-0003")
    browser.find_element(By.LINK_TEXT, "Import").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "upload-form"))
    _look(browser, shots, "import", failures)
    browser.find_element(By.ID, "file").send_keys(str(_zip(site.work / "bad.zip", True)))
    browser.find_element(By.ID, "check-import").click()
    errors = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#import-errors li"))
    assert any("patients.csv" in e.text and "sex" in e.text for e in errors)
    _look(browser, shots, "import-errors", failures)
    browser.find_element(By.ID, "file").send_keys(str(_zip(site.work / "good.zip", False)))
    browser.find_element(By.ID, "check-import").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "confirm-import")).pop().click()
    done = _wait(browser, lambda d: d.find_elements(By.ID, "import-done"))
    assert "patients" in done[0].text
    _look(browser, shots, "import-done", failures)
    _sign_out(browser)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["researcher", "admin"])
def test_other_roles_sign_in_search_open_and_sign_out(
    site: Site, browser: Any, shots: Path, role: str
) -> None:
    from selenium.webdriver.common.by import By

    _sign_in(browser, site, role)
    _search_and_open(browser, "DEMO-0001")
    browser.get(f"{site.base}/alerts")
    # Only clinicians act on alerts; only lab imports.
    assert not browser.find_elements(By.CSS_SELECTOR, "form.alert-actions")
    assert not browser.find_elements(By.LINK_TEXT, "Import")
    _sign_out(browser)


def test_a_forged_csrf_token_is_refused(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    _sign_in(browser, site, "clinician")
    browser.get(f"{site.base}/alerts")
    form = browser.find_elements(By.CSS_SELECTOR, "form.alert-actions")[0]
    browser.execute_script(
        "arguments[0].querySelector('input[name=csrf_token]').value = 'forged';", form
    )
    form.find_element(By.CSS_SELECTOR, "button[value=acknowledge]").click()
    _wait(browser, lambda d: "403" in d.find_element(By.TAG_NAME, "h1").text)
    _sign_out(browser)


def test_an_idle_session_expires(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    # The same database served with a 3-second idle timeout.
    env = {**site.env, "TREPHINE_SESSION_IDLE_MINUTES": "0.05"}
    with serving(env, site.work / "idle.log") as base:
        browser.delete_all_cookies()
        browser.get(f"{base}/sign-in")
        browser.find_element(By.ID, "name").send_keys("b.researcher")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form.sign-in-form button").click()
        _wait(browser, lambda d: d.find_elements(By.ID, "user-role"))
        time.sleep(4)
        browser.get(f"{base}/alerts")
        _wait(browser, lambda d: "/sign-in" in d.current_url)
