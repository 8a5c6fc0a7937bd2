"""The export key of a database: the ONE place that says which secret keys research
pseudonyms and limited-data-set date shifts (web research pages, ``trephine export``,
``trephine study show``, ``trephine cohort paired``, the notebook API).

``TREPHINE_EXPORT_KEY``, when set, wins: a site that exports from several databases sets it
everywhere so that a patient keeps one pseudonym across them. Otherwise each database uses its
own random secret (32 bytes from :func:`secrets.token_bytes`) kept in its ``site_secret`` table
(migration 0020): made by ``trephine init`` or the first time it is needed, never changed, so
pseudonyms are stable across requests and processes for the same database and differ between
databases. Two processes making it at the same time end with one key: each inserts only if no
row exists (``ON CONFLICT DO NOTHING``) and then both read the row that is there.

The secret is never logged (the engine hides statement parameters), never printed, never put
in an audit event's detail, a page or an export; nothing here returns it except to build a
:class:`~trephine.present.deidentify.Deidentifier`.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from trephine.errors import ValidationError
from trephine.present.deidentify import Deidentifier, Level
from trephine.store.database import Database, utc_now
from trephine.store.tables import SiteSecretRow

#: The ``site_secret`` row of the export key.
EXPORT = "export"
#: Bytes of a new site secret.
SECRET_BYTES = 32
#: The setting that overrides the database's own secret (named in errors).
SETTING = "TREPHINE_EXPORT_KEY"


def site_secret(database: Database, name: str = EXPORT) -> bytes:
    """This database's secret ``name``, made now (once, race-safe) if it has none yet.

    Read and made in short transactions of their own, so a caller's unit of work neither
    holds the write lock while it runs nor can roll a new secret back after using it."""
    found = _read(database, name)
    if found is None:
        _insert_if_absent(database, name)
        found = _read(database, name)  # the winner's row, whoever won
    if found is None:  # pragma: no cover - a row inserted or kept is a row
        raise RuntimeError(f"site secret {name!r} was not stored")
    return found


def _read(database: Database, name: str) -> bytes | None:
    table = SiteSecretRow.__table__
    with database.engine.connect() as connection:
        found = connection.execute(select(table.c.secret).where(table.c.name == name)).scalar()
    return None if found is None else bytes(found)


def _insert_if_absent(database: Database, name: str) -> None:
    """Store a new random secret ``name`` unless one is there (then this does nothing: a
    concurrent inserter waits for the other's commit, and the first row stays)."""
    table = SiteSecretRow.__table__
    values = {"name": name, "secret": secrets.token_bytes(SECRET_BYTES), "created_at": utc_now()}
    dialect = postgresql if database.engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=["name"])
    with database.engine.begin() as connection:
        connection.execute(insert)


def export_key(database: Database) -> bytes:
    """The key of research pseudonyms and date shifts for ``database``: ``TREPHINE_EXPORT_KEY``
    when set, else the database's own site secret."""
    from trephine.settings import get_settings

    configured = get_settings().export_key
    if configured is not None and configured.get_secret_value():  # set, and not to ""
        return configured.get_secret_value().encode()
    return site_secret(database, EXPORT)


def deidentifier(database: Database, level: Level) -> Deidentifier:
    """A :class:`Deidentifier` for ``level`` keyed with :func:`export_key` (none needs no key).

    A ``TREPHINE_EXPORT_KEY`` that is set but too short is refused naming the setting."""
    if level is Level.NONE:
        return Deidentifier(Level.NONE)
    try:
        return Deidentifier(level, export_key(database))
    except ValidationError as exc:
        raise ValidationError(SETTING, exc.value, exc.allowed) from None
