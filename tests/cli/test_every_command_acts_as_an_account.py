"""Every ``trephine`` command that reads or writes records acts as an account (issue 9 §4: "the
CLI's free ``--as NAME`` gives way to the configured user (or a token) once accounts exist, so
nobody signs as someone else").

The commands are found by walking the Typer app: a command with a ``--database-url``, ``--as``
or ``--actor`` option touches the database. docs/security.md ("Who may run which command") names
the permission each needs, from the web's grant table, or says why it needs none; the test
requires the document and the app to list the same commands, so a new command is not forgotten.
Then, on one database per backend with accounts (SQLite and PostgreSQL, each shared by the
module: ``trephine demo -n 6`` and the microenvironment example), every command runs, in an
order that gives each the records it needs:

- as ``TREPHINE_USER`` naming no account: refused, and nothing is written to the audit trail;
- as a role whose grants lack the permission: refused with a message naming the permission,
  nothing written;
- with ``--as``/``--actor`` naming someone other than ``TREPHINE_USER``: refused;
- as an account whose role grants the permission: exit 0, and every audit event the command
  wrote names that account (at least one, unless the command shows no patient's record:
  :data:`SHOWS_NO_RECORD`); audited reads carry the account's role and client ``cli``.

A command that opens the database without ``cli/common.acting`` fails the refusals. The rule
itself (tokens, disabled accounts, the embedded single-user mode) is tested in
``test_acting_user.py`` on both backends; this one proves every command applies it.

About 300 commands run per backend, so the module keeps them cheap: the Click command tree is
built from the Typer app once (``CliRunner.invoke`` rebuilt it for every run: over half the
module's time), the batch runs its local workers as threads (no process cluster to start),
the phantom tile is drawn once, and the audit trail is read through one engine per backend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trephine.access import GRANTS, Permission, Role
from trephine.cli.main import app
from trephine.demo.calendar import REFERENCE_AS_OF
from trephine.services import accounts
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow

ROOT = Path(__file__).resolve().parents[2]
SECURITY_DOC = ROOT / "docs" / "security.md"
EXAMPLES = ROOT / "examples"
PASSWORD = "a perfectly long password"
#: The demo's account of each role (``services.accounts.DEMO_ACCOUNTS``).
ACCOUNT = {role: f"demo-{role.value}" for role in Role}
#: Which role acts when several may: the least privileged first.
SUCCESS_ORDER = (Role.RESEARCHER, Role.LAB, Role.CLINICIAN, Role.ADMIN, Role.PATIENT)
#: Which role is refused: staff roles first (the interesting refusal), the patient last.
REFUSED_ORDER = (Role.RESEARCHER, Role.CLINICIAN, Role.LAB, Role.ADMIN, Role.PATIENT)
IDENTITY_OPTIONS = ("--as", "--actor")
DATABASE_OPTIONS = ("--database-url", *IDENTITY_OPTIONS)
#: Options spelled like an identity that only filter what is shown (``audit list --actor U``:
#: the events by U); they name nobody who acts.
FILTERS = {"audit list": {"--actor"}}

#: Commands whose output shows no patient's record and that write nothing (counts, the
#: account and cohort lists, the audit trail itself): they may leave no audit event.
SHOWS_NO_RECORD = {
    "audit list",
    "audit verify",
    "cohort history",
    "cohort list",
    "lab turnaround",
    "procedures report",
    "sessions list",
    "study list",
    "tokens list",
    "users list",
}

runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def _one_command_tree() -> Iterator[None]:
    """Build the Click command tree from the Typer app once for the module: ``CliRunner.invoke``
    builds it again for each run (``typer.testing._get_command``), and a Click command may be
    run any number of times."""
    import typer.main
    import typer.testing

    built = typer.main.get_command(app)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(typer.testing, "_get_command", lambda typer_app: built)
        yield


# ----------------------------------------------------------------------------- the commands


def commands() -> dict[str, Any]:
    """Every leaf command of the app by its path (``results verify``), as Click sees it."""
    import typer

    root = typer.main.get_command(app)
    ctx = root.make_context("trephine", [], resilient_parsing=True)
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name])
        else:
            found[" ".join(path)] = command

    walk(root, [])
    return found


def options_of(command: Any) -> set[str]:
    return {o for p in command.params for o in p.opts}


def database_commands() -> dict[str, set[str]]:
    """Commands that touch the database, with their options (filters left out)."""
    return {
        path: options_of(c) - FILTERS.get(path, set())
        for path, c in commands().items()
        if options_of(c) & set(DATABASE_OPTIONS)
    }


def doc_table() -> dict[str, Permission | None]:
    """docs/security.md's "Who may run which command": command → permission (None: no record)."""
    lines = SECURITY_DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| command | permission"))
    table: dict[str, Permission | None] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        first, second = (c.strip() for c in line.strip("|").split("|")[:2])
        names = re.findall(r"`trephine ([^`]+)`", first)
        assert names, f"docs/security.md: the first cell names `trephine COMMAND`: {line}"
        permission = re.match(r"`([a-z:-]+)`", second)
        assert permission or second.startswith("none"), f"a `permission` or none: {line}"
        for name in names:
            assert name not in table, f"docs/security.md lists `trephine {name}` twice"
            table[name] = Permission(permission.group(1)) if permission else None
    return table


def test_the_document_lists_every_command_that_touches_the_database() -> None:
    table = doc_table()
    every = set(commands())
    touching = set(database_commands())
    assert touching - set(table) == set(), (
        "commands with --database-url/--as/--actor missing from docs/security.md "
        "('Who may run which command'): add each with the permission of its web route"
    )
    assert set(table) - every == set(), "docs/security.md names commands the app has not"
    assert {c for c, p in table.items() if p is None} <= {"init", "demo", "serve"}, (
        "only schema, demo and server commands run without a permission"
    )
    assert set(STEPS) == {c for c, p in table.items() if p is not None}, (
        "every command with a permission has a step in STEPS below"
    )


def test_the_walk_finds_what_the_rule_is_about() -> None:
    """The discovery is not vacuous: it sees the commands this issue is about."""
    touching = database_commands()
    for path in ("report", "reports issue", "procedures plan", "orders collect", "export"):
        assert path in touching
    assert "--as" in touching["reports issue"] and "--actor" in touching["omics import"]
    assert "criteria list" not in touching and "flow info" not in touching


# ------------------------------------------------------------------------------ the database


@dataclass
class World:
    """The database every command runs against, and a folder for the files they write."""

    url: str
    tmp: Path
    #: The test's own engine on the database, for reading the audit trail between runs.
    reader: Database | None = None

    def database(self) -> Database:
        return Database(self.url)

    def run(
        self, args: list[str], user: str | None, *, stdin: str | None = None
    ) -> tuple[int, str, str]:
        env = {"TREPHINE_DATABASE_URL": self.url, "TREPHINE_TOKEN": None, "TREPHINE_USER": user}
        env["TREPHINE_EXPORT_KEY"] = "a-site-secret-for-the-tests"
        get_settings.cache_clear()
        try:
            result = runner.invoke(app, args, env=env, input=stdin)
        finally:
            get_settings.cache_clear()
        return result.exit_code, result.stdout, result.stderr

    def json(self, *args: str) -> Any:
        code, out, err = self.run([*args, "--json"], ACCOUNT[Role.ADMIN])
        assert code == 0, f"{args}: {err}"
        return json.loads(out)

    def ids_of(self, *args: str, user: Role = Role.ADMIN) -> list[str]:
        code, out, err = self.run([*args, "--ids"], ACCOUNT[user])
        assert code == 0, f"{args}: {err}"
        return out.split()

    def _reader(self) -> Database:
        if self.reader is None:
            self.reader = self.database()
        return self.reader

    def last_event(self) -> int:
        from sqlalchemy import func, select

        with self._reader().unit_of_work("test") as uow:
            return uow.session.scalar(select(func.max(AuditEventRow.id))) or 0

    def events_after(self, after: int) -> list[AuditEventRow]:
        from sqlalchemy import select

        with self._reader().unit_of_work("test") as uow:
            rows = list(uow.session.scalars(select(AuditEventRow).where(AuditEventRow.id > after)))
            uow.session.expunge_all()
            return rows


@pytest.fixture(scope="module")
def world(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One database per backend for the whole module (conftest's ``module_database_url``)."""
    tmp = tmp_path_factory.mktemp("every-command")
    w = World(module_database_url, tmp)
    # The demo on its reference calendar: the commands below do not depend on today's date.
    demo = ["demo", "-n", "6", "--as-of", REFERENCE_AS_OF.isoformat()]
    for args in (["init", "--database-url", w.url], demo):
        code, _, err = w.run(args, None)
        assert code == 0, err
    database = w.database()
    try:
        with database.unit_of_work("test-setup") as uow:
            accounts.add_user(uow, "someone-else", Role.LAB, PASSWORD)
            accounts.add_user(uow, "pat.two", Role.PATIENT, PASSWORD)
            accounts.reset_password(uow, ACCOUNT[Role.LAB], PASSWORD)  # issuing a report signs
            session = accounts.get_user(uow, "someone-else")
            accounts.start_session(uow, session, "password", "127.0.0.1")
    finally:
        database.dispose()
    yield w
    if w.reader is not None:
        w.reader.dispose()


# ---------------------------------------------------------------------------------- the steps

Args = Callable[[World], list[str]]


def first_procedure(w: World, patient: str) -> str:
    return str(w.json("patients", "show", patient)["biopsies"][0]["id"])


def _plan(w: World) -> list[str]:
    return [
        "procedures",
        "plan",
        "DEMO-0002",
        "--at",
        "2026-12-03T09:00",
        "--indication",
        "suspected leukaemia",
        "--quiet",
    ]


def _second_plan(w: World) -> list[str]:
    code, out, err = w.run(_plan(w), ACCOUNT[Role.CLINICIAN])
    assert code == 0, err
    return ["procedures", "cancel", out.strip(), "--reason", "platelets not corrected in time"]


def _plan_id(w: World) -> str:
    # DEMO-0002's plan (the demo books the next marrow of some patients too).
    return w.ids_of("procedures", "list", "--status", "planned", "--patient", "DEMO-0002")[0]


def _done_procedure(w: World) -> str:
    return str(w.json("procedures", "list", "--status", "done")[0]["procedure_id"])


def _mx_procedure(w: World) -> str:
    """The procedure of specimen MX1-B (imported by the first step; no order yet)."""
    code, out, err = w.run(["orders", "procedures", "MX-001", "--json"], ACCOUNT[Role.ADMIN])
    assert code == 0, err
    found = [p for p in json.loads(out) if "MX1-B" in {s["accession"] for s in p["specimens"]}]
    return str(found[0]["id"])


def _study(w: World, study: str) -> str:
    return w.ids_of("orders", "list", "--patient", "MX-001", "--study", study)[0]


def _specimens(w: World) -> list[str]:
    run = w.tmp / "run"  # one tube of the example run is enough to store on a specimen
    run.mkdir(exist_ok=True)
    if not (run / "tube_a.fcs").exists():
        (run / "tube_a.fcs").symlink_to(EXAMPLES / "flow" / "run" / "tube_a.fcs")
    sheet = w.tmp / "specimens.csv"
    sheet.write_text("file,specimen\ntube_a.fcs,DEMO-0001-02-A\n", encoding="utf-8")
    return [
        "batch",
        "flow-mrd",
        str(run),
        "--gating-ml",
        str(EXAMPLES / "flow" / "strategy.xml"),
        "--denominator",
        "CD45pos",
        "--abnormal",
        "CD34pos_CD117pos",
        "--out",
        str(w.tmp / "day.csv"),
        "--specimens",
        str(sheet),
        "--method",
        "LAIP",
        "--store",
        "--store-populations",  # the tube's populations too, by the same account
        "Blasts",
        "--threads",  # one tube: no process cluster to start
    ]


def _panel(w: World) -> list[str]:
    """``batch flow-gate``: the same tube's populations, no MRD (another specimen)."""
    _specimens(w)  # the run folder
    sheet = w.tmp / "panel.csv"
    sheet.write_text("file,specimen\ntube_a.fcs,DEMO-0001-03-A\n", encoding="utf-8")
    return [
        "batch",
        "flow-gate",
        str(w.tmp / "run"),
        "--gating-ml",
        str(EXAMPLES / "flow" / "strategy.xml"),
        "--out",
        str(w.tmp / "panel-day.csv"),
        "--specimens",
        str(sheet),
        "--store-populations",
        "Blasts",
        "--threads",
    ]


#: The phantom tile, drawn once for both backends (it holds no record).
TILE: list[Path] = []


def _tile(w: World) -> str:
    if not TILE:
        TILE.append(w.tmp / "phantom.png")
    tile = TILE[0]
    if not tile.exists():
        code, _, err = w.run(["image", "phantom", str(tile), "--size", "200", "--seed", "3"], None)
        assert code == 0, err
    return str(tile)


def _slide(w: World) -> list[str]:
    slide = w.tmp / "phantom-slide.tif"
    if not slide.exists():
        made = ["image", "phantom", str(slide), "--size", "256", "--seed", "3"]
        code, _, err = w.run(made, None)
        assert code == 0, err
    return ["image", "slide", str(slide), "--tile", "128", "--store", "--specimen", "MX1-B"]


def _differential(w: World) -> list[str]:
    labels = w.tmp / "cells.txt"
    labels.write_text("40,40,blasts\n120,60,blasts\n150,90,lymphocytes\n", encoding="utf-8")
    return ["image", "differential", _tile(w), str(labels), "--store", "--specimen", "MX1-A"]


def _variants(w: World) -> list[str]:
    table = w.tmp / "ngs.tsv"
    table.write_text(
        "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf\n"
        "DEMO-0001\tDEMO-0001-01-A\t0\tNPM1\tNPM1:c.860_863dupTCTG\t400\t1000\t0.4000\n"
        "DEMO-0001\tDEMO-0001-02-A\t30\tNPM1\tNPM1:c.860_863dupTCTG\t2\t1000\t0.0020\n",
        encoding="utf-8",
    )
    return ["clonal", "import", str(table)]


def _paired(w: World) -> list[str]:
    define = ["cohort", "define", "ind", "--study", "DEMO-AML-IND"]
    code, _, err = w.run(define, ACCOUNT[Role.ADMIN])
    assert code == 0, err
    return ["cohort", "paired", "ind", "--before", "screening", "--after", "end_of_induction"]


FLOW = [str(EXAMPLES / "flow" / "tube.fcs"), "--gating-ml", str(EXAMPLES / "flow" / "strategy.xml")]
PROC = "proc"

#: Each command's arguments, in the order the steps run (later ones use what earlier ones made).
STEPS: dict[str, Args] = {
    "import": lambda w: ["import", str(EXAMPLES / "microenvironment")],
    "patients list": lambda w: ["patients", "list", "--json"],
    "patients show": lambda w: ["patients", "show", "DEMO-0001"],
    "results list": lambda w: ["results", "list", "--patient", "DEMO-0001"],
    "results show": lambda w: [
        "results",
        "show",
        w.ids_of("results", "list", "--patient", "DEMO-0001")[0],
    ],
    "assess": lambda w: ["assess", "DEMO-0001"],
    "alerts list": lambda w: ["alerts", "list", "--json"],
    "alerts ack": lambda w: [
        "alerts",
        "ack",
        w.ids_of("alerts", "list")[0],
        "--note",
        "marrow booked",
    ],
    "users add": lambda w: ["users", "add", "dr.new", "--role", "clinician", "--password-stdin"],
    "users list": lambda w: ["users", "list", "--json"],
    "users set-role": lambda w: ["users", "set-role", "dr.new", "lab"],
    "users disable": lambda w: ["users", "disable", "dr.new"],
    "users enable": lambda w: ["users", "enable", "dr.new"],
    "users reset-password": lambda w: ["users", "reset-password", "dr.new", "--password-stdin"],
    "users link": lambda w: ["users", "link", "pat.two", "--patient", "DEMO-0002"],
    "tokens create": lambda w: ["tokens", "create", "dr.new", "--expires", "7"],
    "tokens list": lambda w: ["tokens", "list", "--json"],
    "tokens revoke": lambda w: ["tokens", "revoke", str(w.json("tokens", "list")[0]["id"])],
    "sessions list": lambda w: ["sessions", "list"],
    "sessions revoke": lambda w: ["sessions", "revoke", str(w.json("sessions", "list")[0]["id"])],
    "procedures plan": _plan,
    "procedures checklist": lambda w: [
        "procedures",
        "checklist",
        _plan_id(w),
        "--platelets",
        "180",
        "--inr",
        "1.0",
    ],
    "procedures consent": lambda w: [
        "procedures",
        "consent",
        _plan_id(w),
        "--taken-by",
        "dr.lee",
        "--at",
        "2026-12-03T08:30",
        "--leaflet",
        "2026-1",
        "--risk",
        "pain",
        "--risk",
        "infection",
    ],
    "procedures done": lambda w: ["procedures", "done", _plan_id(w), "--at", "2026-12-03T09:10"],
    "procedures cancel": _second_plan,
    "procedures show": lambda w: [
        "procedures",
        "show",
        w.ids_of("procedures", "list")[0],
        "--json",
    ],
    "procedures list": lambda w: ["procedures", "list", "--json"],
    "procedures complication": lambda w: [
        "procedures",
        "complication",
        _done_procedure(w),
        "--kind",
        "hematoma",
        "--severity",
        "mild",
    ],
    "procedures report": lambda w: ["procedures", "report", "--json"],
    "exams record": lambda w: [
        "exams",
        "record",
        "DEMO-0001",
        "--date",
        "2024-01-02",
        "--largest-node",
        "12 mm",
        "--constitutional-symptoms",
        "no",
    ],
    "exams list": lambda w: ["exams", "list", "DEMO-0001", "--json"],
    "exams amend": lambda w: [
        "exams",
        "amend",
        w.ids_of("exams", "list", "DEMO-0001")[0],
        "--reason",
        "node re-measured",
        "--largest-node",
        "1.4 cm",
    ],
    "lab worklist": lambda w: ["lab", "worklist", "--json"],
    "lab turnaround": lambda w: ["lab", "turnaround", "--json"],
    "report": lambda w: [
        "report",
        first_procedure(w, "DEMO-0006"),
        "--working-copy",
        "--out",
        str(w.tmp / "r.html"),
    ],
    "reports issue": lambda w: [
        "reports",
        "issue",
        first_procedure(w, "DEMO-0006"),
        "--status",
        "preliminary",
        "--password-stdin",
    ],
    "reports versions": lambda w: ["reports", "versions", first_procedure(w, "DEMO-0006")],
    "reports discussed": lambda w: ["reports", "discussed", first_procedure(w, "DEMO-0006")],
    "fhir bundle": lambda w: [
        "fhir",
        "bundle",
        "--patient",
        "DEMO-0006",
        "--out",
        str(w.tmp / "b.json"),
    ],
    "release": lambda w: ["release", first_procedure(w, "DEMO-0002")],
    "leaflet": lambda w: [
        "leaflet",
        first_procedure(w, "DEMO-0002"),
        "--out",
        str(w.tmp / "l.html"),
    ],
    "flow gate": lambda w: [
        "flow",
        "gate",
        *FLOW,
        "--store-populations",
        "Blasts",
        "--specimen",
        "MX1-B",
    ],
    "flow mrd": lambda w: [
        "flow",
        "mrd",
        *FLOW,
        "--denominator",
        "CD45pos",
        "--abnormal",
        "CD34pos_CD117pos",
        "--specimen",
        "MX1-B",  # verified below, then reported on the study ordered for it
        "--method",
        "LAIP",
        "--store",
    ],
    "batch flow-mrd": _specimens,
    "batch flow-gate": _panel,
    "clonal import": _variants,
    "clonal track": lambda w: [
        "clonal",
        "track",
        "--patient",
        "DEMO-0001",
        "--include-drafts",
        "--json",
    ],
    "clonal compare": lambda w: [
        "clonal",
        "compare",
        "--patient",
        "DEMO-0001",
        "--include-drafts",
        "--json",
    ],
    "image nuclei": lambda w: ["image", "nuclei", _tile(w), "--store", "--specimen", "MX1-B"],
    "image cellularity": lambda w: [
        "image",
        "cellularity",
        _tile(w),
        "--store",
        "--specimen",
        "MX1-B",
    ],
    "image ihc": lambda w: [
        "image",
        "ihc",
        _tile(w),
        "--stain",
        "cd34",
        "--store",
        "--specimen",
        "MX1-B",
    ],
    "image slide": _slide,
    "image differential": _differential,
    "omics import": lambda w: [
        "omics",
        "import",
        str(EXAMPLES / "microenvironment" / "cells.h5ad"),
        "--specimen-column",
        "specimen",
        "--cell-type-column",
        "cell_type",
        "--map",
        "cycling cells=T cells",
    ],
    "results verify": lambda w: [
        "results",
        "verify",
        w.ids_of("results", "list", "--patient", "MX-001", "--kind", "flow_mrd")[0],
    ],
    "results cancel": lambda w: [
        "results",
        "cancel",
        w.ids_of("results", "list", "--state", "draft")[0],
        "--reason",
        "entered on the wrong specimen",
    ],
    "results amend": lambda w: [
        "results",
        "amend",
        w.ids_of("results", "list", "--patient", "DEMO-0006", "--kind", "blood_count")[0],
        "--reason",
        "analyser reprint",
        "--set",
        "platelets=45",
    ],
    "orders procedures": lambda w: ["orders", "procedures", "MX-001"],
    "orders create": lambda w: [
        "orders",
        "create",
        _mx_procedure(w),
        "--study",
        "flow-mrd",
        "--study",
        "cytogenetics",
    ],
    "orders list": lambda w: ["orders", "list", "--json"],
    "orders show": lambda w: ["orders", "show", _study(w, "flow-mrd")],
    "orders collect": lambda w: ["orders", "collect", _study(w, "flow-mrd")],
    "orders receive": lambda w: ["orders", "receive", _study(w, "flow-mrd")],
    "orders start": lambda w: ["orders", "start", _study(w, "flow-mrd")],
    "orders report": lambda w: ["orders", "report", _study(w, "flow-mrd")],
    "orders cancel": lambda w: [
        "orders",
        "cancel",
        _study(w, "cytogenetics"),
        "--reason",
        "dry tap",
    ],
    "microenv compare": lambda w: ["microenv", "compare", "--diagnosis", "AML"],
    "microenv niche": lambda w: ["microenv", "niche", "MX-005"],
    "cohort define": lambda w: ["cohort", "define", "aml", "--disease", "AML"],
    "cohort list": lambda w: ["cohort", "list"],
    "cohort show": lambda w: ["cohort", "show", "aml"],
    "cohort history": lambda w: ["cohort", "history", "aml"],
    "cohort analyse": lambda w: [
        "cohort",
        "analyse",
        "aml",
        "--landmark-day",
        "60",
        "--window",
        "30",
    ],
    "cohort paired": _paired,
    "export": lambda w: ["export", "aml", "--format", "csv", "--out", str(w.tmp / "export")],
    "study define": lambda w: ["study", "define", "CART-01", "--title", "Marrow after CAR-T"],
    "study arm": lambda w: ["study", "arm", "CART-01", "tisa-cel"],
    "study visit": lambda w: [
        "study",
        "visit",
        "CART-01",
        "day_28",
        "--label",
        "Day 28",
        "--day",
        "28",
        "--window",
        "7",
    ],
    "study enrol": lambda w: [
        "study",
        "enrol",
        "CART-01",
        "DEMO-0001",
        "--arm",
        "tisa-cel",
        "--on",
        "2021-11-10",
        "--consent",
        "--consent-on",
        "2021-11-09",
    ],
    "study map": lambda w: [
        "study",
        "map",
        "CART-01",
        "DEMO-0001",
        "day_28",
        "--none",
        "--reason",
        "dry tap",
    ],
    "study list": lambda w: ["study", "list", "--json"],
    "study show": lambda w: ["study", "show", "CART-01"],
    "audit list": lambda w: ["audit", "list", "--reads"],
    "audit verify": lambda w: ["audit", "verify"],
}

#: Standard input of the commands that read a password from it.
STDIN = {
    "users add": f"{PASSWORD}\n",
    "users reset-password": f"{PASSWORD} two\n",
    "reports issue": f"{PASSWORD}\n",
}


def granted(permission: Permission) -> Role:
    return next(r for r in SUCCESS_ORDER if permission in GRANTS[r])


def refused(permission: Permission) -> Role | None:
    return next((r for r in REFUSED_ORDER if permission not in GRANTS[r]), None)


def test_every_command_acts_as_an_account(world: World) -> None:
    table = doc_table()
    options = database_commands()
    problems: list[str] = []
    for command, args_of in STEPS.items():
        permission = table[command]
        assert permission is not None
        try:
            args = args_of(world)
        except Exception as exc:  # a lookup of an earlier step's ids: report it with the step
            problems.append(f"{command}: could not find its arguments: {exc!r}")
            continue
        stdin = STDIN.get(command)
        problems += check_command(world, command, args, permission, options[command], stdin)
    assert not problems, "\n".join(problems)


def check_command(
    w: World,
    command: str,
    args: list[str],
    permission: Permission,
    options: set[str],
    stdin: str | None,
) -> list[str]:
    problems: list[str] = []
    role = granted(permission)
    account = ACCOUNT[role]

    def refusal(user: str, extra: list[str], expect: str, why: str) -> None:
        before = w.last_event()
        code, out, err = w.run([*args, *extra], user, stdin=stdin)
        if code == 0 or expect not in err:
            problems.append(f"{command} {why}: exit {code}, wanted {expect!r} in: {err or out}")
        elif w.last_event() != before:
            problems.append(f"{command} {why}: refused, but wrote to the audit trail")

    refusal("nobody-here", [], "not an enabled account", "as an unknown user")
    lacking = refused(permission)
    if lacking is not None:
        refusal(ACCOUNT[lacking], [], f"does not grant {permission.value}", f"as {lacking.value}")
    for option in sorted(options & set(IDENTITY_OPTIONS))[:1]:
        refusal(account, [option, "someone-else"], "nobody acts as someone else", f"{option} other")

    before = w.last_event()
    given = sorted(options & set(IDENTITY_OPTIONS))
    extra = [given[0], account] if given else []  # --as may repeat the account
    code, out, err = w.run([*args, *extra], account, stdin=stdin)
    if code != 0:
        return [*problems, f"{command} as {account} ({role.value}): exit {code}: {err or out}"]
    events = w.events_after(before)
    if not events and command not in SHOWS_NO_RECORD:
        problems.append(f"{command} as {account}: no audit event (what it did or showed)")
    for e in events:
        if e.actor != account:
            problems.append(f"{command}: audit event #{e.id} {e.action} names {e.actor!r}")
        elif e.action in ("view", "query") and (
            e.detail.get("role") != role.value or e.detail.get("client") != "cli"
        ):
            problems.append(f"{command}: audited read #{e.id} has {e.detail}")
    return problems
