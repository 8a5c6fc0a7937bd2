"""`trephine flow ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="flow commands.", no_args_is_help=True)
