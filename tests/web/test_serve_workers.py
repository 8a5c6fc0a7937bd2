"""``trephine serve --workers 2``: two processes answer one port, and nothing either keeps in its
own memory decides who is signed in, who is throttled, or where the audit chain goes on.

One server start: every request below opens a NEW connection, so the kernel hands each to
whichever worker accepts it first; both workers must have answered (their CPU time grew), and
every answer must be the same as one process would give. The in-process tests beside it
(``tests/api/test_shared_state.py``) prove the same rules deterministically with two app
instances on one database.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from trephine.api import serving
from trephine.services import accounts, audit
from trephine.store.database import Database
from trephine.testing.accounts import TEST_PASSWORD, ensure_user
from trephine.testing.fixtures import load_demo_database
from trephine.testing.served import free_port

TREPHINE = [sys.executable, "-m", "trephine"]
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _workers(pid: int) -> list[int]:
    """uvicorn's worker processes under the server (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.append(int(child))
    return found


@contextmanager
def _serving(url: str, work: Path, workers: int) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "TREPHINE_DATABASE_URL": url,
        "TREPHINE_SIGNIN_SLOW_AFTER": "3",
        "TREPHINE_SIGNIN_LOCK_AFTER": "4",
    }
    port = free_port()
    log = work / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*TREPHINE, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 120
        while len(_workers(proc.pid)) < workers or _request(port, "GET", "/healthz")[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve did not start: {log.read_text()}")
            time.sleep(0.3)
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _request(
    port: int,
    method: str,
    path: str,
    cookies: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> tuple[int, str, dict[str, str]]:
    """One request on a connection of its own; returns status, body and the cookies set."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Connection": "close"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
    except OSError:
        return 0, "", {}
    finally:
        connection.close()
    set_cookies = {}
    for name, value in response.getheaders():
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            set_cookies[key] = rest.split(";", 1)[0]
    return response.status, text, set_cookies


def _sign_in(port: int, name: str, password: str) -> tuple[int, dict[str, str]]:
    status, page, cookies = _request(port, "GET", "/sign-in")
    found = _FORM_TOKEN.search(page)
    assert status == 200 and found is not None
    form = {"name": name, "password": password, "form_token": found.group(1), "next": "/"}
    status, _, set_cookies = _request(port, "POST", "/sign-in", cookies, form)
    return status, set_cookies


@pytest.mark.slow
def test_two_workers_share_sessions_throttling_and_one_audit_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    loaded = load_demo_database(url, 2, seed=7)
    patient = loaded.cohort[0].patient.external_id
    database = Database(url)
    clinician = ensure_user(database, "clinician")
    lab = ensure_user(database, "lab")
    with _serving(url, tmp_path, workers=2) as (port, proc):
        workers = _workers(proc.pid)
        assert len(workers) == 2
        before = {pid: _cpu_ticks(pid) for pid in workers}

        status, cookies = _sign_in(port, clinician, TEST_PASSWORD)
        assert status == 303
        session = {"trephine_session": cookies["trephine_session"]}
        answers: list[int] = []

        timeline = f"/api/v1/patients/{patient}/timeline"

        def read(n: int) -> None:
            for _ in range(n):
                answers.append(_request(port, "GET", timeline, session)[0])

        readers = [threading.Thread(target=read, args=(6,)) for _ in range(8)]
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join(timeout=120)
        # The session made by one worker is known to both; every read audited on one chain.
        assert answers == [200] * 48
        assert all(_cpu_ticks(pid) > before[pid] for pid in workers), "one worker idle"

        # Throttling counts failures in the database: 3 failures, wherever they landed, make
        # the next try wait (429), even with the right password.
        fails = [_sign_in(port, lab, "not the password")[0] for _ in range(3)]
        assert fails == [401, 401, 401]
        assert _sign_in(port, lab, TEST_PASSWORD)[0] == 429

        # Sign-out through one worker ends the session for both.
        token = accounts.csrf_token(session["trephine_session"])
        status, _, _ = _request(port, "POST", "/sign-out", session, {"csrf_token": token})
        assert status == 303
        refused = [_request(port, "GET", timeline, session)[0] for _ in range(6)]
        assert refused == [401] * 6
    with database.unit_of_work("auditor") as uow:
        (chain,) = audit.chain_checks(uow)
        views = [e for e in audit.reads(uow) if e.detail.get("what") == "timeline"]
    assert chain.passed is True, chain.detail
    assert len(views) == 48
    database.dispose()


def _connections(pid: int, port: int) -> int:
    """Established TCP connections to ``port`` that process ``pid`` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: established
                held += 1
    return held


def _started(log: Path, workers: int) -> bool:
    return log.read_text().count("Application startup complete") >= workers


@pytest.mark.slow
def test_two_workers_share_kept_alive_connections_evenly(tmp_path: Path) -> None:
    """Connections made once both workers are up split 6/6 (5/7 on a very busy machine): with
    uvicorn's own accept the worker that just served takes most (8/0, 5/3, 6/2, 1/7 seen; 4/8
    and 2/10 of these 12), and keep-alive keeps every later request of that connection on it
    while the other core idles (api/serving.py)."""
    url = f"sqlite:///{tmp_path / 'fair.db'}"
    load_demo_database(url, 1, seed=3)
    with _serving(url, tmp_path, workers=2) as (port, proc):
        deadline = time.monotonic() + 60
        while not _started(tmp_path / "serve.log", 2):
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        kept = []
        for _ in range(12):  # one after another, as browser tabs open; each stays open
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            kept.append(connection)
            # A pause longer than a worker's wait (as between people opening the app; one that
            # comes while a worker still waits over the last may go to the busier one).
            time.sleep(serving.MOST + 0.03)
        held = sorted(_connections(pid, port) for pid in _workers(proc.pid))
        for connection in kept:
            connection.close()
        # Even, or one off where the machine is so busy that the worker holding fewer wakes
        # later than the other's few milliseconds more of waiting (seen once as 5/7 at load 6).
        assert held[1] - held[0] <= 2, held
