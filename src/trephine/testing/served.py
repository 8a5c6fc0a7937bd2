"""The real thing for end-to-end tests and benchmarks: ``trephine`` in a subprocess, a served
app on a free loopback port, and headless Debian chromium through selenium.

Used by ``tests/web`` (browser tests per role) and ``benchmarks/bench_web.py``. Screenshots and
other artifacts go to :func:`artifacts_dir`: ``$TREPHINE_ARTIFACTS`` when set (CI keeps it),
else ``$TREPHINE_SCREENSHOT_DIR``, else the folder the caller gives (pytest's tmp dir).
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TREPHINE = [sys.executable, "-m", "trephine"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


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
def serving(env: dict[str, str], log: Path, timeout: float = 90) -> Iterator[str]:
    """``trephine serve`` on a free port until the block ends; yields the base URL."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*TREPHINE, "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
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
