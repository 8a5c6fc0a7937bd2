"""Typer options shared by ``trephine flow mrd`` and ``trephine batch flow-mrd``.

The batch command quantifies each tube exactly as ``flow mrd`` does, so the options that define
the quantification must read and behave the same in both; one definition keeps them from
drifting apart (as ``cli/clonal.py`` does with ``_LOD``/``_SEED``).
"""

from __future__ import annotations

import typer

DENOMINATOR = typer.Option(
    ..., "--denominator", help="Gate id of the denominator (e.g. viable CD45+ cells)."
)
ABNORMAL = typer.Option(..., "--abnormal", help="Gate id of the abnormal population (LAIP / DfN).")
CRITERIA = typer.Option(
    "AML", "--criteria", help="Criteria set: AML (ELN 2021), ALL, CLL (iwCLL), MM (IMWG)."
)
LOD = typer.Option(None, "--lod", help="Laboratory LOD in events.")
LLOQ = typer.Option(None, "--lloq", help="Laboratory LLOQ in events.")
