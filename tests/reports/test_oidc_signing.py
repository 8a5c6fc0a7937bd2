"""Electronic signatures by accounts of the identity provider (21 CFR 11.200; clinical-systems.md
§6.3 P8): such an account has no password to re-enter, so signing out a result, amending it or
issuing a report version sends the browser back to the provider with ``prompt=login`` and
``max_age=0``, and the signature is applied only when the fresh login comes back for the same
subject, after it was asked for (``auth_time``), within the window, in the same session. The
pending signature is kept in the database. The provider is the in-process one of
``trephine.testing.oidc`` (no internet)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.api.deps import CSRF_FIELD
from trephine.services import accounts, audit, results, signatures
from trephine.settings import Settings
from trephine.testing.oidc import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    provider_url,
    through_provider,
)
from trephine.testing.report_seed import Seeded
from trephine.web import oidc
from trephine.workflow import ResultState


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with Provider() as running:
        yield running


@pytest.fixture
def app(seeded: Seeded, provider: Provider) -> Iterator[FastAPI]:
    provider.user = {"groups": ["marrow-lab"]}
    provider.signing_key = None
    provider.ignore_prompt = False
    settings = Settings(
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_role_claim="groups",
        oidc_role_map={"marrow-lab": "lab", "haem-consultants": "clinician"},
    )
    app = create_app(seeded.database.url, settings=settings)
    yield app
    app.state.database.dispose()


@pytest.fixture
def lab(app: FastAPI) -> Iterator[TestClient]:
    """A browser signed in through the provider as dr.oidc (role lab, no password)."""
    with TestClient(app) as client:
        done = through_provider(client, client.get("/sign-in/oidc", follow_redirects=False))
        assert done.status_code == 303, done.text
        session = next(v for k, v in client.cookies.items() if k.endswith("trephine_session"))
        client.headers["X-CSRF-Token"] = accounts.csrf_token(session)
        yield client


def _failures(app: FastAPI) -> list[str]:
    with app.state.database.unit_of_work("t") as uow:
        return [
            str(e.detail["reason"])
            for e in audit.events(uow, "user", "dr.oidc")
            if e.action == "signature-failed"
        ]


def _post(client: TestClient, path: str, **form: str):  # type: ignore[no-untyped-def]
    data = {CSRF_FIELD: client.headers["X-CSRF-Token"], **form}
    return client.post(path, data=data, follow_redirects=False)


def test_signing_out_sends_the_signer_to_the_provider_for_a_fresh_login(
    app: FastAPI, seeded: Seeded, provider: Provider, lab: TestClient
) -> None:
    draft = seeded.ids["karyotype_draft"]
    page = lab.get(f"/results/{draft}")
    assert "sign in again at your organisation" in page.text
    assert 'id="sign-password"' not in page.text
    asked = _post(lab, f"/results/{draft}/sign")
    # A page with a link, not a redirect: the pages' CSP (form-action 'self') would stop a
    # browser following a form's redirect to the provider.
    assert (
        asked.status_code == 200
        and "form-action 'self'" in asked.headers["content-security-policy"]
    )
    query = parse_qs(urlsplit(provider_url(asked)).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    # Nothing is signed before the signer comes back, and nothing about it is in the browser.
    with app.state.database.unit_of_work("t") as uow:
        assert results.get_result(uow, draft).state is ResultState.DRAFT
    flow = json.loads(base64.urlsafe_b64decode(lab.cookies.get(oidc.FLOW_COOKIE).strip('"')))
    assert set(flow) == {"state", "nonce", "verifier", "next", "signature"}  # a random key only
    logins = provider.fresh_logins
    done = through_provider(lab, asked)
    assert provider.fresh_logins == logins + 1
    assert done.status_code == 303 and done.headers["location"].startswith(f"/results/{draft}")
    with app.state.database.unit_of_work("t") as uow:
        assert results.get_result(uow, draft).state is ResultState.VERIFIED
        (sig,) = signatures.signatures_of_result(uow, draft)
    assert (sig.signer, sig.meaning, sig.method, sig.valid) == ("dr.oidc", "verified", "oidc", True)
    assert _failures(app) == []


#: How a provider's answer can fail the signature, and the reason audited.
BENDS = [
    ({"ignore_prompt": True}, "did not authenticate the signer again"),  # no fresh login
    ({"user": {"groups": ["marrow-lab"], "sub": "someone-else"}}, "someone else"),
    ({"user": {"groups": ["marrow-lab"], "auth_time": None}}, "no auth_time"),
    ({"user": {"groups": ["haem-consultants"]}}, "now gives the clinician role"),
]


def test_no_signature_without_a_fresh_login_of_the_same_subject_in_the_window(
    app: FastAPI,
    seeded: Seeded,
    provider: Provider,
    lab: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draft = seeded.ids["karyotype_draft"]
    for bend, reason in BENDS:
        provider.user, provider.ignore_prompt = {"groups": ["marrow-lab"]}, False
        for name, value in bend.items():
            setattr(provider, name, value)
        done = through_provider(lab, _post(lab, f"/results/{draft}/sign"))
        assert done.status_code == 422 and "nothing was signed" in done.text, reason
        assert [r for r in _failures(app) if reason in r], (reason, _failures(app))
    provider.user, provider.ignore_prompt = {"groups": ["marrow-lab"]}, False
    asked = _post(lab, f"/results/{draft}/sign")
    monkeypatch.setattr(oidc, "SIGNATURE_SECONDS", 0)  # the signer took longer than allowed
    assert through_provider(lab, asked).status_code == 400
    with app.state.database.unit_of_work("t") as uow:
        assert results.get_result(uow, draft).state is ResultState.DRAFT
        assert signatures.signatures_of_result(uow, draft) == []


def test_a_pending_signature_is_used_once_and_only_by_the_session_that_asked(
    app: FastAPI, seeded: Seeded, lab: TestClient
) -> None:
    draft = seeded.ids["karyotype_draft"]
    asked = _post(lab, f"/results/{draft}/sign")
    import httpx

    back = httpx.get(provider_url(asked), follow_redirects=False, timeout=10)
    callback = urlsplit(back.headers["location"])
    flow = lab.cookies.get(oidc.FLOW_COOKIE, path=oidc.FLOW_PATH)
    # Another signed-in session of the same person carrying the flow cookie: refused.
    with TestClient(app) as other:
        through_provider(other, other.get("/sign-in/oidc", follow_redirects=False))
        other.cookies.set(oidc.FLOW_COOKIE, flow, path=oidc.FLOW_PATH)
        stolen = other.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert stolen.status_code == 422 and "nothing was signed" in stolen.text
    # The pending signature was taken by that attempt: the right session cannot replay it.
    replay = lab.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert replay.status_code == 400
    with app.state.database.unit_of_work("t") as uow:
        assert results.get_result(uow, draft).state is ResultState.DRAFT
    assert "the signature was asked for in another session" in _failures(app)
    assert "no pending signature" in _failures(app)


def test_amending_and_issuing_the_report_re_identify_the_same_way(
    app: FastAPI, seeded: Seeded, lab: TestClient
) -> None:
    draft = seeded.ids["karyotype_draft"]
    assert through_provider(lab, _post(lab, f"/results/{draft}/sign")).status_code == 303
    amended = through_provider(
        lab,
        _post(
            lab,
            f"/results/{draft}/amend",
            iscn="46,XY[20]",
            metaphases="20",
            abnormal_metaphases="0",
            reason="sex chromosomes misread",
        ),
    )
    assert amended.status_code == 303, amended.text
    with app.state.database.unit_of_work("t") as uow:
        new_id = int(urlsplit(amended.headers["location"]).path.rsplit("/", 1)[-1])
        new = results.get_result(uow, new_id)
        assert new.amendment_reason == "sex chromosomes misread"
        assert [s.method for s in signatures.signatures_of_result(uow, new_id)] == ["oidc"]
    pid = seeded.procedure
    page = lab.get(f"/procedures/{pid}/report")
    assert 'id="issue-password"' not in page.text
    issued = through_provider(lab, _post(lab, f"/procedures/{pid}/report/versions", status="final"))
    assert issued.status_code == 303 and issued.headers["location"].endswith("issued-v1")
    shown = lab.get(issued.headers["location"]).text
    assert "signed in again at the organisation&#39;s identity provider" in shown
    with app.state.database.unit_of_work("t") as uow:
        (sig,) = signatures.signatures_of_report(uow, pid)[1]
    assert (sig.signer, sig.method, sig.valid) == ("dr.oidc", "oidc", True)


def test_a_signature_asked_of_one_server_process_is_applied_by_another(
    app: FastAPI, seeded: Seeded, lab: TestClient
) -> None:
    """Two app instances on one database (``uvicorn --workers``, or a restart between the
    signer leaving for the provider and coming back): the pending signature is in the database,
    so the instance the signer returns to applies it, once."""
    draft = seeded.ids["karyotype_draft"]
    asked = _post(lab, f"/results/{draft}/sign")
    flow = lab.cookies.get(oidc.FLOW_COOKIE, path=oidc.FLOW_PATH)
    # What the other instance will find: a row of the shared database, keyed by a digest of
    # the browser's key (no server process's memory holds it).
    key = json.loads(base64.urlsafe_b64decode(flow.strip('"')))["signature"]
    assert _pending(app) == [hashlib.sha256(key.encode()).hexdigest()]
    second = create_app(seeded.database.url, settings=app.state.settings)
    try:
        with TestClient(second) as elsewhere:
            for cookie in lab.cookies.jar:
                elsewhere.cookies.set(cookie.name, cookie.value, cookie.domain, cookie.path)
            done = through_provider(elsewhere, asked)
            assert done.status_code == 303, done.text
            assert done.headers["location"].startswith(f"/results/{draft}")
            # Taken: a second return, to either instance, finds nothing to sign.
            import httpx

            back = httpx.get(provider_url(asked), follow_redirects=False, timeout=10)
            callback = urlsplit(back.headers["location"])
            for client in (elsewhere, lab):
                client.cookies.set(oidc.FLOW_COOKIE, flow, path=oidc.FLOW_PATH)
                again = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
                assert again.status_code == 400, again.text
    finally:
        second.state.database.dispose()
    with app.state.database.unit_of_work("t") as uow:
        assert results.get_result(uow, draft).state is ResultState.VERIFIED
        (sig,) = signatures.signatures_of_result(uow, draft)
    assert (sig.signer, sig.method) == ("dr.oidc", "oidc")
    assert _failures(app) == ["no pending signature", "no pending signature"]
    assert _pending(app) == []


def _pending(app: FastAPI) -> list[str]:
    from sqlalchemy import select

    from trephine.store.tables import PendingSignatureRow

    with app.state.database.unit_of_work("t") as uow:
        return list(uow.session.scalars(select(PendingSignatureRow.key_hash)))
