"""Trephine: bone marrow biopsy data across the whole treatment cycle.

The package is layered (see ``docs/architecture.md``): a pure ``domain`` and ``criteria`` core,
numpy-heavy ``analysis`` with no database, and adapters at the edges (``io``, ``importers``,
``store``, ``services``, ``api``, ``web``, ``cli``, ``export``).

The names below are the curated public Python API (``docs/python-api.md``): reading FCS files,
Gating-ML strategies and FlowJo workspaces, gating, flow MRD, criteria evaluation and opening a
database. They are loaded lazily: ``import trephine`` imports none of numpy, SQLAlchemy or the
readers until a name is first used, so scripts and the command line start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trephine.analysis.flow.mrd import quantify_from_masks, quantify_mrd
    from trephine.analysis.flow.strategy import FcsEvents, apply_strategy
    from trephine.analysis.stats.survival import kaplan_meier, logrank
    from trephine.criteria.cases import evaluate_case
    from trephine.criteria.engine import evaluate
    from trephine.criteria.registry import get as ruleset
    from trephine.criteria.registry import rulesets
    from trephine.io.fcs import read_fcs
    from trephine.io.flowjo import read_workspace
    from trephine.io.gatingml import read_gatingml
    from trephine.notebook import connect
    from trephine.services import open_database

#: Public name -> (module, attribute) it is loaded from on first use.
_PUBLIC: dict[str, tuple[str, str]] = {
    "read_fcs": ("trephine.io.fcs", "read_fcs"),
    "read_gatingml": ("trephine.io.gatingml", "read_gatingml"),
    "read_workspace": ("trephine.io.flowjo", "read_workspace"),
    "FcsEvents": ("trephine.analysis.flow.strategy", "FcsEvents"),
    "apply_strategy": ("trephine.analysis.flow.strategy", "apply_strategy"),
    "quantify_from_masks": ("trephine.analysis.flow.mrd", "quantify_from_masks"),
    "quantify_mrd": ("trephine.analysis.flow.mrd", "quantify_mrd"),
    "rulesets": ("trephine.criteria.registry", "rulesets"),
    "ruleset": ("trephine.criteria.registry", "get"),
    "evaluate": ("trephine.criteria.engine", "evaluate"),
    "evaluate_case": ("trephine.criteria.cases", "evaluate_case"),
    "open_database": ("trephine.services", "open_database"),
    "connect": ("trephine.notebook", "connect"),
    "kaplan_meier": ("trephine.analysis.stats.survival", "kaplan_meier"),
    "logrank": ("trephine.analysis.stats.survival", "logrank"),
}

__all__ = [
    "FcsEvents",
    "__version__",
    "apply_strategy",
    "connect",
    "evaluate",
    "evaluate_case",
    "kaplan_meier",
    "logrank",
    "open_database",
    "quantify_from_masks",
    "quantify_mrd",
    "read_fcs",
    "read_gatingml",
    "read_workspace",
    "ruleset",
    "rulesets",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        import importlib

        module, attribute = _PUBLIC[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value  # later look-ups skip this function
        return value
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


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
