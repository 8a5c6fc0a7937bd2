"""`trephine clonal ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="clonal commands.", no_args_is_help=True)
