"""The real thing for end-to-end tests and benchmarks: ``trephine`` in a subprocess, a served
app on a free loopback port, and headless Debian chromium through selenium.

Used by every browser test module (``tests/web``, ``tests/patients``) and
``benchmarks/bench_web.py``: one home for starting a site (:func:`make_site`, :func:`serving`),
driving chromium (:func:`chromium`, :func:`sign_in`, :func:`wait_for`) and judging a page
(:func:`look`: axe-core, sideways scrolling at 1400 and 400 px, screenshots). Screenshots and
other artifacts go to :func:`artifacts_dir`: ``$TREPHINE_ARTIFACTS`` when set (CI keeps it),
else ``$TREPHINE_SCREENSHOT_DIR``, else the folder the caller gives (pytest's tmp dir).

Browser tests are skipped when chromium, chromedriver, selenium or axe-core are missing
(:func:`require_browser`), unless ``TREPHINE_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trephine.demo.calendar import REFERENCE_AS_OF

TREPHINE = [sys.executable, "-m", "trephine"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
#: The project root (the package is installed editable from ``src/``).
ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``trephine ARGS``; a failure raises with its output."""
    done = subprocess.run(
        [*TREPHINE, *args], env=env, capture_output=True, text=True, timeout=600, input=stdin
    )
    if done.returncode != 0:
        raise AssertionError(f"trephine {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@contextmanager
def serving(
    env: dict[str, str], log: Path, timeout: float = 90, *, workers: int = 1
) -> Iterator[str]:
    """``trephine serve`` on a free port until the block ends; yields the base URL.

    One worker process unless asked (a browser test drives one page at a time; each further
    worker is another interpreter importing the app)."""
    port = free_port()
    command = [*TREPHINE, "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"trephine serve did not come up:\n{log.read_text()}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def browser_missing() -> list[str]:
    """What is missing for the browser tests (empty when chromium can be driven)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:  # pragma: no cover - selenium is a dev dependency
        missing.append("selenium")
    return missing


@contextmanager
def chromium(width: int = 1300, height: int = 1500) -> Iterator[Any]:
    """A headless chromium (selenium WebDriver) with a throwaway profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="trephine-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    # Console messages (CSP violations among them) for driver.get_log("browser").
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def artifacts_dir(default: Path) -> Path:
    folder = Path(
        os.environ.get("TREPHINE_ARTIFACTS") or os.environ.get("TREPHINE_SCREENSHOT_DIR") or default
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for(driver: Any, condition: Any, timeout: float = 60) -> Any:
    """Wait until ``condition(driver)`` is truthy, as a person waits for a page.

    A page that navigates while the condition reads it (a form posted, a redirect) replaces its
    elements: a found element can go stale before its text is read. That is the page still
    loading, not a failure, so stale and not-yet-present elements are waited through.
    """
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(condition)


def axe_js() -> Path:
    """axe-core's script: ``$TREPHINE_AXE_JS``, else what scripts/run-tests installs with npm."""
    default = ROOT / ".cache" / "node_modules" / "axe-core" / "axe.min.js"
    return Path(os.environ.get("TREPHINE_AXE_JS") or default)


def require_browser(axe: bool = True) -> None:
    """Skip the calling test (or fixture) when the browser tests cannot run here; under
    ``TREPHINE_REQUIRE_BROWSER=1`` (CI) fail instead, naming what is missing."""
    import pytest

    missing = browser_missing()
    if axe and not axe_js().is_file():
        missing.append(f"axe-core at {axe_js()}")
    if missing:
        message = f"browser tests need {', '.join(missing)}"
        if os.environ.get("TREPHINE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " and TREPHINE_REQUIRE_BROWSER=1")
        pytest.skip(message)


def make_site(
    work: Path,
    accounts: Sequence[tuple[str, str]],
    password: str,
    patients: int = 20,
    seed: int = 7,
    env: dict[str, str] | None = None,
    as_of: str = REFERENCE_AS_OF.isoformat(),
    templates: Path | None = None,
) -> dict[str, str]:
    """A SQLite site in ``work`` for a served app: ``trephine init``, ``trephine demo`` (without
    the demo's own accounts, on the calendar ``as_of`` gives: by default the reference one, so
    the site does not depend on the day the tests run) and ``accounts`` as ``(name, role)``
    pairs, all with ``password``.

    The first account is added freely (no account exists yet); when it is an admin it adds the
    others, as ``trephine users add`` requires once accounts exist: all of them by the command's
    own code in one ``python -m trephine.testing.served`` process (a Python start-up of a second
    or more each, not one per account). Answers the environment (``TREPHINE_DATABASE_URL`` set)
    for :func:`run_cli` and :func:`serving`.

    ``templates``, a folder kept for the run (the test suite's: shared by the pytest-xdist
    workers), keeps the database ``init`` + ``demo`` made for each ``(patients, seed, as_of)``: the
    next site of that shape is a copy of it (init and demo read no setting but the database
    URL), made under a file lock so that two workers do not build it at once.
    """
    site = {**os.environ, "TREPHINE_DATABASE_URL": f"sqlite:///{work / 'site.db'}", **(env or {})}
    demo = ["demo", "--patients", str(patients), "--seed", str(seed), "--no-accounts"]
    demo += ["--as-of", as_of]
    if templates is None:
        run_cli(["init"], site)
        run_cli(demo, site)
    else:
        shutil.copyfile(_demo_template(templates, demo, site), work / "site.db")
    if accounts:
        lines = "".join(f"{password}\n" for _ in accounts)
        listed = ",".join(f"{name}:{role}" for name, role in accounts)
        done = subprocess.run(
            [sys.executable, "-m", "trephine.testing.served", listed],
            env=site,
            capture_output=True,
            text=True,
            timeout=600,
            input=lines,
        )
        if done.returncode != 0:
            raise AssertionError(f"adding {listed} failed:\n{done.stdout}\n{done.stderr}")
    return site


def _demo_template(templates: Path, demo: list[str], site: dict[str, str]) -> Path:
    """The database ``trephine init`` and ``trephine demo`` (``demo``: its arguments) made,
    built once in ``templates`` whoever asks first (a file lock) and copied by the others."""
    import fcntl

    folder = templates / "-".join(a.lstrip("-") for a in demo)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.db"
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            here = {**site, "TREPHINE_DATABASE_URL": f"sqlite:///{path}"}
            run_cli(["init"], here)
            run_cli(demo, here)
            (folder / "done").touch()
    return path


def _add_accounts(listed: str) -> None:
    """``trephine users add NAME --role ROLE --password-stdin`` for each ``NAME:ROLE`` of
    ``listed`` (comma-separated), one password line each on standard input, in this process;
    after a first admin, as that admin (``TREPHINE_USER``), as the command requires."""
    from trephine.cli.accounts import users_add
    from trephine.settings import get_settings

    for n, pair in enumerate(listed.split(",")):
        name, role = pair.split(":")
        users_add(name, role, password_stdin=True, database_url=None)
        if n == 0 and role == "admin":
            os.environ["TREPHINE_USER"] = name
            get_settings.cache_clear()


def sign_in(driver: Any, base: str, name: str, password: str, start: str = "/sign-in") -> None:
    """Sign in through the form as a person would, starting signed out at ``start`` (a page that
    sends an anonymous visitor to the sign-in form); done when the header names the role."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}{start}")
    wait_for(driver, lambda d: "/sign-in" in d.current_url and d.find_elements(By.ID, "name"))
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.sign-in-form button").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "user-role"))


def axe_violations(driver: Any) -> list[str]:
    """Serious and critical axe-core violations of the current page."""
    driver.execute_script(axe_js().read_text())
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations));"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def scrolls_sideways(driver: Any) -> bool:
    """Whether the current page is wider than the window (a person would scroll sideways)."""
    return bool(
        driver.execute_script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
    )


def look(
    driver: Any,
    shots: Path,
    name: str,
    failures: list[str],
    widths: Sequence[int] = (1400, 400),
    height: int = 1000,
) -> None:
    """Judge the current page as a person would see it: at each width (the window as high as
    the page) sideways scrolling and a screenshot ``NAME-WIDTH.png`` in ``shots``, and axe-core
    at the narrowest width; back to the first width. Axe runs narrow because some faults exist
    only there (a table box that scrolls at 400 px must take keyboard focus), and once, for the
    suite's time. What is wrong is added to ``failures``, so one test reports every page's
    problems at once."""
    for width in widths:
        driver.set_window_size(width, height)
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(int(full) + 140, 6000))
        if width == min(widths):
            failures.extend(f"{name} at {width} px: {v}" for v in axe_violations(driver))
        if scrolls_sideways(driver):
            failures.append(f"{name}: scrolls sideways at {width} px")
        driver.save_screenshot(str(shots / f"{name}-{width}.png"))
    driver.set_window_size(widths[0], height)


if __name__ == "__main__":  # make_site's accounts: python -m trephine.testing.served NAME:ROLE,...
    _add_accounts(sys.argv[1])
