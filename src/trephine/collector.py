"""Python's cycle collector paused for bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused for the duration (restored after, even on error).

    Bulk work (an import, ``trephine demo``'s load, ``assess --all``, a batch of criteria
    evaluations) allocates millions of small objects, nearly none of them in a reference cycle;
    every few thousand allocations the collector runs, and each full collection walks every live
    object (the rows held so far and the application's modules). That cost about a fifth of an
    import's time and a quarter of the demo's; reference counting still frees everything as
    usual, and the few cycles left are collected once the collector runs again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def long_lived_frozen() -> Iterator[None]:
    """For a server process's life: what is alive once it has started — modules, the app, its
    routes, settings and engine, about a quarter of a million objects — moved out of the
    collector's sight (``gc.freeze``), and given back when the server stops.

    Requests free what they allocate by reference counting; the collector's full collections
    walked every one of those long-lived objects each time (an 87 ms pause, once every ~200
    patient pages, every request in flight on that worker waiting through it). Frozen, a full
    collection walks only what requests left behind. Garbage already made is collected first,
    so nothing unreachable is frozen.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
