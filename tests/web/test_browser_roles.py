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
import time
import zipfile
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

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "templates" / "example"
PASSWORD = "a long enough browser test password"
ROLES = ("admin", "clinician", "lab", "researcher")


class Site(NamedTuple):
    base: str
    env: dict[str, str]
    work: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, site_templates: Path) -> Iterator[Site]:
    require_browser()
    work = tmp_path_factory.mktemp("roles")
    env = make_site(
        work, [(f"b.{role}", role) for role in ROLES], PASSWORD, templates=site_templates
    )
    with serving(env, work / "serve.log") as base:
        yield Site(base, env, work)


def _sign_in(driver: Any, site: Site, role: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, site.base, f"b.{role}", PASSWORD, start="/")
    assert driver.find_element(By.ID, "user-name").text == f"b.{role}"
    assert driver.find_element(By.ID, "user-role").text == role


def _search_and_open(driver: Any, patient: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(patient)
    driver.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    wait_for(driver, lambda d: "q=" in d.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "#patient-table tbody tr")
    assert [r.get_attribute("data-patient-id") for r in rows] == [patient]
    driver.find_element(By.LINK_TEXT, patient).click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline-chart[data-rendered]"))


def _sign_out(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "sign-out").click()
    wait_for(driver, lambda d: "/sign-in" in d.current_url)
    driver.get(driver.current_url.split("/sign-in")[0] + "/alerts")
    wait_for(driver, lambda d: "/sign-in" in d.current_url)  # signed out for real


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


#: A text field's inner width and the width of its placeholder in the field's own font.
_HINT = """
const field = arguments[0], style = getComputedStyle(field);
const canvas = document.createElement('canvas').getContext('2d');
canvas.font = style.font;
const inner = field.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
return [inner, canvas.measureText(field.placeholder).width];
"""


def test_clinician_signs_in_searches_opens_acknowledges_signs_out(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    failures: list[str] = []
    browser.get(f"{site.base}/sign-in")
    look(browser, shots, "sign-in", failures)
    _sign_in(browser, site, "clinician")
    look(browser, shots, "patients", failures)
    _search_and_open(browser, "DEMO-0006")
    look(browser, shots, "patient", failures)
    browser.get(f"{site.base}/alerts")
    look(browser, shots, "alerts", failures)
    form = browser.find_elements(By.CSS_SELECTOR, "form.alert-actions")[0]
    alert_id = form.get_attribute("data-alert-id")
    for width in (1400, 400):
        # The note field shows its whole hint (it read 'what you did, or why it d').
        browser.set_window_size(width, 1000)
        room, hint = browser.execute_script(_HINT, form.find_element(By.NAME, "note"))
        assert room >= hint, (width, room, hint)
    browser.set_window_size(1400, 1000)
    form.find_element(By.NAME, "note").send_keys("seen in clinic")
    form.find_element(By.CSS_SELECTOR, "button[value=acknowledge]").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "alert-done"))
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
    wait_for(browser, lambda d: d.find_elements(By.ID, "upload-form"))
    look(browser, shots, "import", failures)
    browser.find_element(By.ID, "file").send_keys(str(_zip(site.work / "bad.zip", True)))
    browser.find_element(By.ID, "check-import").click()
    errors = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#import-errors li"))
    assert any("patients.csv" in e.text and "sex" in e.text for e in errors)
    look(browser, shots, "import-errors", failures)
    browser.find_element(By.ID, "file").send_keys(str(_zip(site.work / "good.zip", False)))
    browser.find_element(By.ID, "check-import").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "confirm-import")).pop().click()
    done = wait_for(browser, lambda d: d.find_elements(By.ID, "import-done"))
    assert "patients" in done[0].text
    look(browser, shots, "import-done", failures)
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
    if role == "admin":
        # The sessions table's hidden "Action" header label once widened the page at 400 px.
        failures: list[str] = []
        browser.get(f"{site.base}/admin/sessions")
        look(browser, shots, "admin-sessions", failures)
        assert not failures, failures
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
    wait_for(browser, lambda d: "403" in d.find_element(By.TAG_NAME, "h1").text)
    _sign_out(browser)


def test_an_idle_session_expires(site: Site, browser: Any) -> None:
    # The same database served with a 3-second idle timeout.
    env = {**site.env, "TREPHINE_SESSION_IDLE_MINUTES": "0.05"}
    with serving(env, site.work / "idle.log") as base:
        sign_in(browser, base, "b.researcher", PASSWORD)
        time.sleep(4)
        browser.get(f"{base}/alerts")
        wait_for(browser, lambda d: "/sign-in" in d.current_url)
