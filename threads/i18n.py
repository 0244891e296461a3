"""Texts in the reader's language: gettext catalogs, managed by Babel, read once at start.

The English text is the message id (the source string, as Python projects keep it), so
English needs no catalog; Dutch lives in ``threads/locale/nl/LC_MESSAGES/messages.po``.
Catalogs are the ``.po`` files themselves: they are compiled in memory the first time a
language is asked for (Babel's ``write_mo``), so the wheel carries one file per language and
no build step can leave a stale ``.mo`` behind. ``make messages`` extracts the ids from the
code and the templates (``babel.cfg``) and updates the catalogs; a test fails when one lacks
its Dutch.

A case whose parties are addressed with "je" reads ``nl_je`` first: a small catalog with
only the texts whose informal wording differs, falling back to ``nl`` for the rest. That is
how ``templates/mail/nl-je/`` already works (its own wording where one exists), so an
administrator finds the same shape in both places, and no call site has to know which texts
have an informal form (a ``msgctxt`` would make every one of them choose).

Python code marks a text with ``N_`` where it is defined and translates it with ``translate``
where the reader's language is known; templates use ``jinja2.ext.i18n`` (``_()``,
``{% trans %}``), whose callables read ``lang`` (and ``je``) from the template's context.
"""

from __future__ import annotations

import gettext as _gettext
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
SOURCE = "en"  # the language the message ids are written in
INFORMAL = {"nl": "nl_je"}  # the catalog read first when a case says "je"
# Babel's extraction keywords beyond its defaults (``_``, ``gettext``, ``N_``, ...): the
# Python helpers below take the language first. ``make messages`` passes the same.
KEYWORDS = {"translate": (2,), "translate_plural": (2, 3)}


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark a text for extraction where it is defined; translate it where it is read."""
    return message


def catalog_path(name: str, locale_dir: Path | None = None) -> Path:
    return (locale_dir or LOCALE_DIR) / name / "LC_MESSAGES" / f"{DOMAIN}.po"


def _compiled(name: str) -> _gettext.NullTranslations:
    path = catalog_path(name)
    if not path.is_file():
        return _gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=name.split("_")[0], domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)  # a fuzzy guess is never shown to a reader
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@lru_cache(maxsize=16)
def translations(lang: str | None, je: bool = False) -> _gettext.NullTranslations:
    """The texts for a reader of ``lang`` ('nl', 'en'; 'nl_NL' counts as 'nl')."""
    base = (lang or SOURCE).split("_")[0].split("-")[0].lower()
    if base == SOURCE:
        return _gettext.NullTranslations()
    found = _compiled(base)
    if je and base in INFORMAL:
        informal = _compiled(INFORMAL[base])
        informal.add_fallback(found)
        return informal
    return found


def translate(lang: str | None, message: str, je: bool = False, **values: Any) -> str:
    """``message`` in ``lang``, its ``%(name)s`` placeholders filled from ``values``."""
    text = translations(lang, je).gettext(message)
    return text % values if values else text


def translate_plural(lang: str | None, singular: str, plural: str, n: int, je: bool = False,
                     **values: Any) -> str:
    text = translations(lang, je).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def _of(context: Context) -> _gettext.NullTranslations:
    return translations(context.get("lang"), bool(context.get("je")))


@pass_context
def _context_gettext(context: Context, message: str) -> str:
    return _of(context).gettext(message)


@pass_context
def _context_ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _of(context).ngettext(singular, plural, n)


@pass_context
def _context_pgettext(context: Context, msgctxt: str, message: str) -> str:
    return _of(context).pgettext(msgctxt, message)


@pass_context
def _context_npgettext(context: Context, msgctxt: str, singular: str, plural: str,
                       n: int) -> str:
    return _of(context).npgettext(msgctxt, singular, plural, n)


def install(env: Environment) -> Environment:
    """Give a Jinja environment ``jinja2.ext.i18n`` in the language of each render.

    One environment serves every reader, so the catalog is chosen per render from the
    context's ``lang`` (``install_gettext_translations`` would fix one language per
    environment). Newstyle gettext: ``_("Hello %(name)s", name=x)`` escapes ``x`` in HTML,
    and a template imported ``with context`` speaks its importer's language."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _context_gettext, _context_ngettext, newstyle=True,
        pgettext=_context_pgettext, npgettext=_context_npgettext,
    )
    return env
