"""No module reaches into another package's private names.

A leading underscore means "may change without notice"; the command line borrowing an importer's
private parser (as ``results amend`` once did) couples the two silently. Sharing private helpers
inside one package (``trephine.cli.records._open``, ``trephine.services._rows``) is fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import trephine

SRC = Path(trephine.__file__).resolve().parent


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def private_imports(source: str, module: str) -> list[str]:
    """``module.line imports other.package._name`` for each private name ``source`` borrows."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if not node.module.startswith("trephine.") or _package(node.module) == _package(module):
            continue
        found += [
            f"{module}:{node.lineno} imports {node.module}.{alias.name}"
            for alias in node.names
            if alias.name.startswith("_") and not alias.name.startswith("__")
        ]
    return found


def test_the_checker_sees_a_private_import() -> None:
    # Guards the guard: a checker that finds nothing would pass vacuously.
    source = (
        "from trephine.cli.records import _open\n"
        "def f() -> None:\n"
        "    from trephine.importers.clinical import Cells, _x\n"
    )
    assert private_imports(source, "trephine.cli.results") == [
        "trephine.cli.results:3 imports trephine.importers.clinical._x"
    ]


def test_no_private_name_crosses_a_package_boundary() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = "trephine." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        found += private_imports(path.read_text(encoding="utf-8"), module)
    assert found == []
