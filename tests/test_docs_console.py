"""Every ```console block of README.md and docs/**/*.md runs as written.

Each Markdown file is run top to bottom, as a reader would, in one bash process: in a fresh
temporary directory holding copies of ``examples/`` and ``docs/`` (and ``tests/`` for the
vendored data), with ``TREPHINE_DATABASE_URL=sqlite:///trephine.db`` pointing at a fresh copy of
what ``scripts/run-demo`` sets up (``trephine init`` + ``trephine demo``). A command that exits
non-zero fails the test with the file and line of the command. ``trephine`` on that bash's
``PATH`` is the client of a warm server (``console_server.py``): each command runs in a process
forked from an interpreter that imported the package once, so 270 commands do not each spend a
second importing SQLAlchemy, pandas and lifelines.

Block syntax: in a block with ``$ `` prompts, only prompted lines are commands (the rest is
output shown to the reader); a command whose shown output starts with ``error:`` is an example
of a refusal and must exit non-zero with that text. In a block without prompts, every line that
is not blank or a ``#`` comment is a command. A trailing ``\\`` continues a command.

Commands that cannot run in a test by design are listed in :data:`NOT_RUN` with the reason; keep
the list short (docs/architecture.md, "Every console block runs").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import console_server
from testdata import REPO_ROOT

#: Commands never run here, and why. Everything else in a console block must run.
NOT_RUN: dict[str, str] = {
    r"^trephine serve\b": "starts the web server, which runs until stopped",
    r"^curl\b.*127\.0\.0\.1:8000": "needs the server that `trephine serve` starts",
    r"^\.venv/bin/python benchmarks/": "benchmarks take minutes and measure; they do not check",
    r"^\.venv/bin/pytest\b": "runs the test suite itself",
    r"postgresql\+psycopg://": "needs a PostgreSQL server",
}

_FENCE = re.compile(r"^```console\s*$")


@dataclass(frozen=True)
class Command:
    line: int  #: 1-based line in the Markdown file
    text: str
    refusal: str | None = None  #: the shown "error: ..." text when the example is a refusal


def markdown_files() -> list[Path]:
    docs = sorted((REPO_ROOT / "docs").rglob("*.md"))
    return [REPO_ROOT / "README.md", *docs]


def console_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(line of the first block line, block lines) for every ```console block."""
    blocks: list[tuple[int, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if _FENCE.match(lines[i]):
            start, body = i + 2, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append((start, body))
        i += 1
    return blocks


def commands_of(start: int, body: list[str]) -> list[Command]:
    prompted = any(line.startswith("$ ") for line in body)
    out: list[Command] = []
    i = 0
    while i < len(body):
        line, n = body[i], start + i
        i += 1
        if prompted:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [line]
        while parts[-1].rstrip().endswith("\\") and i < len(body):
            parts.append(body[i])
            i += 1
        refusal = None
        if prompted and i < len(body) and body[i].startswith("error:"):
            refusal = body[i]
        out.append(Command(n, "\n".join(parts), refusal))
    return out


def not_run_reason(command: str) -> str | None:
    for pattern, reason in NOT_RUN.items():
        if re.search(pattern, command.strip()):
            return reason
    return None


def _cases() -> list[Path]:
    return [p for p in markdown_files() if console_blocks(p.read_text(encoding="utf-8"))]


# ------------------------------------------------------------------ the extractor's own tests


def test_extraction_of_both_block_styles() -> None:
    text = (
        "intro\n```console\n# a comment\ntrephine init   # trailing\ntrephine flow mrd a \\\n"
        "    --json\n```\n\n```console\n$ trephine results amend 9 --reason x\n"
        "error: result 9 not found\n$ trephine audit verify\nok    fine\n```\n"
    )
    blocks = console_blocks(text)
    assert [b[0] for b in blocks] == [3, 10]
    first = commands_of(*blocks[0])
    assert [(c.line, c.text) for c in first] == [
        (4, "trephine init   # trailing"),
        (5, "trephine flow mrd a \\\n    --json"),
    ]
    second = commands_of(*blocks[1])
    assert [(c.line, c.refusal) for c in second] == [
        (10, "error: result 9 not found"),
        (12, None),
    ]


def test_the_not_run_list_is_small_and_matches_what_it_names() -> None:
    assert len(NOT_RUN) <= 6
    assert not_run_reason("trephine serve --port 9000")
    assert not_run_reason("trephine init") is None
    assert not_run_reason("trephine flow info examples/flow/tube.fcs") is None


#: A request to the served app whose path names a record by a number typed into the page.
_GUESSED_ID = re.compile(r"https?://[^/\s'\"]+(/[^\s'\"?]*?)?/\d+(?=[/?'\"\s]|$)")


def test_requests_to_the_server_never_guess_a_record_number() -> None:
    """The requests in the docs (curl, not run here: NOT_RUN) name records by a number printed
    first (``plan=$(trephine procedures list --status planned --ids | head -n 1)``), never one
    typed in: demo numbers differ by database and state (plan 1 of the demo is a done marrow,
    so the tour's PUT of its checklist answered 422)."""
    assert _GUESSED_ID.search("curl http://127.0.0.1:8000/api/v1/procedure-plans/1/checklist")
    assert _GUESSED_ID.search("curl 'http://127.0.0.1:8000/api/v1/procedures/17'")
    assert not _GUESSED_ID.search('curl "http://127.0.0.1:8000/api/v1/procedure-plans/$plan/x"')
    assert not _GUESSED_ID.search("curl 'http://127.0.0.1:8000/api/v1/patients?limit=5'")
    guessed = [
        f"{path.relative_to(REPO_ROOT)}:{c.line}: {c.text}"
        for path in markdown_files()
        for start, body in console_blocks(path.read_text(encoding="utf-8"))
        for c in commands_of(start, body)
        if _GUESSED_ID.search(c.text)
    ]
    assert not guessed, "\n".join(guessed)


def test_the_warm_trephine_is_the_command_line(warm_trephine: Path, tmp_path: Path) -> None:
    """The console server's ``trephine`` takes the caller's folder, environment, standard input
    and arguments, and exits with the command's code: a refusal stays a refusal."""
    script = (
        "set -u\n"
        "trephine --version\n"
        "TREPHINE_DATABASE_URL=sqlite:///here.db trephine init >/dev/null; echo init=$?\n"
        "trephine no-such-command; echo unknown=$?\n"
        "printf 'x\\001y' | trephine patients show \"$(printf 'a\\001b')\"; echo control=$?\n"
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=_env(tmp_path, first_on_path=warm_trephine),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.startswith("trephine "), done.stdout + done.stderr
    assert "init=0" in done.stdout and (tmp_path / "here.db").exists()
    assert "unknown=2" in done.stdout and "No such command" in done.stderr
    assert "control=2" in done.stdout and "control character" in done.stderr


# ------------------------------------------------------------------------- the docs themselves


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``trephine init`` + ``trephine demo``, as ``scripts/run-demo`` runs them, built once per
    run: pytest-xdist workers share the base temp folder, and a lock lets one of them build it."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is popen-gwN inside the run's folder; alone, it is the run's.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "docs-demo" / "trephine.db"
    path.parent.mkdir(exist_ok=True)
    with (shared / "docs-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path.parent / "done").exists():
            env = _env(path.parent)
            for args in (["init"], ["demo"]):
                done = subprocess.run(
                    [_trephine(), *args], cwd=path.parent, env=env, capture_output=True, text=True
                )
                assert done.returncode == 0, done.stderr
            (path.parent / "done").touch()
    return path


@pytest.fixture(scope="session")
def warm_trephine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder of a ``trephine`` that runs in a process forked from a warm interpreter
    (tests/console_server.py), one per test worker."""
    folder = tmp_path_factory.mktemp("console-server")
    server = console_server.start(folder, _env(folder))
    yield server.bin_dir
    server.stop()


def _trephine() -> str:
    found = Path(sys.executable).with_name("trephine")
    return str(found) if found.exists() else "trephine"


def _env(cwd: Path, first_on_path: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TREPHINE_")}
    env["TREPHINE_DATABASE_URL"] = "sqlite:///trephine.db"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if first_on_path is not None:
        env["PATH"] = f"{first_on_path}{os.pathsep}{env['PATH']}"
    env["HOME"] = str(cwd)
    env["COLUMNS"] = "120"
    return env


def _workspace(tmp: Path, template: Path) -> None:
    """A fresh clone's view: copies of what commands may write beside, links to the rest."""
    for name in ("examples", "docs"):
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, tmp / name)
    for name in ("tests", "src", "scripts", "benchmarks", "README.md", "pyproject.toml"):
        if (REPO_ROOT / name).exists():
            (tmp / name).symlink_to(REPO_ROOT / name)
    shutil.copyfile(template, tmp / "trephine.db")


def _script(commands: list[Command], report: Path) -> str:
    lines = [f"exec 3>{report}"]
    for idx, c in enumerate(commands):
        if not_run_reason(c.text):
            lines.append(f"echo '{idx} skip' >&3")
            continue
        lines.append(f"echo '@@ {idx}'; echo '@@ {idx}' >&2")
        lines.append(c.text)
        lines.append("__rc=$?")
        lines.append(f'echo "{idx} $__rc" >&3')
        ok = "-ne 0" if c.refusal else "-eq 0"
        lines.append(f"[ $__rc {ok} ] || exit 0")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "doc", _cases(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix() if p else ""
)
def test_console_blocks_run(
    doc: Path, demo_template: Path, warm_trephine: Path, tmp_path: Path
) -> None:
    rel = doc.relative_to(REPO_ROOT).as_posix()
    commands = [c for b in console_blocks(doc.read_text(encoding="utf-8")) for c in commands_of(*b)]
    _workspace(tmp_path, demo_template)
    report = tmp_path.parent / f"{tmp_path.name}.report"
    script = tmp_path.parent / f"{tmp_path.name}.sh"
    script.write_text(_script(commands, report), encoding="utf-8")
    done = subprocess.run(
        ["bash", str(script)],
        cwd=tmp_path,
        env=_env(tmp_path, first_on_path=warm_trephine),
        capture_output=True,
        text=True,
        timeout=900,
    )
    results = dict(line.split() for line in report.read_text().splitlines())
    for idx, c in enumerate(commands):
        rc = results.get(str(idx))
        where = f"{rel}:{c.line}: {c.text.splitlines()[0]}"
        out = _section(done.stdout, idx) + _section(done.stderr, idx)
        assert rc is not None, f"{where}\nnot reached (bash: {done.stderr[-2000:]})"
        if rc == "skip":
            continue
        if c.refusal:
            assert rc != "0", f"{where}\nshown as a refusal ({c.refusal}) but exited 0"
            shown = c.refusal.split(":", 1)[-1].strip()[:40]
            assert shown in out, f"{where}\nshown: {c.refusal}\ngot: {out[-2000:]}"
        else:
            assert rc == "0", f"{where}\nexit {rc}\n{out[-3000:]}"


def _section(text: str, idx: int) -> str:
    """The output of command ``idx`` (between its marker and the next one)."""
    marker = f"@@ {idx}\n"
    if marker not in text:
        return ""
    tail = text.split(marker, 1)[1]
    return re.split(r"^@@ \d+$", tail, maxsplit=1, flags=re.M)[0]


def test_the_demo_is_as_large_as_the_pages_say(demo_template: Path) -> None:
    """README.md and docs/demo-cohort.md give the default demo's size; they said ~5,600 and
    about 4,400 results when it loaded 6,645 (the demo grew with population and measurement
    results, the pages did not). Within 10 %, so a small change to the demo does not fail it."""
    import sqlite3

    with sqlite3.connect(demo_template) as db:
        results = db.execute("select count(*) from result where supersedes_id is null").fetchone()
        amended = db.execute("select count(*) from result where supersedes_id is not null")
        amended_n = amended.fetchone()[0]
        biopsies = db.execute("select count(*) from procedure").fetchone()[0]
    n = results[0]
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    cohort = (REPO_ROOT / "docs" / "demo-cohort.md").read_text(encoding="utf-8")
    said = re.search(r"\(240 patients, ~([\d,]+) results", readme)
    about = re.search(r"about ([\d,]+)\s+results on ([\d,]+) biopsies, ~([\d.]+) % of them", cohort)
    assert said and about
    for page, figure in (("README.md", said[1]), ("docs/demo-cohort.md", about[1])):
        stated = int(figure.replace(",", ""))
        assert abs(stated - n) <= 0.1 * n, f"{page} says ~{figure} results; the demo has {n:,}"
    assert abs(int(about[2].replace(",", "")) - biopsies) <= 0.1 * biopsies, biopsies
    assert abs(float(about[3]) - 100 * amended_n / n) <= 1, (amended_n, n)
