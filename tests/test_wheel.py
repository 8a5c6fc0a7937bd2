"""The wheel: it builds with the oldest setuptools that pyproject.toml declares, it holds every
file of the package's source tree (templates, static files, locale catalogues, Alembic
migrations, the nucleus network and its record ... found by walking src/trephine, not from a
hand list), and the package installed from it alone runs the nucleus detector on a phantom."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel: ~10 s, and fetches setuptools when not cached

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "trephine"


def _setuptools_floor() -> str:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for requirement in requires:
        found = re.fullmatch(r"setuptools\s*>=\s*([0-9][0-9.]*)", requirement)
        if found:
            return found.group(1)
    raise AssertionError(f"pyproject.toml build-system.requires names no setuptools>=: {requires}")


def _package_files() -> set[str]:
    """Every file of the package's tree, as a wheel names it (trephine/...), caches left out."""
    return {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the project (so no build/ or egg-info lands in the tree)
    with setuptools pinned to the oldest version pyproject.toml allows."""
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    pin = work / "build-constraints.txt"
    pin.write_text(f"setuptools=={_setuptools_floor()}\n")
    pip = [sys.executable, "-m", "pip"]
    has_option = (
        "--build-constraint"
        in subprocess.run(
            [*pip, "wheel", "--help"], capture_output=True, text=True, check=True
        ).stdout
    )
    env = dict(os.environ)
    if not has_option:  # older pip: the constraint file also constrains build environments
        env["PIP_CONSTRAINT"] = str(pin)
    out = work / "out"
    command = [*pip, "wheel", "--no-deps", "-w", str(out), str(tree)]
    if has_option:
        command[4:4] = ["--build-constraint", str(pin)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    output = done.stdout + done.stderr
    if done.returncode and "No matching distribution found for setuptools" in output:
        pytest.skip(f"setuptools {_setuptools_floor()} cannot be had from a package index here")
    assert done.returncode == 0, output[-3000:]
    (built,) = out.glob("trephine-*.whl")
    return built


def test_the_wheel_builds_with_the_oldest_setuptools_declared(wheel: Path) -> None:
    """`license = "Apache-2.0"` (an SPDX expression, PEP 639) needs setuptools 77; with the
    floor at 69 a build that got setuptools 69-76 failed on the licence field. The licence's
    text travels in the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
        licence = archive.read(metadata.replace("METADATA", "licenses/LICENSE")).decode()
    assert "License-Expression: Apache-2.0" in text
    assert "License-File: LICENSE" in text
    assert licence == (ROOT / "LICENSE").read_text() and "Apache License" in licence
    assert "Requires-Dist: onnxruntime" in text


def test_every_file_of_the_package_tree_is_in_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    source = _package_files()
    kinds = {Path(name).suffix for name in source if not name.endswith(".py")}
    # The data file kinds read at run time are all there to be checked.
    assert {".onnx", ".json", ".html", ".css", ".js", ".po", ".mako"} <= kinds, kinds
    missing = sorted(source - shipped)
    assert not missing, f"{len(missing)} files of src/trephine are not in {wheel.name}: {missing}"
    recorded = json.loads((PACKAGE / "analysis/images/nucleus_model.json").read_text())
    with zipfile.ZipFile(wheel) as archive:
        network = archive.read("trephine/analysis/images/nucleus_net.onnx")
    assert hashlib.sha256(network).hexdigest() == recorded["network_sha256"]


def test_the_installed_wheel_alone_detects_nuclei_on_a_phantom(wheel: Path, tmp_path: Path) -> None:
    """Installed (without its dependencies, which the running environment lends) into a folder
    of its own, ahead of the source tree on the path: the phantom, the quality check, the
    network and the segmentation all come from the wheel's files."""
    target = tmp_path / "site"
    install = ["install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)]
    subprocess.run([sys.executable, "-m", "pip", *install], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("TREPHINE_DATABASE_URL", None)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "trephine", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    where = subprocess.run(
        [sys.executable, "-c", "import trephine; print(trephine.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(target), where
    run("image", "phantom", "phantom.png", "--seed", "3")
    answer = json.loads(run("image", "nuclei", "phantom.png", "--json"))
    assert answer["count"] == len(answer["nuclei"]) > 0
    recorded = json.loads((PACKAGE / "analysis/images/nucleus_model.json").read_text())
    assert answer["detector"]["name"] == "trephine-he-nuclei"
    assert answer["detector"]["version"] == recorded["version"]
    assert json.loads(run("image", "cellularity", "phantom.png", "--json"))["cellularity_pct"] > 0
