"""Web app at scale: p50/p95 of the pages a clinic opens, with 8 concurrent clients over loopback.

Builds (once per schema revision; kept in ``benchmarks/work/``) a synthetic cohort of 1,000 and
one of 10,000 patients through ``trephine demo`` (the import path, assessments and alerts
included), serves each
with ``trephine serve`` (its default worker count, printed) and measures, with 8 concurrent
clients (one keep-alive connection each):

* sign-in (``POST /sign-in``, when the app has accounts), patient search (``/`` with a filter,
  a sort and a page offset), the patient page, the timeline API and the alerts page;
* first paint of the patient chart in headless chromium (navigation start → plotly has drawn,
  reported by ``timeline.js`` as ``data-rendered-ms``), cold cache and warm.

Prints p50/p95 per request kind and cohort, the ratio p95(large)/p95(small) (target ≤ 1.3: the
cost does not grow with the cohort) and p95 against the 100 ms target. A benchmark, not a test.

    .venv/bin/python benchmarks/bench_web.py                  # 1,000 and 10,000 patients
    .venv/bin/python benchmarks/bench_web.py --sizes 200 1000 --requests 40   # quicker look
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from trephine.testing.served import free_port

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "web"
TREPHINE = [sys.executable, "-m", "trephine"]
CLIENTS = 8
USER = "bench.clinician"
PASSWORD = "bench-password-for-the-web-benchmark"  # a synthetic account in a throwaway database


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [*TREPHINE, *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"trephine {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build(size: int) -> tuple[str, float]:
    """The database of a ``size``-patient demo cohort (built once per schema revision: a cohort
    built before a migration holds what the older version stored), and how long building took."""
    from trephine.store.database import MIGRATIONS, head_of

    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"cohort-{size}-{head_of(MIGRATIONS / 'versions')}.db"
    url = f"sqlite:///{path}"
    env = {**os.environ, "TREPHINE_DATABASE_URL": url}
    if path.exists():
        return url, 0.0
    partial = path.with_suffix(".partial.db")
    partial.unlink(missing_ok=True)
    env["TREPHINE_DATABASE_URL"] = f"sqlite:///{partial}"
    start = time.perf_counter()
    _run(["init"], env)
    # Without the demo's own accounts, so that the benchmark's clinician is the first account
    # (added freely); with them, adding it would need an administrator.
    _run(["demo", "--patients", str(size), "--seed", "11", "--no-accounts"], env)
    _run(["users", "add", USER, "--role", "clinician", "--password-stdin"], env, PASSWORD + "\n")
    took = time.perf_counter() - start
    partial.rename(path)
    return url, took


class Server:
    """``trephine serve`` on a free port; ``workers`` None: the command's default."""

    def __init__(self, url: str, workers: int | None = None) -> None:
        self.env = {**os.environ, "TREPHINE_DATABASE_URL": url}
        self.accounts = True  # every page needs a signed-in user (issue 9)
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
        extra = [] if workers is None else ["--workers", str(workers)]
        self.proc = subprocess.Popen(
            [*TREPHINE, "serve", "--port", str(self.port), *extra],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200 and self._all_started():
                    return
                time.sleep(0.3)
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"trephine serve did not come up; log in {self.log.name}")

    def _all_started(self) -> bool:
        """Every worker process has started (uvicorn logs each one's start-up). The first one up
        answers /healthz while the others are still importing: clients connecting then would
        all land on it and stay there (keep-alive), which measures the start, not the server."""
        text = Path(self.log.name).read_text()
        expected = self.workers()
        started = text.count("Application startup complete")
        return expected == "?" or started >= int(expected)

    def workers(self) -> str:
        """How many worker processes ``serve`` says it started (its first line)."""
        found = re.search(r"\((\d+) worker process", Path(self.log.name).read_text())
        return found.group(1) if found else "?"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Client:
    """One keep-alive connection with a cookie jar (what one browser tab does)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.origin = f"http://127.0.0.1:{port}"

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> tuple[int, str]:
        headers = {"Accept-Encoding": "gzip"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.origin
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closes a keep-alive connection idle for 5 s (uvicorn's default); a
            # browser then opens a new one and asks again, and so does this (GETs only).
            if method != "GET":
                raise
            self.conn.close()
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        raw = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                val = rest.split(";", 1)[0]
                if "max-age=0" in value.lower() or val in ('""', ""):
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = val
        if "gzip" in str(response.getheader("content-encoding")):
            raw = gzip.decompress(raw)
        text = raw.decode(errors="replace")
        return response.status, text

    def sign_in(self) -> None:
        status, page = self.request("GET", "/sign-in")
        token = re.search(r'name="form_token" value="([^"]+)"', page)
        if status != 200 or token is None:
            raise SystemExit(f"no sign-in form (HTTP {status})")
        status, _ = self.request(
            "POST",
            "/sign-in",
            {"name": USER, "password": PASSWORD, "form_token": token.group(1), "next": "/"},
        )
        if status != 303:  # a refused sign-in answers the form again (200)
            raise SystemExit(f"sign-in refused (HTTP {status})")


_TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (uvicorn's workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += _tree(int(child))
    return found


def machine_speed() -> float:
    """CPU ms of one fixed pure-Python loop, least of 3: how fast this machine runs Python now.
    A shared machine's speed drifts (seen here: 30-50 % within an hour, every request kind and
    the health check alike), so a run's absolute times are read beside it."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(2_000_000):
            total += i * i % 7
        best = min(best, time.process_time() - start)
    return best * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants, as they are now (Linux)."""
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICK


class Run(list[float]):
    """The latencies (ms) of one measured run, with what the run cost: wall seconds, the
    server's CPU seconds (every process of it) and this benchmark client's own CPU seconds (its
    8 threads share the machine's 2 cores with the server)."""

    wall = 0.0
    server_cpu = 0.0
    client_cpu = 0.0


def measure(
    port: int,
    requests: int,
    make: Callable[[random.Random], tuple[str, str]],
    signed_in: bool,
    server_pid: int | None = None,
) -> Run:
    """``requests`` requests per client, 8 clients at once; every latency in ms. The clients
    sign in first (together), then all start at once, so the CPU figures are the requests'."""
    latencies = Run()
    lock = threading.Lock()
    errors: list[str] = []
    #: Passed twice by the 8 clients and this thread: all signed in; CPU counters read.
    ready = threading.Barrier(CLIENTS + 1)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        client = Client(port)
        try:
            if signed_in:
                client.sign_in()
        finally:
            ready.wait()
        ready.wait()
        mine = []
        for _ in range(requests):
            method, path = make(rng)
            start = time.perf_counter()
            status, _ = client.request(method, path)
            mine.append((time.perf_counter() - start) * 1000)
            if status != 200:
                errors.append(f"{path}: HTTP {status}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    ready.wait()
    server_before = cpu_seconds(server_pid) if server_pid else 0.0
    client_before, wall_before = time.process_time(), time.perf_counter()
    ready.wait()
    for t in threads:
        t.join()
    latencies.wall = time.perf_counter() - wall_before
    latencies.client_cpu = time.process_time() - client_before
    latencies.server_cpu = (cpu_seconds(server_pid) - server_before) if server_pid else 0.0
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return latencies


def measure_sign_in(port: int, requests: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        client = Client(port)
        mine = []
        for _ in range(requests):
            status, page = client.request("GET", "/sign-in")
            token = re.search(r'name="form_token" value="([^"]+)"', page)
            assert token is not None, status
            start = time.perf_counter()
            status, _ = client.request(
                "POST",
                "/sign-in",
                {"name": USER, "password": PASSWORD, "form_token": token.group(1), "next": "/"},
            )
            mine.append((time.perf_counter() - start) * 1000)
            if status != 303:  # a refused sign-in answers the form again (200)
                raise SystemExit(f"sign-in refused (HTTP {status})")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def first_paint(port: int, patient: str, loads: int) -> list[float] | None:
    """ms from navigation start until plotly has drawn the chart (first load = cold cache)."""
    from trephine.testing.served import browser_missing, chromium, sign_in, wait_for

    if browser_missing():
        return None
    base = f"http://127.0.0.1:{port}"
    times = []
    with chromium(1400, 1000) as driver:
        driver.get(f"{base}/healthz")
        if _accounts_exist(driver, base):
            sign_in(driver, base, USER, PASSWORD)
        for _ in range(loads):
            driver.get(f"{base}/patients/{patient}")
            ms = wait_for(
                driver,
                lambda d: d.find_element("id", "timeline-chart").get_attribute("data-rendered-ms"),
            )
            times.append(float(str(ms)))
    return times


def _accounts_exist(driver: object, base: str) -> bool:
    c = http.client.HTTPConnection(base.removeprefix("http://"))
    c.request("GET", "/sign-in")
    return c.getresponse().status == 200


def request_kinds(size: int) -> dict[str, Callable[[random.Random], tuple[str, str]]]:
    """What each request kind asks for, at random over the cohort (seeded per client)."""
    ids = [f"DEMO-{i:04d}" for i in range(1, size + 1)]
    pages = max(1, size // 50)

    def search(r: random.Random) -> tuple[str, str]:
        query: dict[str, object] = r.choice(
            [
                {"q": r.choice(ids)[-4:]},
                {"diagnosis": "AML", "offset": 50 * r.randrange(max(1, pages // 2))},
                {"alerts": "open", "sort": "last_biopsy", "order": "desc"},
                {"offset": 50 * r.randrange(pages)},
            ]
        )
        return "GET", "/?" + urllib.parse.urlencode(query)

    return {
        "patient search": search,
        "patient page": lambda r: ("GET", f"/patients/{r.choice(ids)}"),
        "timeline API": lambda r: ("GET", f"/api/v1/patients/{r.choice(ids)}/timeline"),
        "alerts page": lambda r: ("GET", "/alerts"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs=2, default=[1000, 10000], metavar=("SMALL", "LARGE")
    )
    parser.add_argument("--requests", type=int, default=60, help="per client and request kind")
    parser.add_argument("--paint-loads", type=int, default=5)
    args = parser.parse_args()
    print(f"{CLIENTS} concurrent clients over loopback, {args.requests} requests each per kind")
    from trephine.settings import get_settings

    cost = get_settings()
    print(
        f"password hash: argon2id m = {cost.password_hash_memory_kib} KiB, "
        f"t = {cost.password_hash_time_cost}, p = {cost.password_hash_parallelism} "
        "(TREPHINE_PASSWORD_HASH_*; docs/security.md)"
    )
    print(f"machine speed at the start: a fixed Python loop takes {machine_speed():.0f} ms CPU")
    table: dict[str, dict[int, list[float]]] = {}
    paints: dict[int, list[float] | None] = {}
    for size in args.sizes:
        url, took = build(size)
        print(f"cohort {size:,}: " + (f"built in {took:.0f} s" if took else "reused") + f" ({url})")
        server = Server(url)
        print(f"  trephine serve: {server.workers()} worker processes (its default)")
        try:
            kinds = request_kinds(size)
            if server.accounts:
                table.setdefault("sign-in", {})[size] = measure_sign_in(
                    server.port, max(3, args.requests // 10)
                )
            for name, make in kinds.items():
                measure(server.port, 3, make, server.accounts)  # warm up
                table.setdefault(name, {})[size] = measure(
                    server.port, args.requests, make, server.accounts, server.proc.pid
                )
            paints[size] = first_paint(server.port, f"DEMO-{size // 2:04d}", args.paint_loads)
        finally:
            server.stop()
    small, large = args.sizes
    print()
    print(
        f"| request | p50 {small:,} | p95 {small:,} | p50 {large:,} | p95 {large:,} "
        "| p95 ratio | p95 ≤ 100 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, by_size in table.items():
        a, b = by_size[small], by_size[large]
        ratio = pct(b, 95) / pct(a, 95)
        ok = "yes" if max(pct(a, 95), pct(b, 95)) <= 100 else "no"
        print(
            f"| {name} | {pct(a, 50):.1f} ms | {pct(a, 95):.1f} ms | {pct(b, 50):.1f} ms | "
            f"{pct(b, 95):.1f} ms | {ratio:.2f} {'(≤ 1.3)' if ratio <= 1.3 else '(> 1.3)'} | {ok} |"
        )
    print()
    print(
        "What each run cost (CPU ms per request; cores busy = (server + client CPU) / wall, "
        "of the 2 cores; near 2 the requests queue for a core):"
    )
    print("| request | cohort | req/s | server CPU | client CPU | cores busy |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, by_size in table.items():
        if name == "sign-in":
            continue
        for size, run in by_size.items():
            if isinstance(run, Run) and run.wall:
                n = len(run)
                server_ms, client_ms = run.server_cpu * 1000 / n, run.client_cpu * 1000 / n
                print(
                    f"| {name} | {size:,} | {n / run.wall:.0f} | {server_ms:.1f} ms "
                    f"| {client_ms:.1f} ms "
                    f"| {(run.server_cpu + run.client_cpu) / run.wall:.2f} |"
                )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"machine speed at the end: the same loop takes {machine_speed():.0f} ms CPU")
    for size, times in paints.items():
        if times is None:
            print(f"first paint ({size:,}): chromium not installed, skipped")
        else:
            warm = times[1:] or times
            print(
                f"first paint of the patient chart ({size:,}): cold {times[0]:.0f} ms, "
                f"warm median {statistics.median(warm):.0f} ms (target ≤ 1,500 ms)"
            )


if __name__ == "__main__":
    main()
