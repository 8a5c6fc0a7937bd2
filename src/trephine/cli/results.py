"""`trephine results ...` and `trephine audit ...` commands (see :mod:`trephine.cli.core`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this module's command groups to the top-level app."""
