"""Server-rendered pages, through the ASGI app (no browser): content, links, errors, assets."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from typing import Any

from trephine.demo import Scenario
from trephine.domain.results import AspirateDifferential
from trephine.web.assets import (
    PLOTLY_BASIC_TRACE_TYPES,
    PLOTLY_JS_URL,
    installed_plotly_js_path,
    plotly_js_path,
    plotly_js_version,
)


class _Scripts(HTMLParser):
    """Collects <script src> and <link href> so tests can check nothing leaves the server."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and tag in ("script", "link", "img"):
                self.urls.append(value)


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-patient-id="([^"]+)"', html)


def test_patient_list_shows_a_row_per_patient_with_blasts(site: Any) -> None:
    r = site.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    ids = rows(r.text)
    assert ids == sorted(p.patient.external_id for p in site.cohort)
    assert f"{len(site.cohort)} patients" in r.text
    assert 'href="/patients/DEMO-0001"' in r.text
    # The disease's marrow value of the last marrow is printed with its name and unit.
    assert re.search(r'Marrow blasts</span> <span class="num">\d+(\.\d)? %</span>', r.text)


def test_patient_list_filter_by_diagnosis(site: Any) -> None:
    myeloma = sorted(
        p.patient.external_id for p in site.cohort if str(p.diagnoses[-1].disease) == "myeloma"
    )
    r = site.client.get("/", params={"diagnosis": "myeloma"})
    assert rows(r.text) == myeloma
    assert '<option value="myeloma" selected>' in r.text


def test_bad_filter_is_an_html_error_page_naming_the_allowed_values(site: Any) -> None:
    r = site.client.get("/", params={"diagnosis": "flu"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "diagnosis" in r.text and "aplastic anemia" in r.text


def test_paging_links(site: Any) -> None:
    r = site.client.get("/", params={"offset": 15})
    assert len(rows(r.text)) == len(site.cohort) - 15
    assert "← previous" in r.text and "next →" not in r.text
    assert "16–20 of 20" in r.text


def test_patient_page_has_chart_data_and_timeline_table(site: Any) -> None:
    sp = next(p for p in site.cohort if p.scenario is Scenario.AML_FLT3_RESISTANCE)
    pid = sp.patient.external_id
    r = site.client.get(f"/patients/{pid}")
    assert r.status_code == 200
    html = r.text
    m = re.search(
        r'<script type="application/json" id="timeline-figure">(.*?)</script>', html, re.S
    )
    assert m is not None
    figure = json.loads(m.group(1))
    names = {t.get("name") for t in figure["data"]}
    assert {"Marrow blasts %", "ANC", "Platelets"} <= names
    assert any(n and n.startswith("VAF FLT3") for n in names)
    # The blast series carries exactly the differentials of the patient, in date order.
    blasts = next(t for t in figure["data"] if t.get("name") == "Marrow blasts %")
    diff_days = [
        v.on.isoformat()
        for v in sp.visits
        for res in v.results
        if isinstance(res.value, AspirateDifferential)
    ]
    assert blasts["x"] == diff_days
    # The table lists each therapy line and each biopsy.
    for line in sp.therapy_lines:
        assert line.regimen.replace("+", "+") in html
    assert html.count('data-category="biopsy"') == sum(1 for v in sp.visits if v.procedure)
    assert html.count('data-category="result"') == sum(1 for _ in sp.results)


def test_patient_page_shows_amendment_history(site: Any) -> None:
    sp, res = next((p, r) for p in site.cohort for r in p.results if r.amendment is not None)
    html = site.client.get(f"/patients/{sp.patient.external_id}").text
    assert res.amendment is not None
    assert "state-amended" in html
    assert "earlier version 1 (superseded" in html
    assert "demo-reviewer" in html
    # The reason text is HTML-escaped but present.
    assert res.amendment.reason.split(":")[0] in html


def test_pages_load_scripts_only_from_this_server(site: Any) -> None:
    parser = _Scripts()
    parser.feed(site.client.get(f"/patients/{site.cohort[0].patient.external_id}").text)
    parser.feed(site.client.get("/").text)
    assert PLOTLY_JS_URL in parser.urls
    for url in parser.urls:
        assert url.startswith("/"), f"{url} would be fetched from another host"


def test_plotly_js_is_served_from_the_vendored_basic_bundle(site: Any) -> None:
    r = site.client.get(PLOTLY_JS_URL)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == plotly_js_path().read_bytes()
    assert b"plotly.js (basic - minified)" in r.content[:400]


def test_the_vendored_bundle_is_the_one_its_manifest_names() -> None:
    manifest = (plotly_js_path().parent / "VENDORED.md").read_text(encoding="utf-8")
    row = next(line for line in manifest.splitlines() if line.startswith("| `plotly-basic.min.js`"))
    digest = hashlib.sha256(plotly_js_path().read_bytes()).hexdigest()
    assert f"`{digest}`" in row, "plotly-basic.min.js changed without its VENDORED.md row"
    assert f"| {plotly_js_version(plotly_js_path())} |" in row
    assert (plotly_js_path().parent / "plotly.js-LICENSE").read_text().startswith("MIT License")


def test_the_vendored_bundle_is_the_major_version_the_plotly_package_builds_for() -> None:
    ours = plotly_js_version(plotly_js_path())
    theirs = plotly_js_version(installed_plotly_js_path())
    assert ours.split(".")[0] == theirs.split(".")[0], (
        f"plotly.js basic {ours} is vendored but the plotly package builds figures for {theirs}: "
        "upgrade the bundle (see web/static/vendor/VENDORED.md)"
    )


def test_every_chart_uses_only_trace_types_of_the_basic_bundle(site: Any) -> None:
    seen: set[str] = set()
    for p in site.cohort:
        html = site.client.get(f"/patients/{p.patient.external_id}").text
        found = re.search(
            r'<script type="application/json" id="timeline-figure">(.*?)</script>', html, re.S
        )
        assert found, p.patient.external_id
        figure = json.loads(found.group(1))
        seen |= {trace.get("type", "scatter") for trace in figure["data"]}
    assert seen and seen <= PLOTLY_BASIC_TRACE_TYPES, seen - PLOTLY_BASIC_TRACE_TYPES


def test_own_static_files(site: Any) -> None:
    assert site.client.get("/static/trephine.css").status_code == 200
    js = site.client.get("/static/timeline.js")
    assert js.status_code == 200 and "Plotly.newPlot" in js.text


def test_unknown_patient_page_is_an_html_404(site: Any) -> None:
    r = site.client.get("/patients/NOBODY")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "patient &#39;NOBODY&#39; not found" in r.text or "patient 'NOBODY' not found" in r.text
    assert site.client.get("/no/such/page").status_code == 404


def test_healthz_is_json(site: Any) -> None:
    r = site.client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_no_page_pulls_from_a_cdn_and_the_schema_is_served(site: Any) -> None:
    docs = site.client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI from the app itself (the swagger-ui-py package), started from a file.
    assert 'src="/static/swagger-ui/swagger-ui-bundle.js"' in docs.text
    assert "cdn" not in docs.text.lower() and "<script>" not in docs.text
    assert site.client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert site.client.get("/redoc").status_code == 404
    schema = site.client.get("/openapi.json").json()
    assert "/api/v1/patients/{patient_id}/timeline" in schema["paths"]
    assert "PatientPublic" in schema["components"]["schemas"]


def test_plotly_js_goes_gzipped_to_browsers_that_accept_it(site: Any) -> None:
    r = site.client.get(PLOTLY_JS_URL, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and "Accept-Encoding" in r.headers["vary"]
    assert int(r.headers["content-length"]) < plotly_js_path().stat().st_size / 2
    assert r.content == plotly_js_path().read_bytes()  # decoded by the client
    plain = site.client.get(PLOTLY_JS_URL, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == r.content
