"""`trephine criteria ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="criteria commands.", no_args_is_help=True)
