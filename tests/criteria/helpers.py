"""Case builders shared by the criteria tests."""

from __future__ import annotations

from typing import Any


def aml(**overrides: Any) -> dict[str, Any]:
    """A complete, adequate ELN 2022 marrow in CR; tests change one thing at a time."""
    base: dict[str, Any] = {
        "disease": "AML",
        "bm_blasts_pct": 2,
        "anc": 1.5,
        "plt": 150,
        "circulating_blasts": False,
        "extramedullary": False,
        "auer_rods": False,
        "cells_counted": 500,
        "spicules_present": True,
        "biopsy_cellularity_pct": 40,
        "baseline_bm_blasts_pct": 40,
    }
    base.update(overrides)
    return base
