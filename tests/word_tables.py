"""Finding a second table of words in the source: the AST scan behind the "one home" tests of
the words of inputs and comparisons (tests/criteria/test_input_words.py) and of call categories
(tests/present/test_category_words.py).

A *word table* is a dict literal in which at least three entries key a code the caller names to
a value that reads as words: a string (capitalised, or with any letter), or a tuple or a call
whose first element is one (``("Marrow blasts", " %")``, ``InputWords("Marrow blasts", "%")``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import Path

import trephine

#: The package's own source folder.
SRC = Path(trephine.__file__).parent


def reads_as_words(value: ast.expr, *, capitalised: bool = True) -> bool:
    """A label-like value: a capitalised string (or, with ``capitalised=False``, any string
    holding a letter), or a tuple or call whose first element is one."""
    if isinstance(value, ast.Tuple | ast.Call):
        first = value.elts[:1] if isinstance(value, ast.Tuple) else value.args[:1]
        return bool(first) and reads_as_words(first[0], capitalised=capitalised)
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        return False
    text = value.value
    return text[:1].isupper() if capitalised else any(ch.isalpha() for ch in text)


def word_tables(
    tree: ast.AST,
    is_code: Callable[[ast.expr | None], bool],
    *,
    capitalised: bool = True,
    least: int = 3,
) -> list[int]:
    """The lines of the dict literals of ``tree`` that word ``least`` or more codes."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        and sum(
            is_code(k) and reads_as_words(v, capitalised=capitalised)
            for k, v in zip(node.keys, node.values, strict=True)
        )
        >= least
    ]


def constant_in(codes: Iterable[str]) -> Callable[[ast.expr | None], bool]:
    """``is_code`` for codes written as string constants."""
    wanted = frozenset(codes)
    return lambda key: isinstance(key, ast.Constant) and key.value in wanted


def tables_outside(homes: Iterable[Path], scan: Callable[[ast.AST], list[int]]) -> set[str]:
    """``path:line`` of every word table ``scan`` finds in the package's source but in
    ``homes``."""
    skip = set(homes)
    return {
        f"{path.relative_to(SRC)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path not in skip
        for line in scan(ast.parse(path.read_text(encoding="utf-8")))
    }
