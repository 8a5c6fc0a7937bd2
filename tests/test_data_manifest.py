"""The vendored test data: every file listed with its origin, licence and checksum, nothing
unlisted, the copies equal to their origins in ``../shared`` when it is there, and no machine
paths anywhere in the repository."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from testdata import DATA, REPO_ROOT, SHARED

ROW = re.compile(
    r"^\| `(?P<file>[^`]+)` \| (?P<origin>.+) \| (?P<licence>[^|]+) \| `(?P<sha>[0-9a-f]{64})` \|$"
)


def _manifest(folder: Path = DATA) -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in (folder / "MANIFEST.md").read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            rows[m["file"]] = (m["origin"].strip(), m["licence"].strip(), m["sha"])
    return rows


def _vendored(folder: Path = DATA) -> set[str]:
    skip = {"MANIFEST.md", "manifest.py"}
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in skip and "__pycache__" not in p.parts
    }


@pytest.mark.parametrize("folder", [DATA, REPO_ROOT / "examples"], ids=["tests/data", "examples"])
def test_every_vendored_file_is_listed_with_origin_licence_and_checksum(folder: Path) -> None:
    rows = _manifest(folder)
    assert set(rows) == _vendored(folder)
    for name, (origin, licence, sha) in rows.items():
        assert origin and licence, name
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == sha, name


def test_the_example_workbook_holds_the_example_csv_folder() -> None:
    import csv

    from openpyxl import load_workbook

    book = load_workbook(REPO_ROOT / "examples" / "clinic.xlsx", read_only=True)
    folder = REPO_ROOT / "docs" / "templates" / "example"
    assert sorted(book.sheetnames) == sorted(p.stem for p in folder.glob("*.csv"))
    for sheet in book.sheetnames:
        with (folder / f"{sheet}.csv").open(newline="", encoding="utf-8") as fh:
            expected = [row for row in csv.reader(fh)]
        got = [["" if v is None else str(v) for v in row] for row in book[sheet].values]
        assert [r[: len(expected[0])] for r in got] == expected, sheet


def test_the_checker_sees_an_edited_file(tmp_path: Path) -> None:
    # Guards the guard: a changed byte changes the checksum the manifest is compared with.
    rows = _manifest()
    name = "clonal/pyclone_vi/synthetic.tsv"
    edited = (DATA / name).read_bytes().replace(b"m0\ts0\t69", b"m0\ts0\t70", 1)
    assert hashlib.sha256(edited).hexdigest() != rows[name][2]


#: Vendored path -> path in ../shared, for the files copied unchanged.
def _origin_in_shared(name: str) -> Path | None:
    if name.endswith("UPSTREAM-MANIFEST.md"):
        return SHARED / "data" / name.replace("UPSTREAM-MANIFEST.md", "MANIFEST.md")
    if name.startswith(("flow/", "clonal/")):
        return SHARED / "data" / name
    if name in ("spec/clinical-cases.json", "bench/mrd-hierarchy.gatingml.xml"):
        return SHARED / name
    return None  # generated (bench tubes) or licence texts


def test_copies_still_equal_their_origin_in_shared() -> None:
    if not (SHARED / "data").is_dir():
        pytest.skip(f"no ../shared beside the repository ({SHARED}); the checksums still hold")
    differ = []
    for name in sorted(_vendored()):
        origin = _origin_in_shared(name)
        if origin is not None and origin.read_bytes() != (DATA / name).read_bytes():
            differ.append(name)
    assert differ == [], "re-copy from ../shared and run python tests/data/manifest.py"


# An absolute path of this or another machine (a leading slash, then one of these roots): the
# repository must run wherever it is cloned. Relative paths such as benchmarks/work/ are fine.
ROOTS = ("work", "root", "home", "Users", "mnt")
MACHINE_PATH = re.compile(r"(?:^|[\s\"'`(=:,])/(?:" + "|".join(ROOTS) + r")/")


def test_the_machine_path_pattern() -> None:
    work, root = ROOTS[0], ROOTS[1]
    assert MACHINE_PATH.search(f"written from /{work}/shared/spec/x.md")
    assert MACHINE_PATH.search(f'path = "/{root}/.cache"')
    assert not MACHINE_PATH.search(f"cached in benchmarks/{work}/mrd.fcs")
    assert not MACHINE_PATH.search("../shared/spec/clinical-cases.json")


def test_no_machine_paths_in_the_repository() -> None:
    try:
        tracked = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
        ).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    found = []
    for raw in tracked:
        name = raw.decode()
        path = REPO_ROOT / name
        # Vendored data files are as published (a FlowJo workspace records where its author's
        # tables were); the manifests vouch for them. Everything the project writes is checked.
        vendored = name.startswith("tests/data/") or (
            name.startswith("examples/") and not name.endswith(".md")
        )
        if not name or not path.is_file() or vendored:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for n, line in enumerate(text.splitlines(), start=1):
            if MACHINE_PATH.search(line):
                found.append(f"{name}:{n}: {line.strip()[:80]}")
    assert found == []
