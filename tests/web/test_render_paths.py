"""Templates' ``url_for``: Starlette's answer, with the route lookup remembered by the app."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.routing import NoMatchFound

from trephine.web.render import url_for


def _request(app: Any, root_path: str = "") -> Request:
    return Request(
        {
            "type": "http",
            "app": app,
            "router": app.router,
            "method": "GET",
            "scheme": "http",
            "server": ("127.0.0.1", 8000),
            "path": "/",
            "root_path": root_path,
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1:8000")],
        }
    )


def test_paths_are_starlettes_and_looked_up_once(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = site.client.app
    for root in ("", "/trephine"):
        request = _request(app, root)
        context = {"request": request}
        for name, params in (
            ("patient_page", {"patient_id": "DEMO-0001"}),
            ("alerts_page", {}),
            ("static", {"path": "trephine.css"}),
        ):
            assert url_for(context, name, **params) == request.url_for(name, **params)
    calls = []
    real = app.router.url_path_for

    def counted(name: str, /, **params: Any) -> Any:
        calls.append(name)
        return real(name, **params)

    monkeypatch.setattr(app.router, "url_path_for", counted)
    context = {"request": _request(app)}
    links = {url_for(context, "patient_page", patient_id="DEMO-0002").path for _ in range(50)}
    assert links == {"/patients/DEMO-0002"} and calls == ["patient_page"]
    with pytest.raises(NoMatchFound):
        url_for(context, "no_such_page")
