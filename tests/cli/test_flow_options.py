"""``flow mrd`` and ``batch flow-mrd`` quantify a tube the same way, so their shared options must
read and behave the same (one definition in ``cli/flow_options.py``)."""

from __future__ import annotations

from typing import Any

import typer

from trephine.cli.main import app

SHARED = ("--denominator", "--abnormal", "--criteria", "--lod", "--lloq")


def _options(*path: str) -> dict[str, Any]:
    # Typer's group/option classes need not be click's own, so walk them by attribute.
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return {opt: p for p in command.params for opt in p.opts}


def test_shared_flow_options_are_identical_in_both_commands() -> None:
    single, batch = _options("flow", "mrd"), _options("batch", "flow-mrd")
    for name in SHARED:
        a, b = single[name], batch[name]
        assert (a.help, a.default, a.required) == (b.help, b.default, b.required), name
    assert single["--denominator"].required and single["--criteria"].default == "AML"
    assert single["--lod"].help == "Laboratory LOD in events."
