"""A small demo cohort with two patient accounts, each linked to one patient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest

from trephine.store.database import Database
from trephine.testing.accounts import ensure_user
from trephine.testing.fixtures import load_demo_database


class Portal(NamedTuple):
    url: str
    #: account name → patient id
    accounts: dict[str, str]
    #: patient id → its procedure ids
    procedures: dict[str, list[int]]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    from trephine.services import patient_portal
    from trephine.services.patients import patient_record

    url = f"sqlite:///{tmp_path_factory.mktemp('portal') / 'demo.db'}"
    loaded = load_demo_database(url, 20, seed=99)
    database = Database(url)
    first, second = loaded.cohort[0].patient.external_id, loaded.cohort[1].patient.external_id
    names = {"pat-one": first, "pat-two": second}
    procedures: dict[str, list[int]] = {}
    for name, pid in names.items():
        ensure_user(database, "patient", name)
        with database.unit_of_work("test-admin") as uow:
            patient_portal.link_account(uow, name, pid)
            procedures[pid] = [p.id for p in patient_record(uow, pid).procedures]
    database.dispose()
    yield Portal(url, names, procedures)
