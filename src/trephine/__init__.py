"""Trephine: bone marrow biopsy data across the whole treatment cycle.

The package is layered (see ``docs/architecture.md``): a pure ``domain`` and ``criteria`` core,
numpy-heavy ``analysis`` with no database, and adapters at the edges (``io``, ``importers``,
``store``, ``services``, ``api``, ``web``, ``cli``, ``export``).
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # ``__version__`` is looked up lazily: importing importlib.metadata costs ~20 ms, which is
    # most of the start-up budget of the fast flow-reading path (benchmarks/bench_fcs_read.py).
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("trephine")
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'trephine' has no attribute {name!r}")
