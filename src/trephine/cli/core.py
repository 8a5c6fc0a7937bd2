"""Core commands: init, demo, import, serve, patients."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the core commands to the top-level app."""
