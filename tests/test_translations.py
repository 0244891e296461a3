"""Every text a reader can see has its Dutch: the catalogs are complete, current and used.

The message ids are extracted from the code and the templates with Babel's own extraction
API and the mapping ``make messages`` uses (``babel.cfg``), so a text added without running
``make messages`` and translating it fails here, as does a translation left fuzzy or one whose
text is gone from the code (obsolete).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import DictLoader, Environment

from threads import i18n

ROOT = Path(__file__).resolve().parents[1]


def _extracted() -> set[tuple[str | None, str]]:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, **i18n.KEYWORDS}
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


@pytest.fixture(scope="module")
def extracted() -> set[tuple[str | None, str]]:
    return _extracted()


def _catalog(name: str):  # noqa: ANN202
    with i18n.catalog_path(name).open("rb") as handle:
        return read_po(handle, locale="nl")


def test_the_code_and_templates_have_texts_to_translate(extracted) -> None:  # noqa: ANN001
    # the extraction really sees the Python (N_, translate), the mail phrases ({% trans %},
    # ngettext, pgettext) and the pages (_()); an empty set would make every check pass
    ids = {message for _, message in extracted}
    assert "URGENT –" in ids  # mailgate/compose.py, N_
    assert "Kind regards," in ids  # mailgate/compose.py, translate(lang, ...)
    assert "%(line)s: please add a name." in ids  # templates/mail/_phrases.txt, {% trans %}
    assert "Please tick that you agree, to sign." in ids  # mediate/web/render.py
    assert "Getting a new link" in ids  # templates/web/link-problem.html
    assert ("consent checkbox", "Agreement") in extracted


def test_every_text_has_its_dutch_and_none_is_fuzzy_or_obsolete(extracted) -> None:  # noqa: ANN001
    catalog = _catalog("nl")
    have = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}
    missing = sorted(str(key) for key in extracted - have.keys())
    assert not missing, f"no Dutch yet (run make messages and translate): {missing}"
    untranslated = sorted(str(key) for key, m in have.items()
                          if not (m.string if isinstance(m.string, str) else all(m.string)))
    assert not untranslated, f"empty Dutch: {untranslated}"
    fuzzy = sorted(str(key) for key, m in have.items() if m.fuzzy)
    assert not fuzzy, f"fuzzy Dutch (check and remove the flag): {fuzzy}"
    obsolete = sorted(str(key) for key in have.keys() - extracted) + sorted(catalog.obsolete)
    assert not obsolete, f"texts no longer in the code (run make messages): {obsolete}"


def test_the_informal_catalog_only_rewords_texts_that_exist(extracted) -> None:  # noqa: ANN001
    informal = _catalog("nl_je")
    for m in informal:
        if m.id:
            key = (m.context, m.id if isinstance(m.id, str) else m.id[0])
            assert key in extracted, f"nl_je has a text no longer in the code: {key}"
            assert m.string and not m.fuzzy, key
    assert not informal.obsolete


def test_placeholders_are_the_same_in_both_languages() -> None:
    # a Dutch text that drops or renames a %(name)s fails at the reader, not here otherwise
    for m in _catalog("nl"):
        if not m.id or not m.python_format:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        wanted = sorted(set(_names(ids[-1])))
        for text in strings:
            assert sorted(set(_names(text))) == wanted or (
                len(ids) > 1 and set(_names(text)) <= set(_names(ids[-1]))), (m.id, text)


def _names(text: str) -> list[str]:
    return re.findall(r"%\((\w+)\)", text)


def test_a_template_speaks_the_language_of_its_context() -> None:
    env = i18n.install(Environment(loader=DictLoader({
        "t": '{{ _("Kind regards,") }} {% trans n=2 %}{{ n }} x{% endtrans %}'})))
    assert env.get_template("t").render(lang="nl").startswith("Met vriendelijke groet,")
    assert env.get_template("t").render(lang="en").startswith("Kind regards,")
    assert env.get_template("t").render(lang="fr").startswith("Kind regards,")  # unknown: English


def test_informal_dutch_falls_back_to_the_formal_catalog(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    for name, text in (("nl", "Met vriendelijke groet,"), ("nl_je", "Groetjes,")):
        path = i18n.catalog_path(name, tmp_path)
        path.parent.mkdir(parents=True)
        path.write_text(f'msgid "Kind regards,"\nmsgstr "{text}"\n\n'
                        f'msgid "Safety"\nmsgstr "Veiligheid"\n', encoding="utf-8")
    informal = i18n.catalog_path("nl_je", tmp_path)
    informal.write_text('msgid "Kind regards,"\nmsgstr "Groetjes,"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert i18n.translate("nl", "Kind regards,", je=True) == "Groetjes,"
        assert i18n.translate("nl", "Safety", je=True) == "Veiligheid"  # from nl
        assert i18n.translate("nl", "Kind regards,") == "Met vriendelijke groet,"
    finally:
        i18n.translations.cache_clear()
