"""Password hashes: the argon2id cost is a setting with a floor, a hash of another cost is re-made
at the next successful sign-in (and only then), and a throttled try hashes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher, extract_parameters

from trephine.errors import NotAuthenticated, TooManyAttempts
from trephine.services import accounts
from trephine.settings import Settings
from trephine.store.database import Database
from trephine.store.tables import UserRow

PASSWORD = "a long enough password"
THROTTLE = accounts.Throttle(
    window=dt.timedelta(minutes=15),
    slow_after=2,
    lock_after=2,
    address_slow_after=50,
    address_lock_after=50,
)


class Counting(PasswordHasher):
    """A cheap hasher that counts its hashes and checks."""

    def __init__(self, time_cost: int, memory_cost: int) -> None:
        super().__init__(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
        self.calls = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.calls += 1
        return super().verify(hash, password)


def _use(monkeypatch: pytest.MonkeyPatch, hasher: PasswordHasher) -> None:
    monkeypatch.setattr(accounts, "_hasher", lambda: hasher)


def _stored(database: Database, name: str) -> str:
    with database.unit_of_work("t") as uow:
        row = accounts._user_row(uow, name)
        assert isinstance(row, UserRow) and row.password_hash is not None
        return row.password_hash


def test_the_cost_is_a_setting_with_the_rfc_default_and_the_owasp_floor() -> None:
    default = accounts.HashCost.from_settings(Settings())
    assert default == accounts.HashCost(memory_kib=65536, time_cost=3, parallelism=4)
    hasher = accounts.hasher_for(default)
    assert (hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (65536, 3, 4)
    # The OWASP minimum configurations are accepted ...
    Settings(password_hash_memory_kib=19456, password_hash_time_cost=2, password_hash_parallelism=1)
    Settings(password_hash_memory_kib=47104, password_hash_time_cost=1, password_hash_parallelism=1)
    # ... anything cheaper is refused, naming the setting.
    with pytest.raises(ValueError, match="password_hash_memory_kib"):
        Settings(password_hash_memory_kib=19455)
    with pytest.raises(ValueError, match="TREPHINE_PASSWORD_HASH_MEMORY_KIB"):
        Settings(password_hash_memory_kib=40000, password_hash_time_cost=1)


def test_a_successful_sign_in_rehashes_at_the_configured_cost(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Counting(time_cost=1, memory_cost=1024), Counting(time_cost=2, memory_cost=2048)
    _use(monkeypatch, old)
    with database.unit_of_work("admin") as uow:
        accounts.add_user(uow, "dr.rehash", "clinician", PASSWORD)
    first = _stored(database, "dr.rehash")
    assert extract_parameters(first).time_cost == 1

    _use(monkeypatch, new)  # the site raised the cost
    with pytest.raises(NotAuthenticated):
        accounts.sign_in(database, "dr.rehash", "not the password", "10.0.0.1", THROTTLE)
    assert _stored(database, "dr.rehash") == first  # a failed try changes nothing
    accounts.sign_in(database, "dr.rehash", PASSWORD, "10.0.0.1", THROTTLE)
    second = _stored(database, "dr.rehash")
    parameters = extract_parameters(second)
    assert (parameters.time_cost, parameters.memory_cost) == (2, 2048)
    new.calls = 0
    accounts.sign_in(database, "dr.rehash", PASSWORD, "10.0.0.1", THROTTLE)
    assert _stored(database, "dr.rehash") == second  # at the configured cost: kept
    assert new.calls == 1  # one check, no new hash


def test_a_disabled_account_is_not_rehashed(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, Counting(time_cost=1, memory_cost=1024))
    with database.unit_of_work("admin") as uow:
        accounts.add_user(uow, "dr.gone", "clinician", PASSWORD)
        accounts.disable_user(uow, "dr.gone")
    before = _stored(database, "dr.gone")
    _use(monkeypatch, Counting(time_cost=2, memory_cost=2048))
    with pytest.raises(NotAuthenticated):
        accounts.sign_in(database, "dr.gone", PASSWORD, "10.0.0.2", THROTTLE)
    assert _stored(database, "dr.gone") == before


def test_a_throttled_try_is_refused_before_any_hashing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = Counting(time_cost=1, memory_cost=1024)
    _use(monkeypatch, hasher)
    with database.unit_of_work("admin") as uow:
        accounts.add_user(uow, "dr.slow", "lab", PASSWORD)
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            accounts.sign_in(database, "dr.slow", "not the password", "10.0.0.3", THROTTLE)
    hasher.calls = 0
    for attempt in (PASSWORD, "still wrong", "nobody's password"):
        with pytest.raises(TooManyAttempts):
            accounts.sign_in(database, "dr.slow", attempt, "10.0.0.3", THROTTLE)
    assert hasher.calls == 0
