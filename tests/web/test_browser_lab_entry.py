"""Entering a cell population and a microenvironment measurement in the browser (issue 14: the
lab's entry pages /lab/entry/{accession}/{kind}), in a real browser (Debian chromium) signed in
as lab: each form first with one bad value, refused on its field (the error list links to it, the
field says why and what is allowed, nothing is recorded), then corrected and saved as a draft
whose result page shows it - the population's shares with their 95 % Wilson intervals. The
population, parent and total are chosen from the vocabulary (domain/populations.py). axe and
sideways scrolling at 1400 and 400 px on every page (trephine.testing.served.look)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from trephine.testing.served import look, make_site, require_browser, serving, sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long enough entry test password"
ASPIRATE, CORE = "ENTRY-BROWSER-A", "ENTRY-BROWSER-C"


class Site(NamedTuple):
    base: str
    database_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, site_templates: Path) -> Iterator[Site]:
    require_browser()
    from trephine.domain import Procedure, Specimen, SpecimenType
    from trephine.domain import Site as BodySite
    from trephine.services import open_database, procedures

    work = tmp_path_factory.mktemp("entry")
    env = make_site(
        work, [("b.admin", "admin"), ("b.lab", "lab")], PASSWORD, patients=6,
        templates=site_templates,
    )  # fmt: skip
    at = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
    url = env["TREPHINE_DATABASE_URL"]
    database = open_database(url)
    with database.unit_of_work("test-setup") as uow:
        proc, _ = procedures.record_procedure(
            uow, "DEMO-0001", Procedure(at, BodySite.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, "DEMO-0001", Specimen(ASPIRATE, SpecimenType.ASPIRATE, at, first_pull=True), proc
        )
        procedures.add_specimen(
            uow, "DEMO-0001", Specimen(CORE, SpecimenType.TREPHINE_CORE, at), proc
        )
    database.dispose()
    with serving(env, work / "serve.log") as base:
        yield Site(base, url)


def _stored(site: Site, accession: str) -> list[Any]:
    from trephine.services import open_database, results

    database = open_database(site.database_url)
    try:
        with database.unit_of_work("test-reader") as uow:
            return [
                r
                for r in results.list_results(uow, patient="DEMO-0001")
                if r.accession == accession
            ]
    finally:
        database.dispose()


def _type(driver: Any, name: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, f"f-{name}")
    box.clear()
    box.send_keys(text)


def _choose(driver: Any, name: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, f"f-{name}")).select_by_value(value)


def _refused_on(driver: Any, field: str) -> str:
    """The error shown for ``field``: listed (linking to the field) and beside the field."""
    from selenium.webdriver.common.by import By

    wait_for(driver, lambda d: d.find_elements(By.ID, "entry-errors"))
    links = driver.find_elements(By.CSS_SELECTOR, f'#entry-errors a[href="#f-{field}"]')
    assert links, driver.find_element(By.ID, "entry-errors").text
    box = driver.find_element(By.ID, f"f-{field}")
    assert box.get_attribute("aria-invalid") == "true"
    assert f"err-{field}" in str(box.get_attribute("aria-describedby"))
    return str(driver.find_element(By.ID, f"err-{field}").text)


def _saved(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "entry-save").click()
    wait_for(driver, lambda d: "/results/" in d.current_url)
    return str(driver.find_element(By.TAG_NAME, "main").text)


def test_lab_enters_a_population_and_a_measurement(site: Site, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from trephine.domain.populations import CELL_TYPES

    failures: list[str] = []
    sign_in(browser, site.base, "b.lab", PASSWORD, start=f"/lab/entry/{ASPIRATE}/population")
    wait_for(browser, lambda d: d.find_elements(By.ID, "entry-form"))
    offered = [o.get_attribute("value") for o in Select(
        browser.find_element(By.ID, "f-population")).options]  # fmt: skip
    assert offered == ["", *CELL_TYPES]
    look(browser, shots, "entry-population", failures)

    # A count above its parent's: refused on the count, nothing recorded.
    _choose(browser, "population", "regulatory T cells")
    _type(browser, "count", "600")
    _choose(browser, "parent", "CD4 T cells")
    _type(browser, "parent_count", "500")
    _choose(browser, "method", "flow panel")
    browser.find_element(By.ID, "entry-save").click()
    said = _refused_on(browser, "count")
    assert "≤ parent_count (500)" in said, said
    assert _stored(site, ASPIRATE) == []
    look(browser, shots, "entry-population-refused", failures)

    # Corrected (and the CD45+ total added): a draft, its shares with their intervals.
    _type(browser, "count", "60")
    _choose(browser, "total", "CD45+ cells")
    _type(browser, "total_count", "4000")
    shown = _saved(browser)
    summary = browser.find_element(By.ID, "result-population").text
    assert "60 of 500 CD4 T cells: 12.0 % (95 % CI 9.4–15.1 %)" in summary, summary
    assert "of CD45+ cells 1.5 % (95 % CI 1.2–1.9 %)" in summary, summary
    assert "draft" in shown
    (population,) = _stored(site, ASPIRATE)
    assert (population.value.population, population.value.count) == ("regulatory T cells", 60)
    look(browser, shots, "result-population", failures)

    # A measurement on the core: a negative vessel density first.
    browser.get(f"{site.base}/lab/entry/{CORE}/measurement")
    wait_for(browser, lambda d: d.find_elements(By.ID, "entry-form"))
    _type(browser, "microvessel_density", "-3")
    _choose(browser, "method", "image analysis")
    _type(browser, "stain", "CD34")
    browser.find_element(By.ID, "entry-save").click()
    said = _refused_on(browser, "microvessel_density")
    assert "0–100000 vessels/mm2" in said, said
    assert _stored(site, CORE) == []
    look(browser, shots, "entry-measurement-refused", failures)
    _type(browser, "microvessel_density", "12.5")
    shown = _saved(browser)
    assert "12.5 vessels/mm2" in shown and "CD34" in shown, shown
    (measurement,) = _stored(site, CORE)
    assert (measurement.value.index, str(measurement.value.value.value)) == (
        "microvessel density",
        "12.5",
    )
    look(browser, shots, "result-measurement", failures)
    assert not failures, "\n".join(failures)
