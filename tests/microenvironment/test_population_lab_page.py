"""Issue 14 in the lab's pages: a population and a measurement draft sign out with the
electronic signature like every result (lifecycle through the web, not only the CLI), and the
population's result page shows its shares with their 95 % Wilson intervals (§4: "shown in
pages")."""

from __future__ import annotations

import html
import re

from trephine.analysis.stats import wilson
from trephine.api.app import create_app
from trephine.api.deps import CSRF_FIELD
from trephine.services import results, signatures
from trephine.store.database import Database
from trephine.testing.accounts import TEST_PASSWORD, client_as
from trephine.testing.report_seed import microvessel_density, regulatory_t_cells
from trephine.workflow import ResultState


def _csrf(page: str) -> str:
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page)
    assert found, "page has no CSRF field"
    return found.group(1)


def test_population_and_measurement_sign_out_on_the_lab_page(seeded: Database) -> None:
    treg, mvd = regulatory_t_cells(), microvessel_density()
    with seeded.unit_of_work("lab") as uow:
        pop, _ = results.record_result(uow, "A-1", treg)
        vessels, _ = results.record_result(uow, "C-1", mvd)
    app = create_app(seeded.engine.url.render_as_string(hide_password=False))
    try:
        with client_as(app, "lab") as lab:
            page = lab.get(f"/results/{pop.id}")
            assert page.status_code == 200 and 'id="sign-form"' in page.text
            text = html.unescape(page.text)
            ci = wilson(310, 5000)
            assert f"6.2 % (95 % CI {ci.lower * 100:.1f}–{ci.upper * 100:.1f} %)" in text
            line = re.search(r'<p id="result-population">(.*?)</p>', text)
            assert line is not None
            assert line.group(1).startswith("310 of 5,000 CD4 T cells: 6.2 % (95 % CI 5.6–6.9 %)")
            assert "of CD45+ cells 0.78 % (95 % CI" in line.group(1)
            for rid in (pop.id, vessels.id):
                token = _csrf(lab.get(f"/results/{rid}").text)
                signed = lab.post(
                    f"/results/{rid}/sign",
                    data={CSRF_FIELD: token, "password": TEST_PASSWORD},
                    follow_redirects=False,
                )
                assert signed.status_code == 303, signed.text[:400]
                after = lab.get(f"/results/{rid}").text
                assert "Electronically signed by test-lab on" in after
                assert 'id="amend-form"' in after
            measurement_page = lab.get(f"/results/{vessels.id}").text
            assert 'id="result-population"' not in measurement_page
    finally:
        app.state.database.dispose()
    with seeded.unit_of_work("reader") as uow:
        for rid in (pop.id, vessels.id):
            assert results.get_result(uow, rid).state is ResultState.VERIFIED
            (sig,) = signatures.signatures_of_result(uow, rid)
            assert (sig.signer, sig.meaning, sig.valid) == ("test-lab", "verified", True)
