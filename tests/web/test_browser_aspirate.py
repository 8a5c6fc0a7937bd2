"""The aspirate labelling page (/lab/aspirate, issue 14 §3) in a real browser (Debian chromium),
signed in as lab: upload a smear image, click cells with their classes (at 1400 px and at
400 px, where the image is scaled down: a click must still give image pixels), see the tally,
record the draft differential and find its provenance on the result page. And an account of
the hospital's identity provider (the in-process one of trephine.testing.oidc) signs in through
it and signs out a draft result by signing in there again (web/oidc.py: the provider round trip,
the pending signature in the database). axe and sideways scrolling at 1400 and 400 px on every
page (trephine.testing.served.look)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from trephine.testing.oidc import CLIENT_ID, CLIENT_SECRET, Provider
from trephine.testing.served import look, make_site, require_browser, serving, sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long enough aspirate test password"
ACCESSION = "ASP-BROWSER-1"
WIDTH, HEIGHT = 640, 480


class Site(NamedTuple):
    base: str
    image: Path
    provider: Provider
    database_url: str
    #: A draft karyotype on the aspirate, for the identity-provider account to sign out.
    draft: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, site_templates: Path) -> Iterator[Site]:
    require_browser()
    import numpy as np
    from PIL import Image

    from trephine.domain import Procedure, Specimen, SpecimenType
    from trephine.domain import Site as BodySite
    from trephine.domain.results import Karyotype
    from trephine.services import open_database, procedures, results

    work = tmp_path_factory.mktemp("aspirate")
    with Provider() as provider:
        provider.user = {"groups": ["marrow-lab"]}
        oidc = {
            "TREPHINE_OIDC_ISSUER": provider.issuer,
            "TREPHINE_OIDC_CLIENT_ID": CLIENT_ID,
            "TREPHINE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "TREPHINE_OIDC_ROLE_CLAIM": "groups",
            "TREPHINE_OIDC_ROLE_MAP": '{"marrow-lab": "lab"}',
        }
        env = make_site(
            work,
            [("b.admin", "admin"), ("b.lab", "lab")],
            PASSWORD,
            patients=6,
            env=oidc,
            templates=site_templates,
        )
        at = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
        url = env["TREPHINE_DATABASE_URL"]
        database = open_database(url)
        with database.unit_of_work("test-setup") as uow:
            proc, _ = procedures.record_procedure(
                uow, "DEMO-0001", Procedure(at, BodySite.POSTERIOR_ILIAC_CREST)
            )
            procedures.add_specimen(
                uow,
                "DEMO-0001",
                Specimen(ACCESSION, SpecimenType.ASPIRATE, at, first_pull=True),
                proc,
            )
            draft, _ = results.record_result(uow, ACCESSION, Karyotype("46,XX[20]"))
        database.dispose()
        # A synthetic smear: pale background, a few dark round "nuclei".
        pixels = np.full((HEIGHT, WIDTH, 3), 235, dtype=np.uint8)
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        for cx, cy in ((160, 120), (320, 240), (480, 360), (500, 100)):
            pixels[(xx - cx) ** 2 + (yy - cy) ** 2 < 400] = (90, 40, 120)
        image = work / "smear.png"
        Image.fromarray(pixels).save(image)
        with serving(env, work / "serve.log") as base:
            yield Site(base, image, provider, url, draft.id)


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


def test_an_identity_provider_account_signs_out_a_result_by_signing_in_there_again(
    site: Site, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    from trephine.services import audit, open_database, results, signatures
    from trephine.workflow import ResultState

    failures: list[str] = []
    browser.delete_all_cookies()
    browser.get(f"{site.base}/sign-in")
    browser.find_element(By.LINK_TEXT, "Sign in with your organisation's account").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "user-role"))
    assert browser.find_element(By.ID, "user-name").text == "dr.oidc"
    assert browser.find_element(By.ID, "user-role").text == "lab"

    browser.get(f"{site.base}/results/{site.draft}")
    wait_for(browser, lambda d: d.find_elements(By.ID, "sign-form"))
    assert not browser.find_elements(By.ID, "sign-password")  # no password to re-enter
    browser.find_element(By.ID, "sign-submit").click()
    link = wait_for(browser, lambda d: d.find_elements(By.ID, "reauth-link"))[0]
    look(browser, shots, "oidc-sign-again", failures)
    logins = site.provider.fresh_logins
    link.click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "result-done"))
    assert site.provider.fresh_logins == logins + 1  # the provider was asked for a fresh login
    assert browser.current_url.startswith(f"{site.base}/results/{site.draft}")
    assert "Signed out with your electronic signature" in browser.page_source

    database = open_database(site.database_url)
    try:
        with database.unit_of_work("test") as uow:
            assert results.get_result(uow, site.draft).state is ResultState.VERIFIED
            (signature,) = signatures.signatures_of_result(uow, site.draft)
            (signed,) = [e for e in audit.events(uow, "result", site.draft) if e.action == "sign"]
    finally:
        database.dispose()
    assert (signature.signer, signature.method, signature.valid) == ("dr.oidc", "oidc", True)
    assert signed.actor == "dr.oidc" and signed.detail["method"] == "oidc"
    assert signed.detail["meaning"] == "verified"
    assert not failures, "\n".join(failures)
