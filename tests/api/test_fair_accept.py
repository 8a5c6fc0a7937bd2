"""The fair accept of ``trephine serve``'s workers (``api/serving.py``), in one process: two
event loops on two threads share one listening socket, as two worker processes do."""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from typing import Any

import pytest

from trephine.api.serving import MOST, STEP, TICK, FairAcceptLoop, FairListener


class _Counting(asyncio.Protocol):
    """Counts the connections its loop took, keeps them open."""

    def __init__(self, taken: list[int], index: int) -> None:
        self.taken, self.index = taken, index

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.taken[self.index] += 1


class _Worker(threading.Thread):
    def __init__(self, listening: socket.socket, taken: list[int], index: int) -> None:
        super().__init__(daemon=True)
        self.loop = FairAcceptLoop()
        self.sock = listening.dup()
        self.taken, self.index = taken, index
        self.ready = threading.Event()
        self.server: Any = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.server = await self.loop.create_server(
                lambda: _Counting(self.taken, self.index), sock=self.sock, backlog=64
            )
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def stop(self) -> None:
        def close() -> None:
            self.server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(close)
        self.join(timeout=10)
        self.loop.close()


@pytest.fixture
def listening() -> Any:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def _connect_one_after_another(
    port: int, n: int, taken: list[int], kept: list[socket.socket]
) -> None:
    for _ in range(n):
        before = sum(taken)
        kept.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        deadline = time.monotonic() + 5
        while sum(taken) == before:  # taken by a worker before the next one connects
            assert time.monotonic() < deadline, taken
            time.sleep(0.001)
        # Then a pause longer than any worker's wait (as between people opening the app): a
        # connection that comes while a worker still waits over the last one may go to it.
        time.sleep(MOST + 0.03)


def test_a_worker_holding_fewer_connections_takes_the_new_ones(
    listening: socket.socket,
) -> None:
    """Worker 0 starts first and takes 4 connections; then worker 1 starts, and of the next 8
    it takes enough to even up: 6 and 6. (asyncio's own accept split the 8 about evenly,
    leaving 8 and 4, or worse: 9 and 3, 10 and 2.)"""
    taken = [0, 0]
    port = listening.getsockname()[1]
    workers = [_Worker(listening, taken, i) for i in range(2)]
    kept: list[socket.socket] = []
    try:
        workers[0].start()
        assert workers[0].ready.wait(10)
        _connect_one_after_another(port, 4, taken, kept)
        assert taken == [4, 0]
        workers[1].start()
        assert workers[1].ready.wait(10)
        _connect_one_after_another(port, 8, taken, kept)
        # Even, or one off on a very busy machine (the worker holding fewer woke late).
        assert taken[1] >= 5, taken
        # Each listener counts what its worker holds; a closed connection leaves the count.
        assert [w.server.held() for w in workers] == taken
        kept.pop().close()
        deadline = time.monotonic() + 5
        while sum(w.server.held() for w in workers) != 11:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        for s in kept:
            s.close()
        for w in workers:
            if w.is_alive():
                w.stop()


def _when_taken(holding: int, pending: bool) -> float | None:
    """On a clock of our own: how long a listener whose worker holds ``holding`` connections
    waits before taking a waiting one (None: it stopped waiting without taking)."""
    loop = FairAcceptLoop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client = None
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        if pending:
            client = socket.create_connection(sock.getsockname(), timeout=5)
        now = [0.0]
        loop.time = lambda: now[0]  # type: ignore[method-assign]
        listener = FairListener(loop, asyncio.Protocol, sock)
        listener.held = lambda: holding  # type: ignore[method-assign]
        taken: list[float] = []
        listener._take = lambda: taken.append(now[0])  # type: ignore[method-assign]
        listener._ready()
        while not taken and listener._timer is not None and now[0] < 1:
            listener._timer.cancel()  # run its call on our clock instead
            now[0] += TICK
            listener._waited()
        stopped = listener._watching
        listener.close()
        assert stopped or taken
        return round(taken[0], 6) if taken else None
    finally:
        if client is not None:
            client.close()
        sock.close()
        loop.close()


def test_the_wait_grows_with_what_a_worker_holds_and_is_capped() -> None:
    assert _when_taken(0, pending=True) == 0  # holding nothing: at once
    assert _when_taken(1, pending=True) == pytest.approx(STEP, abs=TICK)
    assert _when_taken(3, pending=True) == pytest.approx(3 * STEP, abs=TICK)
    assert _when_taken(100, pending=True) == pytest.approx(MOST, abs=TICK)


def test_a_wait_ends_when_another_worker_took_the_connection() -> None:
    assert _when_taken(3, pending=False) is None


def test_closing_stops_taking_and_closes_the_socket() -> None:
    loop = FairAcceptLoop()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        listener = FairListener(loop, asyncio.Protocol, sock)
        assert listener.is_serving() and listener.sockets == (sock,)
        listener.close()
        assert not listener.is_serving() and listener.sockets == ()
        assert sock.fileno() == -1
        loop.run_until_complete(listener.wait_closed())
    finally:
        loop.close()


class _Exhausted(socket.socket):
    def accept(self) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")


def test_out_of_files_waits_and_retries_rather_than_spinning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = FairAcceptLoop()
    try:
        sock = _Exhausted(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        listener = FairListener(loop, asyncio.Protocol, sock)
        listener._take()
        assert listener._timer is not None  # retrying later
        assert not listener._watching  # not spinning on the ready socket meanwhile
        assert "Too many open files" in caplog.text
        listener.close()
    finally:
        loop.close()


def test_a_host_and_port_are_asyncios_own_server() -> None:
    loop = FairAcceptLoop()
    try:
        server = loop.run_until_complete(
            loop.create_server(asyncio.Protocol, "127.0.0.1", 0, backlog=8)
        )
        assert isinstance(server, asyncio.Server)
        server.close()
        loop.run_until_complete(server.wait_closed())
    finally:
        loop.close()
