"""Trephine: bone marrow biopsy data across the whole treatment cycle.

The package is layered (see ``docs/architecture.md``): a pure ``domain`` and ``criteria`` core,
numpy-heavy ``analysis`` with no database, and adapters at the edges (``io``, ``importers``,
``store``, ``services``, ``api``, ``web``, ``cli``, ``export``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trephine")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
