"""A warm ``trephine`` for the docs' console blocks: one process imports the command line and
its heavy libraries once, and each ``trephine ...`` line of a Markdown file runs in a process
forked from it.

Why: a ``trephine`` process spends most of a typical command importing (SQLAlchemy, the table
definitions, pandas, numpy: about 1 s of CPU of a 1.4 s ``patients list``), and the docs hold
over 250 commands, so the console test spent most of its minutes importing the same modules
again. Forking from an interpreter that has already imported them keeps what the test is for:
bash still runs every line as written, with the command's own arguments, working folder,
environment, standard input, output and error, and its exit code; only the start-up is shared.

How: :func:`start` launches ``python console_server.py SOCKET`` and writes a ``trephine``
client script into a folder that goes first on ``PATH``. The client (stdlib only, started with
``-S``) connects to the socket and passes its three standard file descriptors (``SCM_RIGHTS``)
and a JSON request (argv, cwd, environment). The server forks a child per connection; the child
puts the descriptors on 0, 1 and 2, takes the folder and environment, runs
``trephine.cli.main:app`` and sends back the exit code, which the client exits with. A child that
dies without answering makes the client exit 70 with a message, so a crash fails the test.

The real entry point (the ``trephine`` script the package installs) is still what every other
test that starts ``trephine`` runs, and what ``scripts/run-demo`` and CI's newcomer trial use.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path

#: Imported in the server before any fork, besides every module of the ``trephine`` package:
#: the heavy libraries the documented commands import lazily (each 0.8-2 s of CPU to import).
PRELOAD = (
    "sqlalchemy.dialects.sqlite",
    "numpy",
    "pandas",
    "scipy.stats",
    "lifelines",
    "matplotlib.pyplot",
    "anndata",
    "weasyprint",
)
#: Modules of the package not imported ahead: ``__main__`` runs the command line on import,
#: migration scripts run only inside Alembic, ``testing`` is the pytest plugin.
_NOT_PRELOADED = ("trephine.__main__", "trephine.store.migrations", "trephine.testing")


def _preload() -> None:
    """Import every module of ``trephine`` and :data:`PRELOAD`. A module that fails to import
    stops the server, so the console test fails loudly rather than hiding it."""
    import pkgutil

    os.environ.setdefault("MPLBACKEND", "Agg")
    import trephine

    for module in pkgutil.walk_packages(trephine.__path__, "trephine."):
        if not module.name.startswith(_NOT_PRELOADED):
            importlib.import_module(module.name)
    for name in PRELOAD:
        importlib.import_module(name)


_HEADER = struct.Struct("!I")

CLIENT = '''\
#!{python} -S
"""trephine, run by the docs' console-test server (tests/console_server.py)."""
import json, os, socket, struct, sys
request = json.dumps({{"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect({socket_path!r})
socket.send_fds(s, [struct.pack("!I", len(request))], [0, 1, 2])
s.sendall(request)
answer = b""
while True:
    chunk = s.recv(64)
    if not chunk:
        break
    answer += chunk
if not answer:
    sys.stderr.write("trephine (console-test server): the command died without an exit code\\n")
    sys.exit(70)
sys.exit(int(answer))
'''


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client closed the connection mid-request")
        data += chunk
    return data


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    sys.stderr.write(f"{value}\n")
    return 1


def _run_child(conn: socket.socket) -> None:
    """In the forked child: become the client's ``trephine`` process, run it, answer the code."""
    code = 70
    try:
        header, fds, _flags, _addr = socket.recv_fds(conn, _HEADER.size, 3)
        (size,) = _HEADER.unpack(header)
        request = json.loads(_recv_exact(conn, size))
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        from trephine.cli.main import app

        try:
            app(prog_name="trephine")
            code = 0
        except SystemExit as stop:
            code = _exit_code(stop.code)
        except BaseException:  # an uncaught error: its traceback, as Python would print it
            traceback.print_exc()
            code = 1
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BrokenPipeError, ValueError):
                stream.flush()
    finally:
        try:
            conn.sendall(str(code).encode())
        finally:
            os._exit(code)


def serve(socket_path: str) -> None:
    _preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        conn, _ = server.accept()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _run_child(conn)
        conn.close()


class ConsoleServer:
    """A running server and the folder holding its ``trephine`` client."""

    def __init__(self, process: subprocess.Popen[str], bin_dir: Path) -> None:
        self.process = process
        self.bin_dir = bin_dir

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(folder: Path, env: dict[str, str], timeout: float = 120.0) -> ConsoleServer:
    """Start a server whose children see ``env`` until a request brings its own; return it once
    it has imported everything and listens."""
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "trephine.sock"
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    client = bin_dir / "trephine"
    client.write_text(
        CLIENT.format(python=sys.executable, socket_path=str(socket_path)), encoding="utf-8"
    )
    client.chmod(0o755)
    process = subprocess.Popen(
        [sys.executable, __file__, str(socket_path)],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=(folder / "server.log").open("w"),
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = process.stdout.readline()
    if line.strip() != "ready" or time.monotonic() > deadline:
        process.kill()
        log = (folder / "server.log").read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"the console-test server did not start: {line!r} {log[-2000:]}")
    return ConsoleServer(process, bin_dir)


if __name__ == "__main__":
    serve(sys.argv[1])
