"""Every horizontally scrolling table box of the pages is reachable by keyboard and named.

At 400 px a wide table scrolls inside its ``.table-wrap`` box; a keyboard user can scroll it
only when the box takes focus, and a screen reader announces it by its name (axe-core's
``scrollable-region-focusable``; WCAG 2.1.1). A crawl of every page per role found the patient
timeline, admin, lab and report tables without either. Static, so it covers pages and states
the browser tests do not open.
"""

from __future__ import annotations

import re
from pathlib import Path

import trephine.web

TEMPLATES = Path(trephine.web.__file__).parent / "templates"
WRAP = re.compile(r"<div\b[^>]*\bclass=\"table-wrap\"[^>]*>")


def test_every_table_box_takes_focus_and_has_a_name() -> None:
    found, wrong = 0, []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for tag in WRAP.findall(template.read_text(encoding="utf-8")):
            found += 1
            if not all(a in tag for a in ('tabindex="0"', 'role="region"', "aria-label=")):
                wrong.append(f"{template.relative_to(TEMPLATES)}: {tag}")
    assert found >= 20, found  # the pages do have such tables
    assert not wrong, "\n".join(wrong)


CARDS = re.compile(r"<table\b[^>]*\bclass=\"[^\"]*\bcards\b[^\"]*\"[^>]*>(.*?)</table>", re.S)
CELL = re.compile(r"<td\b[^>]*>")


def test_every_card_value_says_what_it_is() -> None:
    """Under 600 px a ``table.cards`` drops its header row and shows each row as a card; a
    value without ``data-label`` is then a bare number: the procedure rates at 400 px read
    '1001 / 55/1001 = 5.495 % / 0/1001 = 0 % / 1793/2002 = 89.56 %' with nothing saying which
    is the complication, the serious complication or the adequacy rate. The card's title (the
    ``pid`` cell) needs none."""
    found, wrong = 0, []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for table in CARDS.findall(template.read_text(encoding="utf-8")):
            for cell in CELL.findall(table):
                found += 1
                if "data-label=" not in cell and not re.search(r"class=\"[^\"]*\bpid\b", cell):
                    wrong.append(f"{template.relative_to(TEMPLATES)}: {cell}")
    assert found >= 40, found
    assert not wrong, "\n".join(wrong)
