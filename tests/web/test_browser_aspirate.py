"""The aspirate labelling page (/lab/aspirate, issue 14 §3) in a real browser (Debian chromium),
signed in as lab: upload a smear image, click cells with their classes (at 1400 px and at
400 px, where the image is scaled down: a click must still give image pixels), see the tally,
record the draft differential and find its provenance on the result page. axe and sideways
scrolling at 1400 and 400 px on every page (trephine.testing.served.look)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from trephine.testing.served import look, make_site, require_browser, serving, sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long enough aspirate test password"
ACCESSION = "ASP-BROWSER-1"
WIDTH, HEIGHT = 640, 480


class Site(NamedTuple):
    base: str
    image: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_browser()
    import numpy as np
    from PIL import Image

    from trephine.domain import Procedure, Specimen, SpecimenType
    from trephine.domain import Site as BodySite
    from trephine.services import open_database, procedures

    work = tmp_path_factory.mktemp("aspirate")
    env = make_site(work, [("b.admin", "admin"), ("b.lab", "lab")], PASSWORD, patients=6)
    at = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
    database = open_database(env["TREPHINE_DATABASE_URL"])
    with database.unit_of_work("test-setup") as uow:
        proc, _ = procedures.record_procedure(
            uow, "DEMO-0001", Procedure(at, BodySite.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, "DEMO-0001", Specimen(ACCESSION, SpecimenType.ASPIRATE, at, first_pull=True), proc
        )
    database.dispose()
    # A synthetic smear: pale background, a few dark round "nuclei".
    pixels = np.full((HEIGHT, WIDTH, 3), 235, dtype=np.uint8)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    for cx, cy in ((160, 120), (320, 240), (480, 360), (500, 100)):
        pixels[(xx - cx) ** 2 + (yy - cy) ** 2 < 400] = (90, 40, 120)
    image = work / "smear.png"
    Image.fromarray(pixels).save(image)
    with serving(env, work / "serve.log") as base:
        yield Site(base, image)


def _click(driver: Any, element: Any, dx: int, dy: int) -> None:
    """Click ``element`` at (dx, dy) CSS pixels from its centre."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element_with_offset(element, dx, dy).click().perform()


def _lines(driver: Any) -> list[tuple[int, int, str]]:
    from selenium.webdriver.common.by import By

    text = driver.find_element(By.ID, "a-labels").get_attribute("value")
    found = []
    for line in str(text).splitlines():
        if line.strip():
            x, y, cls = line.split(",")
            found.append((int(x), int(y), cls))
    return found


def test_lab_labels_cells_on_an_image_and_records_a_draft(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    failures: list[str] = []
    sign_in(browser, site.base, "b.lab", PASSWORD, start="/lab/aspirate")
    wait_for(browser, lambda d: d.find_elements(By.ID, "aspirate-upload"))
    look(browser, shots, "aspirate-upload", failures)
    browser.find_element(By.ID, "a-specimen").send_keys(ACCESSION)
    browser.find_element(By.ID, "a-image").send_keys(str(site.image))
    browser.find_element(By.CSS_SELECTOR, "#aspirate-upload button[type=submit]").click()
    image = wait_for(browser, lambda d: d.find_elements(By.ID, "aspirate-image"))[0]
    wait_for(browser, lambda d: d.execute_script("return arguments[0].complete", image))

    # At 1400 px the image is shown at its own size: a click at the centre is (320, 240).
    choose = Select(browser.find_element(By.ID, "a-class"))
    choose.select_by_value("blasts")
    _click(browser, image, 0, 0)
    choose.select_by_value("lymphocytes")
    _click(browser, image, -160, -120)
    (bx, by, blast), (lx, ly, lymph) = _lines(browser)
    assert (blast, lymph) == ("blasts", "lymphocytes")
    assert abs(bx - 320) <= 2 and abs(by - 240) <= 2, (bx, by)
    assert abs(lx - 160) <= 2 and abs(ly - 120) <= 2, (lx, ly)
    tally = browser.find_element(By.ID, "aspirate-tally").text
    assert tally.startswith("2 cells labelled") and "blasts 1" in tally, tally
    look(browser, shots, "aspirate-labelling", failures)

    # At 400 px the image is scaled to the page: a click still lands on image pixels.
    try:
        browser.set_window_size(400, 1000)
        image = browser.find_element(By.ID, "aspirate-image")
        shown = browser.execute_script("return arguments[0].getBoundingClientRect().width", image)
        assert shown < WIDTH, f"the image is not scaled at 400 px ({shown} px wide)"
        choose = Select(browser.find_element(By.ID, "a-class"))
        choose.select_by_value("neutrophils")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)
        _click(browser, image, int(shown * 0.25), 0)  # a quarter of the shown width right of centre
        nx, ny, neutro = _lines(browser)[-1]
        assert neutro == "neutrophils"
        assert abs(nx - 480) <= 4 and abs(ny - 240) <= 4, (nx, ny, shown)
    finally:
        browser.set_window_size(1400, 1000)

    browser.find_element(By.ID, "aspirate-record").click()
    wait_for(browser, lambda d: "/results/" in d.current_url)
    provenance = browser.find_element(By.ID, "result-labelling").text
    assert "smear.png" in provenance and "b.lab" in provenance and "3 cells" in provenance
    look(browser, shots, "aspirate-result", failures)
    assert not failures, "\n".join(failures)
