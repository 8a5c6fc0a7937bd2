"""Security headers, the Host allow-list, compression and unknown query parameters, on every
route of the app (spec §6: A10, H8; DNS rebinding; issue 9 §4)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.api.deps import declared_routes
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database
from trephine.web.assets import PLOTLY_JS_URL, plotly_js_path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path_factory.mktemp('serving') / 'serving.db'}"
    loaded = load_demo_database(url, 4, seed=5)
    app = create_app(url)
    app.state.test_patient = loaded.cohort[0].patient.external_id
    yield app
    app.state.database.dispose()


def _paths(app: FastAPI) -> list[str]:
    """A GET path for every GET route and static mount of the app."""
    paths = []
    for route in declared_routes(app):
        if "GET" not in route.methods:
            continue
        if route.static:
            paths.append(
                "/static/trephine.css"
                if route.path == "/static"
                else f"{route.path}/swagger-ui.css"
            )
            continue
        paths.append(route.path.replace("{patient_id}", app.state.test_patient))
    return paths


def _csp_directives(value: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in value.split(";")) if d}


def test_every_response_carries_the_security_headers(app: FastAPI) -> None:
    with client_as(app, "clinician") as client:
        responses = [client.get(p, follow_redirects=False) for p in _paths(app)]
        responses.append(client.get("/no/such/page"))
        responses.append(client.get("/api/v1/patients/NOPE"))
    with TestClient(app) as anonymous:
        responses.append(anonymous.get("/", follow_redirects=False))  # the redirect too
        responses.append(anonymous.get("/api/v1/alerts"))
    assert len(responses) >= 15
    for r in responses:
        where = f"{r.request.url.path}: {r.status_code}"
        csp = _csp_directives(r.headers["content-security-policy"])
        assert csp["script-src"] == ["'self'"], where  # no inline script, no eval
        assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"], where
        assert r.headers["x-content-type-options"] == "nosniff", where
        assert r.headers["x-frame-options"] == "DENY", where
        assert r.headers["referrer-policy"] == "same-origin", where
        assert "strict-transport-security" not in r.headers, where  # plain HTTP here
        if r.request.url.path.startswith("/static/"):
            assert "no-store" not in r.headers.get("cache-control", ""), where
        else:
            assert r.headers["cache-control"] == "no-store", where


def test_hsts_under_tls(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        r = client.get("/healthz")
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_no_page_has_an_inline_script_or_event_handler(app: FastAPI) -> None:
    with client_as(app, "clinician") as client:
        pages = [
            client.get(p)
            for p in _paths(app)
            if not p.startswith(("/api/", "/fhir/", "/static/", "/openapi.json", "/healthz"))
        ]
        pages.append(client.get("/sign-in"))
    assert len(pages) >= 5
    for page in pages:
        assert page.headers["content-type"].startswith("text/html"), page.request.url
        for tag in re.findall(r"<script\b[^>]*>", page.text):
            assert "src=" in tag or 'type="application/json"' in tag, (page.request.url, tag)
        assert not re.search(r"\son[a-z]+\s*=", page.text), page.request.url
        assert "javascript:" not in page.text.lower(), page.request.url


@pytest.mark.parametrize("host", ["evil.example", "attacker.test:8000", "10.0.0.5"])
def test_a_foreign_host_header_is_refused(app: FastAPI, host: str) -> None:
    with client_as(app, "researcher") as client:
        assert client.get("/api/v1/patients").status_code == 200
        assert client.get("/api/v1/patients", headers={"Host": host}).status_code == 400
        assert client.get("/healthz", headers={"Host": host}).status_code == 400


def test_plotly_is_served_gzipped_and_json_is_compressed(app: FastAPI) -> None:
    with TestClient(app) as client:
        r = client.get(PLOTLY_JS_URL, headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        wire = int(r.headers["content-length"])
        raw = plotly_js_path().read_bytes()
        assert r.content == raw  # httpx decompressed it: the same file
        assert wire < len(raw) / 2, f"{wire} bytes on the wire for {len(raw)}"
        plain = client.get(PLOTLY_JS_URL, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == raw
    with client_as(app, "researcher") as client:
        r = client.get(
            f"/api/v1/patients/{app.state.test_patient}/timeline",
            headers={"Accept-Encoding": "gzip"},
        )
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"


def test_responses_are_compressed_at_a_cheap_gzip_level(app: FastAPI) -> None:
    """Pages and JSON are compressed anew for every request: at level 4, not Starlette's 9
    or the 6 used before (0.18 vs 0.28 ms of CPU for a 37 KB patient page)."""
    import zlib

    from starlette.middleware.gzip import GZipMiddleware

    from trephine.api.security import GZIP_LEVEL

    (gzipped,) = [m for m in app.user_middleware if m.cls is GZipMiddleware]
    assert gzipped.kwargs["compresslevel"] == GZIP_LEVEL <= 5
    with client_as(app, "researcher") as client:
        path = f"/api/v1/patients/{app.state.test_patient}/timeline"
        wire = client.get(path, headers={"Accept-Encoding": "gzip"})
        plain = client.get(path, headers={"Accept-Encoding": "identity"}).content
    assert wire.content == plain  # httpx decompressed it
    # The bytes on the wire are what the configured level makes of the page.
    level = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    expected = len(level.compress(plain) + level.flush())
    assert abs(int(wire.headers["content-length"]) - expected) <= 32


def test_a_signed_in_page_hands_over_to_the_thread_pool_three_times(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolving the session, the route itself and closing the unit of work (its commit) run
    in the thread pool; the database, the already resolved user and opening the unit of work
    (no I/O) happen on the event loop (each hand-over ~0.05 ms of CPU and, under load, a wait
    for the GIL)."""
    import functools

    import anyio.to_thread

    handed: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        inner = func.func if isinstance(func, functools.partial) else func
        handed.append(getattr(inner, "__name__", repr(inner)))
        return await real(func, *args, **kwargs)

    with client_as(app, "clinician") as client:
        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        for path in (f"/patients/{app.state.test_patient}", "/alerts", "/"):
            handed.clear()
            assert client.get(path).status_code == 200
            assert handed == ["current_principal", "_run_sync_endpoint", "__exit__"], path


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/patients?gene=FLT3", "diagnosis, limit, offset, q"),
        ("/api/v1/patients?diagnosis=AML&Limit=5", "diagnosis, limit, offset, q"),
        ("/api/v1/alerts?state=open", "patient, status"),
        ("/api/v1/patients/{p}/timeline?verbose=1", "no query parameters"),
    ],
)
def test_unknown_query_parameters_are_refused(app: FastAPI, path: str, allowed: str) -> None:
    with client_as(app, "researcher") as client:
        r = client.get(path.replace("{p}", app.state.test_patient))
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == "query"
    assert set(allowed.split(", ")) <= set(error["allowed"].split(", "))
    assert "gene" not in error["allowed"] and "Limit" not in error["allowed"]
    assert "unknown query parameter" in error["message"]


def test_unknown_query_parameters_on_pages_and_values_never_echoed(app: FastAPI) -> None:
    with client_as(app, "clinician") as client:
        r = client.get("/?name=Smith%20Jane")
        assert r.status_code == 422 and "text/html" in r.headers["content-type"]
        assert "Smith" not in r.text and "&#39;name&#39;" in r.text
        assert client.get("/?diagnosis=AML").status_code == 200
