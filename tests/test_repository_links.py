"""No symbolic link is committed: a clean clone must not point into someone's checkout.

Twice a worktree's local link (``.venv``, then ``.cache``, where the browser tests' axe-core
lives) was committed because the ignore rule matched directories only; CI's clean clone then
followed it (another checkout's virtualenv; a link to itself, so axe-core could not be installed
and every browser test failed).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from testdata import REPO_ROOT


def test_no_symbolic_link_is_tracked() -> None:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-s"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    links = [line.split("\t", 1)[1] for line in listed if line.startswith("120000 ")]
    assert not links, links
