"""Electronic signatures waiting for the signer's fresh login at the identity provider.

An account of the identity provider has no password to re-enter, so its signature waits here
while the browser goes to the provider (web/oidc.py); the provider's callback takes it back and
applies it. The wait is in the database (table ``pending_signature``, migration 0021), not one
server process's memory, so the signer's return may reach any process of the site (``uvicorn
--workers``, a process started since).

What is kept is only what applying it needs: who asked (account, session, identity's subject),
what to sign (``action`` and its ``detail``: a result id, an amendment's fields, a report's
text) and when. The random key the browser's flow cookie holds, and that flow's ``state`` and
``nonce``, are stored as SHA-256 digests only, so a copy of the table names no live flow. A
pending signature is taken at most once (one ``DELETE … RETURNING``: of two returns racing,
one gets it) and never after its window: expired rows are refused and deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete

from trephine.store.database import Database
from trephine.store.tables import PendingSignatureRow


def _digest(secret: str) -> str:
    """Hex SHA-256 of a secret kept only to be recognised again."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class PendingSignature:
    """A signature asked for by a signed-in account of the identity provider."""

    user: str
    session_id: int | None
    subject: str
    action: str
    detail: dict[str, Any]
    started: dt.datetime
    state_hash: str
    nonce_hash: str

    def asked_with(self, state: str, nonce: str) -> bool:
        """Whether the sign-in flow ``state``/``nonce`` is the one this signature started."""
        import hmac

        return hmac.compare_digest(self.state_hash, _digest(state)) and hmac.compare_digest(
            self.nonce_hash, _digest(nonce)
        )


def keep(
    database: Database,
    key: str,
    *,
    state: str,
    nonce: str,
    user: str,
    session_id: int | None,
    subject: str,
    action: str,
    detail: dict[str, Any],
    window: float,
) -> None:
    """Keep a pending signature under ``key`` (the browser's random key to it) in a transaction
    of its own; pending signatures older than ``window`` seconds are deleted on the way."""
    row = PendingSignatureRow
    with database.unit_of_work(user) as uow:
        now = uow.now()
        uow.session.execute(
            delete(row).where(row.started_at < now - dt.timedelta(seconds=window)),
            execution_options={"synchronize_session": False},
        )
        uow.session.add(
            PendingSignatureRow(
                key_hash=_digest(key),
                state_hash=_digest(state),
                nonce_hash=_digest(nonce),
                user_name=user,
                session_id=session_id,
                subject=subject,
                action=action,
                detail=detail,
                started_at=now,
            )
        )


def take(database: Database, key: str, *, window: float) -> PendingSignature | None:
    """The pending signature under ``key``, deleted as it is read (single use); None when there
    is none: never kept, already taken, or older than ``window`` seconds."""
    with database.unit_of_work("web:signature") as uow:
        row = uow.session.scalars(
            delete(PendingSignatureRow)
            .where(PendingSignatureRow.key_hash == _digest(key))
            .returning(PendingSignatureRow),
            execution_options={"synchronize_session": False},
        ).first()
        now = uow.now()
    if row is None:
        return None
    started = row.started_at
    if started.tzinfo is None:  # SQLite returns what it stored; the stored time is UTC
        started = started.replace(tzinfo=dt.UTC)
    if (now - started).total_seconds() > window:
        return None
    return PendingSignature(
        user=row.user_name,
        session_id=row.session_id,
        subject=row.subject,
        action=row.action,
        detail=dict(row.detail),
        started=started,
        state_hash=row.state_hash,
        nonce_hash=row.nonce_hash,
    )
