"""Fixtures shared by every test area.

Area-specific fixtures live in the ``conftest.py`` of each test folder.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Starlette's TestClient calls itself "testserver"; the app answers only allowed Host headers
# (docs/security.md), so the test process allows that name too (before settings are read).
os.environ.setdefault("TREPHINE_ALLOWED_HOSTS", '["127.0.0.1", "localhost", "::1", "testserver"]')

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from trephine.store.database import Database

from testdata import DATA

#: ``trephine.services.accounts._hasher`` as shipped, kept for :func:`production_password_hashing`.
_PRODUCTION_HASHER: list[Callable[[], PasswordHasher]] = []


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2id at its cheapest in this test process (t=1, m=1 MiB, p=1: about 1 ms, not 190 ms
    of CPU per hash or check). Hundreds of tests add accounts and sign in; the hashing cost is a
    setting of the library, not what they test. The shipped cost is held by the tests that ask
    for :func:`production_password_hashing`; servers started as subprocesses hash as shipped."""
    from argon2 import PasswordHasher

    from trephine.services import accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

    def test_hasher() -> PasswordHasher:
        return cheap

    _PRODUCTION_HASHER.append(accounts._hasher)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", test_hasher)
        yield


@pytest.fixture
def production_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords hashed with the shipped argon2id parameters in this test."""
    from trephine.services import accounts

    monkeypatch.setattr(accounts, "_hasher", _PRODUCTION_HASHER[0])


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``tests/data``: the real files the tests read, vendored (see its MANIFEST.md)."""
    return DATA


@pytest.fixture(scope="session")
def mrd_tube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20,000-event synthetic AML MRD tube made by the shared bench generator (seed 1).

    Copied into a session temp folder so that outputs written beside it stay out of the
    repository; the flow CLI and store tests read the same tube.
    """
    out = tmp_path_factory.mktemp("mrd-tube") / "mrd-tube.fcs"
    shutil.copyfile(DATA / "bench" / "mrd-tube.fcs", out)
    return out


@pytest.fixture(scope="session")
def mrd_gating_ml() -> Path:
    """The bench's Gating-ML 2.0 MRD hierarchy (CD45pos, CD34pos_CD117pos …) for ``mrd_tube``."""
    return DATA / "bench" / "mrd-hierarchy.gatingml.xml"


# --------------------------------------------------------------------------- databases
# ``database_url`` gives an EMPTY database on SQLite (a temp file) and on PostgreSQL (a fresh,
# uniquely named database on TREPHINE_TEST_POSTGRES_URL, dropped afterwards); ``database`` gives
# the same, migrated to head. The PostgreSQL param is skipped when the server is unreachable,
# unless TREPHINE_REQUIRE_POSTGRES=1 (CI), where that is a failure.

POSTGRES_URL = os.environ.get(
    "TREPHINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_postgres_problem: list[str | None] = []


def _postgres_unreachable() -> str | None:
    if not _postgres_problem:
        from sqlalchemy import create_engine, text

        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            _postgres_problem.append(None)
        except Exception as exc:  # any failure to connect means "not reachable"
            _postgres_problem.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            engine.dispose()
    return _postgres_problem[0]


BACKENDS = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]


def _require_postgres() -> None:
    problem = _postgres_unreachable()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} not reachable ({problem})"
        if os.environ.get("TREPHINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " and TREPHINE_REQUIRE_POSTGRES=1")
        pytest.skip(message)


@contextmanager
def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A fresh, uniquely named database (optionally a copy of ``template``), dropped after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"trephine_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An EMPTY database (no schema): for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trephine-test.db'}"
        return
    _require_postgres()
    with _postgres_database() as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An EMPTY database shared by one test module, on each backend (e.g. a demo loaded once)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('module-db') / 'trephine-test.db'}"
        return
    _require_postgres()
    with _postgres_database() as url:
        yield url


# Migrating once per session and copying is much cheaper than migrating for every test: a file
# copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL (which copies triggers and functions).


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trephine.store.database import Database

    path = tmp_path_factory.mktemp("template") / "migrated.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """The URL of a migrated SQLite database of this test's own (a copy of the template)."""
    path = tmp_path / "migrated.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    from sqlalchemy.engine import make_url

    from trephine.store.database import Database

    _require_postgres()
    with _postgres_database() as url:
        db = Database(url)
        db.upgrade()
        db.dispose()  # a template must have no open connections when it is copied
        yield str(make_url(url).database)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated :class:`trephine.store.database.Database` on each backend."""
    from trephine.store.database import Database

    if request.param == "sqlite":
        path = tmp_path / "trephine-test.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
        try:
            yield db
        finally:
            db.dispose()
        return
    template = request.getfixturevalue("_postgres_template")
    with _postgres_database(template) as url:
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless chromium (1400 × 1000) for the browser tests of a module, after checking that
    chromium, chromedriver and axe-core are here (trephine.testing.served.require_browser)."""
    from trephine.testing.served import chromium, require_browser

    require_browser()
    with chromium(1400, 1000) as driver:
        yield driver


@pytest.fixture(scope="session")
def site_templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder where trephine.testing.served.make_site keeps each ``init`` + ``demo`` database
    it made, for the whole run: pytest-xdist workers share the run's base temp folder."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is popen-gwN inside the run's folder; alone, it is the run's.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "site-templates"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder for a browser module's screenshots (trephine.testing.served.artifacts_dir)."""
    from trephine.testing.served import artifacts_dir

    return artifacts_dir(tmp_path_factory.mktemp("screenshots"))


#: Modules that take minutes each (every console block of a Markdown file runs in one bash
#: process), started first; then every module holding a test marked ``slow``.
_LONGEST_FIRST = ("test_docs_console.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest modules first, each module's tests kept together and in their order.

    Under ``pytest -n 2`` the workers take tests in this order: a module of minutes collected
    last (the docs console blocks come after most folders) kept one worker busy for minutes
    after the other had finished. Started first, the long ones overlap with everything else.
    Keeping a module's tests together keeps its module-scoped fixtures (a served demo, a
    browser) built once per worker.

    Under ``--dist loadgroup`` (scripts/run-tests) a worker also writes down the modules whose
    tests share a fixture wider than one test, for :class:`_ModuleGroups`.
    """
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> int:
        if item.path.name in _LONGEST_FIRST:
            return 0
        return 1 if item.path in slow_modules else 2

    items[:] = sorted(items, key=rank)  # stable: the collection order within each rank
    written = os.environ.get(_GROUPS)
    if written and getattr(config.option, "loadgroup", False):  # an xdist worker of that run
        grouped = sorted({item.nodeid.split("::", 1)[0] for item in items if _shares(item)})
        part = Path(f"{written}.{os.environ['PYTEST_XDIST_WORKER']}")
        part.write_text("\n".join(grouped))
        part.replace(written)  # whole or not at all: every worker collects the same tests


#: Where the workers write the modules :class:`_ModuleGroups` keeps together (set by the
#: controller of a ``--dist loadgroup`` run, inherited by its workers).
_GROUPS = "TREPHINE_TEST_MODULE_GROUPS"


def _shares(item: pytest.Item) -> bool:
    """Whether ``item`` uses a fixture built once for several tests of its module or class."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    wider = ("module", "class", "package")
    return any(defs[-1].scope in wider for defs in info.name2fixturedefs.values() if defs)


def pytest_configure(config: pytest.Config) -> None:
    if (
        not os.environ.get("PYTEST_XDIST_WORKER")
        and getattr(config.option, "dist", "no") == "loadgroup"
    ):
        import tempfile

        folder = tempfile.mkdtemp(prefix="trephine-test-groups-")
        os.environ[_GROUPS] = str(Path(folder) / "modules")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadgroup`` (scripts/run-tests): the tests of a module sharing a module-scoped
    fixture (a served site and a chromium, a demo database) are one unit of work, run by one
    worker; every other test is its own unit, handed to whichever worker is free, in the
    collection order (longest modules first) under ``--no-loadscope-reorder``.

    xdist's own ``xdist_group`` marks do not group under pytest 9 (xdist 3.8 renames a test
    through ``item._nodeid``, which pytest 9 no longer reads); and under ``--dist worksteal`` a
    stolen half of a worker's queue often began in the middle of a browser module, whose site,
    server and chromium the thief built again (test_browser_roles three times in one run).
    """
    if getattr(config.option, "dist", "no") != "loadgroup" or not os.environ.get(_GROUPS):
        return None
    from xdist.scheduler import LoadScopeScheduling

    written = Path(os.environ[_GROUPS])

    class _ModuleGroups(LoadScopeScheduling):  # type: ignore[misc]
        grouped: frozenset[str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.grouped is None:  # read once the workers have collected
                text = written.read_text() if written.exists() else ""
                self.grouped = frozenset(text.split())
            module = nodeid.split("::", 1)[0]
            return module if module in self.grouped else nodeid

    return _ModuleGroups(config, log)
