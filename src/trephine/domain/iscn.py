"""A well-formedness check of an ISCN karyotype (ISCN 2020 notation), for the entry form.

Checks the shape, not the biology: clones separated by ``/``; each clone a chromosome count
(``46``, a range ``45~47``, optionally a ploidy level ``<2n>``), the sex chromosomes (``XX``,
``XY``, ``X``, ``XXY`` …), then abnormalities separated by commas (``t(8;21)(q22;q22.1)``,
``del(5)(q13q33)``, ``-7``, ``+8``, ``+mar``, ``idem`` …) with balanced parentheses, and an
optional cell count in square brackets (``[20]``). Pure: no database.
"""

from __future__ import annotations

import re

_COUNT = re.compile(r"\d{1,3}(~\d{1,3})?(<\dn>)?")
_SEX = re.compile(r"[XY]{1,5}c?|[XY]{0,4}\?")
_ABNORMALITY = re.compile(r"[+\-]?[A-Za-z0-9()+\-;:.?~>×_]+")
_CELLS = re.compile(r"(.*?)\[(\d+|cp\d+)\]")
EXAMPLE = "46,XY[20] or 45,XX,-7[15]/46,XX[5]"


def iscn_problem(text: str) -> str | None:
    """None when ``text`` is a well-formed ISCN karyotype, else what is wrong with it."""
    karyotype = text.strip()
    if not karyotype:
        return "empty"
    if re.search(r"\s", karyotype):
        return "contains spaces (ISCN has none)"
    for n, clone in enumerate(karyotype.split("/"), start=1):
        where = f"clone {n} ({clone!r})"
        found = _CELLS.fullmatch(clone)
        body = found.group(1) if found else clone
        if "[" in body or "]" in body:
            return f"{where}: the cell count goes last, as [n]"
        parts = body.split(",")
        if len(parts) < 2:
            return f"{where}: needs at least the chromosome count and the sex chromosomes"
        if not _COUNT.fullmatch(parts[0]):
            return f"{where}: {parts[0]!r} is not a chromosome count such as 46 or 45~47"
        if not _SEX.fullmatch(parts[1]):
            return f"{where}: {parts[1]!r} is not the sex chromosomes such as XX or XY"
        for part in parts[2:]:
            if not _ABNORMALITY.fullmatch(part):
                return f"{where}: {part!r} is not an abnormality in ISCN notation"
            depth = 0
            for char in part:
                depth += {"(": 1, ")": -1}.get(char, 0)
                if depth < 0:
                    break
            if depth != 0:
                return f"{where}: unbalanced parentheses in {part!r}"
    return None
