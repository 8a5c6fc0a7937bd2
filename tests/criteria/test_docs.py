"""The committed criteria pages are exactly what the rule tables generate."""

from __future__ import annotations

from pathlib import Path

from trephine.criteria.docs import pages
from trephine.criteria.registry import rulesets

DOCS = Path(__file__).resolve().parents[2] / "docs" / "criteria"
HEADER = "generated criteria reference"


def test_generated_pages_match_the_code() -> None:
    expected = pages()
    stale = []
    for name, text in expected.items():
        path = DOCS / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    assert not stale, (
        f"docs/criteria pages drifted from the rule tables: {stale}; "
        "regenerate with `python -m trephine.criteria.docs docs/criteria`"
    )


def test_no_orphan_generated_pages() -> None:
    generated = {p.name for p in DOCS.glob("*.md") if HEADER in p.read_text(encoding="utf-8")}
    assert generated == set(pages())


def test_every_rule_and_parameter_is_documented() -> None:
    text = "\n".join(pages().values())
    for rs in rulesets().values():
        for rule in rs.rules:
            assert f"`{rule.id}`" in text
        for param in rs.params:
            assert f"`{param.name}`" in text


def test_each_rule_set_is_on_the_page_it_names() -> None:
    generated = pages()
    for rs in rulesets().values():
        page = generated[f"{rs.docs_page}.md"]
        assert f"- key: `{rs.key}`;" in page, rs.key
        others = [n for n, text in generated.items() if f"- key: `{rs.key}`;" in text]
        assert others == [f"{rs.docs_page}.md"], rs.key
