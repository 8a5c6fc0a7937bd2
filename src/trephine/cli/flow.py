"""`trephine flow ...` commands: reading FCS files, gating, MRD.

The reading commands (``info``) live in :mod:`trephine.cli.flow_read`, the gating and MRD
commands in :mod:`trephine.cli.flow_gating`, FlowJo workspaces and plots in
:mod:`trephine.cli.flow_plots`; all register on this group.
"""

from __future__ import annotations

import typer

from trephine.cli import flow_gating, flow_plots, flow_read

app = typer.Typer(help="Flow cytometry: read FCS files, gate, quantify MRD.", no_args_is_help=True)

flow_read.register(app)
flow_gating.register(app)
flow_plots.register(app)
