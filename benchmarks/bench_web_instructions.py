"""Instructions the server executes per request of each ``bench_web.py`` kind: a figure that
does not move with the machine's load or speed (CPU milliseconds do, by 30-60 % within an hour
on the shared machine; benchmarks/RESULTS.md).

Runs the app in this process under valgrind's callgrind, on a ``bench_web`` cohort: signs the
benchmark's clinician in, sends ``--warm`` requests of the kind (first-use costs: imports,
templates, caches), then switches instruction counting on and sends ``--requests`` more, one at
a time, through the ASGI app (no sockets: the app's own work, middlewares included). The
requests are the same seeded ones every run, so two commits compare exactly. Needs valgrind
(on every machine of this project). A benchmark, not a test.

    .venv/bin/python benchmarks/bench_web_instructions.py "patient page"
    PYTHONPATH=/other/checkout/src .venv/bin/python benchmarks/bench_web_instructions.py \\
        "patient search" --requests 30          # the same figure for another commit's code
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import PASSWORD, USER, build, request_kinds

HOST = b"127.0.0.1:8000"


class InProcess:
    """The app called as an ASGI server would, one request at a time, keeping cookies."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}

    async def __call__(self, method: str, target: str, form: dict[str, str] | None = None) -> Any:
        path, _, query = target.partition("?")
        headers = [(b"host", HOST), (b"accept-encoding", b"gzip")]
        if self.cookies:
            jar = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            headers.append((b"cookie", jar.encode()))
        body = b""
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers += [
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"origin", b"http://" + HOST),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "root_path": "",
            "state": {},
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)  # the client never disconnects early
            return {"type": "http.disconnect"}

        answer: dict[str, Any] = {"status": 0, "body": b""}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for key, value in message["headers"]:
                    if key.lower() == b"set-cookie":
                        name, _, rest = value.decode().partition("=")
                        self.cookies[name] = rest.split(";", 1)[0]
            else:
                answer["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return answer


async def _drive(kind: str, size: int, warm: int, requests: int, ready: Path) -> None:
    from trephine.api.app import create_app

    app = create_app(server=True)
    async with app.router.lifespan_context(app):
        client = InProcess(app)
        import gzip

        page = gzip.decompress((await client("GET", "/sign-in"))["body"]).decode()
        token = re.search(r'name="form_token" value="([^"]+)"', page)
        assert token is not None, "no sign-in form"
        form = {"name": USER, "password": PASSWORD, "form_token": token.group(1), "next": "/"}
        if (await client("POST", "/sign-in", form))["status"] != 303:
            raise SystemExit("sign-in refused")
        make = request_kinds(size)[kind]
        rng = random.Random(7)
        for _ in range(warm):
            await client(*make(rng))
        ready.write_text(str(os.getpid()))
        time.sleep(1.0)  # the parent switches counting on (nothing runs meanwhile)
        for _ in range(requests):
            answer = await client(*make(rng))
            if answer["status"] != 200:
                raise SystemExit(f"{kind}: HTTP {answer['status']}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(request_kinds(1000)))
    parser.add_argument("--size", type=int, default=1000, help="cohort (built as bench_web does)")
    parser.add_argument("--warm", type=int, default=30)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--child", metavar="READY_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url, _ = build(args.size)
    if args.child:
        os.environ["TREPHINE_DATABASE_URL"] = url
        asyncio.run(_drive(args.kind, args.size, args.warm, args.requests, Path(args.child)))
        return
    with tempfile.TemporaryDirectory() as work:
        ready, out, log = (Path(work) / name for name in ("ready", "callgrind.out", "log"))
        child = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                args.kind,
                "--size",
                str(args.size),
                "--warm",
                str(args.warm),
                "--requests",
                str(args.requests),
                "--child",
                str(ready),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),  # a file, not a pipe: valgrind's messages cannot fill it
        )
        while not ready.exists() or not ready.read_text():
            if child.poll() is not None:
                raise SystemExit(f"the measured process ended early:\n{_tail(log)}")
            time.sleep(0.3)
        subprocess.run(
            ["callgrind_control", "-i", "on", ready.read_text()],
            check=True,
            capture_output=True,
        )
        if child.wait() != 0:
            raise SystemExit(f"the measured process failed:\n{_tail(log)}")
        totals = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
        assert totals is not None, "no totals in the callgrind output"
        per = int(totals.group(1)) / args.requests / 1e6
    print(
        f"{args.kind}: {per:.2f} M instructions per request ({args.requests} requests after "
        f"{args.warm} warm-up, cohort {args.size:,}, in process)"
    )


if __name__ == "__main__":
    main()
