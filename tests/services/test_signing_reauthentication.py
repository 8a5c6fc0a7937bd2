"""Re-authentication before an electronic signature (services.accounts.reauthenticate): the
right password passes, a wrong one is refused and audited as signature-failed, and an account
that signs in only through the identity provider is told why it cannot sign (it has no
password) rather than that its password is wrong."""

from __future__ import annotations

import datetime as dt

import pytest

from trephine.access import Role
from trephine.errors import NotAuthenticated
from trephine.services import accounts, audit
from trephine.store.database import Database

THROTTLE = accounts.Throttle(dt.timedelta(minutes=15), 5, 10, 20, 50)
PASSWORD = "a long enough signing password"


def test_reauthentication_before_signing(database: Database) -> None:
    with database.unit_of_work("admin") as uow:
        accounts.add_user(uow, "lab.pw", Role.LAB, PASSWORD)
        accounts.add_user(uow, "lab.sso", Role.LAB, None, oidc_subject="https://idp|42")
    assert accounts.reauthenticate(database, "lab.pw", PASSWORD, "t", THROTTLE).name == "lab.pw"
    with pytest.raises(NotAuthenticated, match="password is not right; nothing was signed"):
        accounts.reauthenticate(database, "lab.pw", "not it at all", "t", THROTTLE)
    with pytest.raises(NotAuthenticated) as refused:
        accounts.reauthenticate(database, "lab.sso", "anything typed", "t", THROTTLE)
    said = str(refused.value)
    assert "identity provider" in said and "no password" in said and "nothing was signed" in said
    with database.unit_of_work("t") as uow:
        failed = [
            (e.entity_id, e.detail["reason"])
            for e in audit.events(uow, "user")
            if e.action == "signature-failed"
        ]
    assert failed == [
        ("lab.pw", "wrong password"),
        ("lab.sso", "no password (OIDC account)"),
    ]
