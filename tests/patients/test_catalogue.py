"""Every patient-facing message is in the catalogue, and the catalogue holds nothing stale."""

from __future__ import annotations

from babel.messages.pofile import read_po

from trephine.present import catalogue


def _ids(path: str) -> set[str]:
    with (catalogue.LOCALE_DIR / path).open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


def test_pot_matches_the_sources() -> None:
    extracted = set(catalogue.extracted())
    assert len(extracted) > 100
    pot = _ids("trephine.pot")
    assert extracted - pot == set(), "run: python -m trephine.present.catalogue"
    assert pot - extracted == set(), "stale entries: python -m trephine.present.catalogue"


def test_every_language_translates_the_whole_template() -> None:
    pot = _ids("trephine.pot")
    assert catalogue.languages() == ["en"]
    for language in catalogue.languages():
        assert _ids(f"{language}/LC_MESSAGES/trephine.po") == pot


def test_a_translation_is_used_when_present(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    folder = tmp_path / "xx" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    test = Catalog(locale="de")
    test.add("When to call us", "Wann Sie uns anrufen")
    with (folder / "trephine.po").open("wb") as fh:
        write_po(fh, test)
    monkeypatch.setattr(catalogue, "LOCALE_DIR", tmp_path)
    catalogue.translations.cache_clear()
    try:
        assert catalogue.translations("xx").gettext("When to call us") == "Wann Sie uns anrufen"
        assert catalogue.translations("xx").gettext("Words we use") == "Words we use"
    finally:
        catalogue.translations.cache_clear()
