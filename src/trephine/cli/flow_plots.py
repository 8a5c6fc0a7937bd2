"""Flow commands (see :mod:`trephine.cli.flow`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `flow` group."""
