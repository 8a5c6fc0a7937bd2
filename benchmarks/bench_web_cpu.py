"""Server CPU per request: what each request kind of ``bench_web.py`` costs the server, in CPU ms.

Wall times mean little on a shared machine (other work takes the cores); the CPU time the server
process spends does not depend on how busy the machine is. This serves a ``bench_web`` cohort
with ``trephine serve --workers 1``, signs one client in and sends ``--requests`` requests of
each kind ONE AT A TIME, reading the server's CPU time (user + system, from ``/proc``, every
process of the server) before and after each kind, ``--rounds`` times. Prints the least CPU ms
per request of each kind (and the sign-in's, password hash included). Linux only (``/proc``).
A benchmark, not a test.

    .venv/bin/python benchmarks/bench_web_cpu.py                   # the 1,000-patient cohort
    .venv/bin/python benchmarks/bench_web_cpu.py --size 10000 --requests 100
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import PASSWORD, USER, Client, Server, build, cpu_seconds, request_kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="cohort (built as bench_web does)")
    parser.add_argument("--requests", type=int, default=60, help="per request kind")
    parser.add_argument("--sign-ins", type=int, default=10)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure every kind this many times and report the least (other work on the "
        "machine only ever adds CPU time: cache misses, frequency)",
    )
    args = parser.parse_args()
    url, _ = build(args.size)
    server = Server(url, workers=1)
    try:
        client = Client(server.port)
        pid = server.proc.pid
        for _ in range(3):  # warm-up: first-use costs (imports, template compilation, caches)
            client.sign_in()
        least: dict[str, float] = {}

        def keep(name: str, seconds: float) -> None:
            least[name] = min(seconds, least.get(name, seconds))

        rng = random.Random(7)
        kinds = {
            **request_kinds(args.size),
            # The floor: what any request costs the pipeline (middlewares, routing, headers).
            "health check (anonymous)": lambda _r: ("GET", "/healthz"),
            "static file (12 KB CSS)": lambda _r: ("GET", "/static/trephine.css"),
        }
        for _ in range(args.rounds):
            before = cpu_seconds(pid)
            for _ in range(args.sign_ins):
                status, page = client.request("GET", "/sign-in")
                token = re.search(r'name="form_token" value="([^"]+)"', page)
                assert status == 200 and token is not None
                form = {"name": USER, "password": PASSWORD, "form_token": token.group(1)}
                status, _ = client.request("POST", "/sign-in", {**form, "next": "/"})
                if status != 303:
                    raise SystemExit(f"sign-in refused (HTTP {status})")
            keep("sign-in (form + POST)", (cpu_seconds(pid) - before) / args.sign_ins)
            for name, make in kinds.items():
                for _ in range(5):
                    client.request(*make(rng))
                before = cpu_seconds(pid)
                for _ in range(args.requests):
                    status, _ = client.request(*make(rng))
                    if status != 200:
                        raise SystemExit(f"{name}: HTTP {status}")
                keep(name, (cpu_seconds(pid) - before) / args.requests)
    finally:
        server.stop()
    print(
        f"server CPU per request, cohort {args.size:,}, requests one at a time (--workers 1), "
        f"least of {args.rounds} rounds"
    )
    print("| request | server CPU ms/request |")
    print("|---|---:|")
    for name, seconds in least.items():
        print(f"| {name} | {seconds * 1000:.1f} |")


if __name__ == "__main__":
    main()
