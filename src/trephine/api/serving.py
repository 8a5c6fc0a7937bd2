"""How ``trephine serve``'s worker processes share the connections: fairly.

uvicorn's worker processes share one listening socket. Each new connection wakes every worker,
and asyncio's accept loop in the first one to run takes every connection waiting, up to the
backlog. The first to run is usually the worker that is already awake: the one that has just
served a request. Browsers and scripts keep their connections open (HTTP keep-alive), so where a
connection lands at connect time is where all its requests are served. Measured with
``trephine serve`` on 2 workers (main at cdc5322), 8 clients that connected one after another
landed 8/0, 5/3, 6/2 and 8/0 in four starts: one core queued every request while the other
idled.

Here a worker takes one connection per turn, and waits before its turn a little for every
connection it already holds (:data:`STEP` each, at most :data:`MOST`). Every worker wakes for a
new connection; the one holding fewest waits least and takes it; the others find it taken and
go back to waiting. No state is shared between the processes, so a worker that hangs or dies
costs the others nothing but that short wait. With one worker nothing waits (``trephine serve``
uses this loop only with two or more).

It is an asyncio event loop (uvicorn's ``loop`` setting takes an import string:
:data:`LOOP`) whose ``create_server`` serves a listening socket it is handed this way; asked to
bind a host and port itself it is asyncio's own. Only asyncio's public API is used.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import select
import socket
from collections.abc import Callable
from typing import Any

#: What each connection this worker holds adds to its wait before taking a new one (seconds).
#: Larger than Python's thread switch interval (5 ms): a worker whose request thread holds the
#: interpreter answers its wake-up that much late, and should not win for that.
STEP = 0.006
#: How often a waiting worker looks whether the connection it waits for is still there.
TICK = 0.001
#: The longest a worker waits before taking a connection, however many it holds (seconds).
MOST = 0.05
#: uvicorn's ``loop`` setting for the workers of ``trephine serve``.
LOOP = "trephine.api.serving:FairAcceptLoop"
#: Errors of ``accept`` that say the process or system is out of a resource: wait, then retry
#: (as asyncio does), rather than spin.
_EXHAUSTED = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
_RETRY_AFTER = 1.0

log = logging.getLogger("trephine.serve")


class FairListener:
    """One worker's turn-taking on a shared listening socket; what ``create_server`` returns
    (uvicorn calls ``close`` and ``wait_closed``, as on :class:`asyncio.Server`)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sock: socket.socket,
        ssl: Any = None,
        ssl_handshake_timeout: float | None = None,
    ) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._sock = sock
        self._ssl = ssl
        self._handshake = ssl_handshake_timeout
        self._transports: set[asyncio.BaseTransport] = set()
        self._starting: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._since = 0.0
        self._watching = False
        self._closed = False
        sock.setblocking(False)
        self._watch()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._closed else (self._sock,)

    def held(self) -> int:
        """Connections this worker holds: open ones and ones still starting (a TLS handshake)."""
        self._transports = {t for t in self._transports if not t.is_closing()}
        return len(self._transports) + len(self._starting)

    def _watch(self) -> None:
        if not self._closed and not self._watching and self._timer is None:
            self._loop.add_reader(self._sock.fileno(), self._ready)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self._loop.remove_reader(self._sock.fileno())
            self._watching = False

    def _ready(self) -> None:
        """A connection waits (every worker hears it): take it now, or after this worker's wait."""
        if self.held() == 0:
            self._take()
            return
        self._unwatch()
        self._since = self._loop.time()
        self._timer = self._loop.call_later(TICK, self._waited)

    def _waited(self) -> None:
        """While it waits, a worker looks every :data:`TICK`: a connection taken meanwhile by
        a worker holding fewer ends the wait (the next one is waited for afresh, not taken on
        the strength of the wait for this one)."""
        self._timer = None
        if self._closed:
            return
        if not _readable(self._sock):
            self._watch()
        elif self._loop.time() - self._since >= min(self.held() * STEP, MOST):
            self._take()
        else:
            self._timer = self._loop.call_later(TICK, self._waited)

    def _take(self) -> None:
        self._timer = None
        if self._closed:
            return
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            pass  # another worker took it first, or the client gave up
        except OSError as exc:
            if exc.errno not in _EXHAUSTED:
                raise
            log.error("accepting a connection failed (%s); retrying in %.0f s", exc, _RETRY_AFTER)
            self._unwatch()
            self._timer = self._loop.call_later(_RETRY_AFTER, self._resume)
            return
        else:
            self._start(conn)
        self._watch()

    def _resume(self) -> None:
        self._timer = None
        self._watch()

    def _start(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = self._loop.create_task(
            self._loop.connect_accepted_socket(
                self._factory, conn, ssl=self._ssl, ssl_handshake_timeout=self._handshake
            )
        )
        self._starting.add(task)
        task.add_done_callback(lambda done: self._started(done, conn))

    def _started(self, task: asyncio.Task[Any], conn: socket.socket) -> None:
        self._starting.discard(task)
        if task.cancelled() or task.exception() is not None:
            # A failed TLS handshake, say: asyncio has logged it; the socket is closed here.
            conn.close()
            return
        transport, _ = task.result()
        self._transports.add(transport)

    def close(self) -> None:
        """Stop taking connections (those held are uvicorn's to finish)."""
        if self._closed:
            return
        self._unwatch()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._closed = True
        self._sock.close()

    def is_serving(self) -> bool:
        return not self._closed

    async def wait_closed(self) -> None:
        return None


def _readable(sock: socket.socket) -> bool:
    """A connection waits to be accepted (a look, without waiting)."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class FairAcceptLoop(asyncio.SelectorEventLoop):
    """asyncio's loop, but a listening socket handed to ``create_server`` is shared fairly
    (:class:`FairListener`)."""

    async def create_server(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: Any = None,
        port: Any = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        ssl_handshake_timeout: float | None = None,
        start_serving: bool = True,
        **kwargs: Any,
    ) -> Any:
        if sock is None or host is not None or port is not None or not start_serving:
            return await super().create_server(
                protocol_factory,
                host,
                port,
                sock=sock,
                backlog=backlog,
                ssl=ssl,
                ssl_handshake_timeout=ssl_handshake_timeout,
                start_serving=start_serving,
                **kwargs,
            )
        sock.listen(backlog)
        return FairListener(self, protocol_factory, sock, ssl, ssl_handshake_timeout)
