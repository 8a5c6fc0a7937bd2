"""Templates' ``url_for``: Starlette's answer, with the route lookup remembered by the app."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.routing import NoMatchFound

from trephine.web.render import url_for


def _request(
    app: Any,
    root_path: str = "",
    scheme: str = "http",
    host: bytes | None = b"127.0.0.1:8000",
    server: tuple[str, int] | None = ("127.0.0.1", 8000),
) -> Request:
    return Request(
        {
            "type": "http",
            "app": app,
            "router": app.router,
            "method": "GET",
            "scheme": scheme,
            "server": server,
            "path": "/",
            "root_path": root_path,
            "query_string": b"",
            "headers": [] if host is None else [(b"host", host)],
        }
    )


def test_paths_are_starlettes_and_the_routes_walked_once(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = site.client.app
    requests = [
        _request(app, root, scheme, host, server)
        for root in ("", "/trephine", "/trephine/")
        for scheme in ("http", "https")
        for host, server in (
            (b"127.0.0.1:8000", ("127.0.0.1", 8000)),
            (b"clinic.example.org", ("10.0.0.5", 443)),
            (b"[::1]:8443", None),
            (None, ("::1", 8000)),
            (None, None),  # no host at all: Starlette's answer has an empty host
        )
    ]
    for request in requests:
        context = {"request": request}
        for name, params in (
            ("patient_page", {"patient_id": "DEMO-0001"}),
            ("patient_page", {"patient_id": "DEMO-0002"}),
            # Path values are not quoted by Starlette: a ? or # moves the path's end
            ("patient_page", {"patient_id": "P?x=1"}),
            ("patient_page", {"patient_id": "P#frag"}),
            ("patient_page", {"patient_id": "Pé %20"}),
            ("alert_action", {"alert_id": 7}),
            ("alert_action", {"alert_id": "8"}),
            ("alerts_page", {}),
            ("static", {"path": "trephine.css"}),
            ("static", {"path": "vendor/plotly-basic.min.js"}),
        ):
            ours = url_for(context, name, **params)
            theirs = request.url_for(name, **params)
            assert (str(ours), ours.path) == (str(theirs), theirs.path)
    app.state.template_routes = {}
    calls = []
    real = app.router.url_path_for

    def counted(name: str, /, **params: Any) -> Any:
        calls.append(name)
        return real(name, **params)

    monkeypatch.setattr(app.router, "url_path_for", counted)
    context = {"request": _request(app)}
    links = [url_for(context, "patient_page", patient_id=f"P-{i}").path for i in range(50)]
    assert links == [f"/patients/P-{i}" for i in range(50)] and calls == ["patient_page"]
    # Values are still checked by the route, and unknown names or parameters still refused.
    for bad in ("a/b", ""):
        with pytest.raises(AssertionError):
            url_for(context, "patient_page", patient_id=bad)
    with pytest.raises(NoMatchFound):
        url_for(context, "no_such_page")
    with pytest.raises(NoMatchFound):
        url_for(context, "patient_page", patient="P-1")
