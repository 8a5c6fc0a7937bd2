"""Core top-level commands.

Record keeping (``init``, ``import``, ``patients``) lives in :mod:`trephine.cli.records`; the web
app and the demo cohort (``serve``, ``demo``) in :mod:`trephine.cli.app_commands`; the result
lifecycle and the audit trail (``results``, ``audit``) in :mod:`trephine.cli.results`.
"""

from __future__ import annotations

import typer

from trephine.cli import app_commands, records, results


def register(app: typer.Typer) -> None:
    """Attach the core commands to the top-level app."""
    records.register(app)
    app_commands.register(app)
    results.register(app)
