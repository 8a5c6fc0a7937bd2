"""`trephine batch ...` commands: many files at once, on Dask (see :mod:`trephine.batch`)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Batch work over many files (Dask).", no_args_is_help=True)
