"""The message catalogue of patient-facing text (gettext through Babel).

Every sentence a patient reads is written in English in :mod:`trephine.present.patient_text`
(wrapped in :func:`_`) and in the ``patient/`` templates (the ``_`` they receive); the catalogue
template ``locale/trephine.pot`` lists them all and ``locale/<lang>/LC_MESSAGES/trephine.po``
translates them. English ships (its ``.po`` leaves every ``msgstr`` empty, which gettext reads
as "use the English"). A translator copies ``en`` to a new language folder and fills it in;
``TREPHINE_PATIENT_LANGUAGE`` picks it. ``.po`` files are compiled in memory when first used,
so there is no build step.

``python -m trephine.present.catalogue`` rewrites ``trephine.pot`` and merges new entries into
every ``.po``; ``tests/patients/test_catalogue.py`` fails when the sources and the catalogue
disagree.
"""

from __future__ import annotations

import io
from functools import lru_cache
from gettext import GNUTranslations, NullTranslations
from importlib.resources import files
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

DOMAIN = "trephine"
LOCALE_DIR = Path(str(files("trephine"))) / "locale"
#: Files whose ``_("...")`` calls are patient-facing messages.
SOURCES: tuple[tuple[str, str], ...] = (
    ("python", "present/patient_text.py"),
    ("jinja2", "web/templates/patient/_sections.html"),
    ("jinja2", "web/templates/patient/base.html"),
    ("jinja2", "web/templates/patient/home.html"),
    ("jinja2", "web/templates/patient/stage.html"),
    ("jinja2", "web/templates/patient/leaflet.html"),
)


def languages() -> list[str]:
    return sorted(p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())


@lru_cache(maxsize=8)
def translations(language: str = "en") -> NullTranslations:
    """The compiled catalogue of ``language`` (read from its ``.po``)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        from trephine.errors import ValidationError

        raise ValidationError("patient_language", language, ", ".join(languages()))
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return GNUTranslations(buf)


def current_language() -> str:
    from trephine.settings import get_settings

    return get_settings().patient_language


def gettext(message: str) -> str:
    """The message in the configured patient language (English when untranslated)."""
    return translations(current_language()).gettext(message)


#: The usual gettext name, for the modules of this package and the templates.
_ = gettext


def extracted() -> list[str]:
    """Every patient-facing msgid in the sources, in first-seen order."""
    root = Path(str(files("trephine")))
    seen: dict[str, None] = {}
    for method, rel in SOURCES:
        path = root / rel
        options = {"extensions": "jinja2.ext.do"} if method == "jinja2" else {}
        extractor = "jinja2.ext:babel_extract" if method == "jinja2" else "python"
        for _lineno, message, _comments, _context in extract_from_file(
            extractor, str(path), keywords={"_": None}, options=options
        ):
            if isinstance(message, str) and message:
                seen.setdefault(message, None)
    return list(seen)


def update() -> None:
    """Rewrite ``trephine.pot`` from the sources and merge it into every language's ``.po``."""
    template = Catalog(project="Trephine", domain=DOMAIN, fuzzy=False)
    for message in extracted():
        template.add(message)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, template, omit_header=True, sort_output=False, width=100)
    for language in languages():
        po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.is_file():
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=language)
        else:
            catalog = Catalog(locale=language, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with po.open("wb") as fh:
            write_po(fh, catalog, omit_header=True, sort_output=False, width=100)


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    update()
