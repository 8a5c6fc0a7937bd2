"""Template rendering for the server-side pages (Jinja2 templates shipped in the package)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.datastructures import URL, URLPath
from starlette.routing import NoMatchFound

from trephine import __version__
from trephine.api.schemas.errors import ErrorBody
from trephine.criteria.categories import SUPERSEDING_CATEGORIES

WEB_DIR = Path(str(files("trephine.web")))
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


@pass_context
def url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> URL:
    """Starlette's template ``url_for`` (same answer, same errors), asking the route that
    answered last time for this name and these parameter names straight away: the router
    walks every route of the app on each call (~0.15 ms; a page of 50 alerts or patients makes
    50-100 calls, each with other values). Whether a route answers depends only on the name and
    the parameter names, never on the values, which the route itself still converts and
    checks."""
    request: Request = context["request"]
    provider = request.scope.get("router") or request.scope.get("app")
    state = request.app.state
    known: dict[tuple[Any, ...], Any] | None = getattr(state, "template_routes", None)
    if known is None:
        known = state.template_routes = {}
    key = (id(provider), name, *sorted(path_params))
    route = known.get(key)
    if route is None:
        path = provider.url_path_for(name, **path_params)  # type: ignore[union-attr]
        known[key] = _answering(provider, name, path_params, path)
    else:
        path = route.url_path_for(name, **path_params)
    return _absolute(request, path)


def _absolute(request: Request, path: URLPath) -> URL:
    """``path.make_absolute_url(base_url=request.base_url)``, the same string, with the part
    before the path (scheme, host, root path) made once per request and protocol: Starlette
    rebuilds it from the base URL's parts for every link (~0.02 ms; a page makes up to 100).
    That part is Starlette's own answer for the path ``/``; a link is it and the path, exactly
    as Starlette joins them whenever the host is known and the path starts with ``/`` (always,
    for a route or a mount); otherwise Starlette's answer."""
    text = str(path)
    if path.host or not text.startswith("/"):
        return path.make_absolute_url(base_url=request.base_url)
    prefixes: dict[str, str | None] | None = getattr(request.state, "link_prefixes", None)
    if prefixes is None:
        prefixes = request.state.link_prefixes = {}
    prefix = prefixes.get(path.protocol, "")
    if prefix == "":
        root = str(URLPath("/", protocol=path.protocol).make_absolute_url(request.base_url))
        known = root.endswith("/") and "://" in root and not root.startswith("/")
        prefix = prefixes[path.protocol] = root[:-1] if known else None
    if prefix is None:
        return path.make_absolute_url(base_url=request.base_url)
    return URL(prefix + text)


def _answering(provider: Any, name: str, path_params: dict[str, Any], wanted: Any) -> Any:
    """The innermost route under ``provider`` that answers ``url_path_for(name,
    **path_params)`` with ``wanted``, the path ``provider`` answers (an included router's
    route, not the router; a mount adds its own prefix, so it is kept)."""
    listed = getattr(provider, "effective_route_contexts", None)
    routes = listed() if callable(listed) else getattr(provider, "routes", None) or ()
    for route in routes:
        try:
            path = route.url_path_for(name, **path_params)
        except NoMatchFound:
            continue
        return _answering(route, name, path_params, wanted) if path == wanted else provider
    return provider


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(TEMPLATE_DIR))
    t.env.globals["url_for"] = url_for
    # The templates ship inside the package and change only with it: compiled once per process,
    # not checked against their files (a stat of each template and its parents) at every page.
    t.env.auto_reload = False
    t.env.globals["trephine_version"] = __version__
    # ``tojson`` (the chart's figure, read by timeline.js) in JSON's compact form and in the
    # figure's own key order: Jinja's default sorts every object's keys and spaces each
    # separator, a fifth of drawing the patient page for a browser that reads neither.
    t.env.policies["json.dumps_kwargs"] = {"sort_keys": False, "separators": (",", ":")}
    # Undefined variables in a clinical page are bugs, not blanks.
    from jinja2 import StrictUndefined

    t.env.undefined = StrictUndefined
    # Evidence keeps exact Decimals in storage/JSON; the page shows them rounded.
    from trephine.present.numbers import format_evidence, format_value

    t.env.filters["evidence_text"] = format_evidence
    t.env.filters["display_value"] = format_value
    from trephine.present.explain import (
        alert_detail,
        alert_headline,
        category_label,
        criterion_label,
        evidence_sentence,
    )
    from trephine.present.quantities import quantity_text

    t.env.filters["quantity"] = quantity_text
    t.env.filters["evidence_sentence"] = evidence_sentence
    from trephine.present.explain import input_label

    t.env.filters["input_label"] = input_label
    t.env.filters["alert_headline"] = alert_headline
    t.env.filters["category_label"] = category_label
    t.env.filters["criterion_label"] = criterion_label
    from trephine.assess.call_kinds import call_kind_words

    t.env.filters["call_kind_words"] = call_kind_words
    t.env.globals["alert_detail"] = alert_detail
    t.env.filters["response_class"] = response_class
    from trephine.present.paired import feature_heading

    t.env.filters["feature_heading"] = feature_heading
    # Patient-facing words in the patient/ templates come from the message catalogue.
    from trephine.present.catalogue import gettext as _

    t.env.globals["_"] = _
    return t


def response_class(category: str | None) -> str:
    """A colour group for a response badge: complete, partial, failure or other."""
    c = (category or "").upper()
    if c.startswith(("CR", "SCR")) or c in ("UNDETECTABLE_MRD4", "NEGATIVE"):
        return "complete"
    if c in ("PR", "VGPR", "MLFS", "MR", "MINOR_RESPONSE", "HI", "RESPONSE", "PARTIAL"):
        return "partial"
    # A relapse, or a progression confirmed or still to confirm.
    if c in ("NO_RESPONSE", "REFRACTORY", "SD") or c in SUPERSEDING_CATEGORIES:
        return "failure"
    return "other"


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a page; every page knows who is signed in and the session's CSRF token."""
    from trephine.api.deps import csrf_token_for

    context = {
        "principal": getattr(request.state, "principal", None),
        "csrf_token": csrf_token_for(request),
        **context,
    }
    return templates().TemplateResponse(request, name, context, status_code=status_code)


def render_error(request: Request, status: int, body: ErrorBody) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "error": body}, status_code=status)
