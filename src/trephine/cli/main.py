"""The ``trephine`` command.

Each command group lives in its own module and registers here. Command modules import heavy
libraries (SQLAlchemy, numpy, matplotlib, FastAPI) inside the command functions, so that
``trephine --help`` and the fast flow commands start quickly.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from trephine import __version__
from trephine.cli import (
    accounts,
    assess,
    batch,
    clonal,
    cohort,
    core,
    criteria,
    exams,
    export,
    flow,
    image,
    microenv,
    omics,
    orders,
    patient_pages,
    procedures,
    report,
    stats,
    study,
)
from trephine.io.tabular import control_character


class _Commands(TyperGroup):
    """The top-level group: every argument is checked for control characters before any command
    sees it (a patient id, a signer, a path), the same rule the importer and the API apply. The
    argument is not echoed: it may be identifying."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        for position, argument in enumerate(args, start=1):
            found = control_character(argument)
            if found is not None:
                typer.echo(
                    f"error: command-line argument {position} contains the control character "
                    f"{found}; arguments must be plain text",
                    err=True,
                )
                raise typer.Exit(code=2)
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_Commands,
    name="trephine",
    help="Bone marrow biopsy data across the treatment cycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trephine {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Trephine command line."""


core.register(app)
assess.register(app)
accounts.register(app)
patient_pages.register(app, accounts.users_app)
procedures.register(app)
exams.register(app)
report.register(app)
orders.register(app)
app.add_typer(criteria.app, name="criteria")
app.add_typer(flow.app, name="flow")
app.add_typer(clonal.app, name="clonal")
app.add_typer(batch.app, name="batch")
image.register(app)
app.add_typer(stats.app, name="stats")
app.add_typer(cohort.app, name="cohort")
app.add_typer(study.app, name="study")
app.command("export")(export.export)
app.add_typer(omics.app, name="omics")
app.add_typer(microenv.app, name="microenv")

if __name__ == "__main__":  # pragma: no cover
    app()
