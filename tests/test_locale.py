"""The Russian and Kazakh catalogues stay complete, correct and compiled.

Re-extracting after a source change leaves new entries empty or fuzzy; these tests
fail until they are translated and compiled again (see docs/translating.md).
"""

import functools
import gettext
import re
from html import unescape
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client

LANGUAGES = ("ru", "kk")

PLURAL_FORMS = {
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
    "(n%100<10 || n%100>=20) ? 1 : 2);",
    "kk": "nplurals=2; plural=(n!=1);",
}

# A named Python placeholder such as %(name)s or %(limit)d, with its conversion.
PLACEHOLDER = re.compile(r"%\([^)]+\)[#0 +-]*\d*(?:\.\d+)?[a-zA-Z]")

# Strings of the public intake page ("/") that must show in the browser's language.
INTAKE_STRINGS = (
    "Ask us to call someone",
    "Volunteers inside the country will phone your relative, pass on your message "
    "and bring back their answer. Volunteers never ask for money.",
    "Send request",
)


def catalogue_path(lang: str, suffix: str) -> Path:
    return Path(settings.LOCALE_PATHS[0]) / lang / "LC_MESSAGES" / f"django.{suffix}"


@functools.cache
def po_file(lang: str) -> polib.POFile:
    return polib.pofile(str(catalogue_path(lang, "po")))


def entries(lang: str) -> list[polib.POEntry]:
    return [e for e in po_file(lang) if not e.obsolete]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def plural_rule(lang: str):
    rule = re.search(r"plural\s*=\s*([^;]+);", po_file(lang).metadata["Plural-Forms"])
    return gettext.c2py(rule.group(1))


def forms(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_header_has_the_standard_plural_forms(lang):
    assert po_file(lang).metadata["Plural-Forms"] == PLURAL_FORMS[lang]
    assert po_file(lang).metadata["Language"] == lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_entry_is_translated_in_every_plural_form(lang):
    nplurals = int(re.search(r"nplurals=(\d+)", PLURAL_FORMS[lang]).group(1))
    missing = []
    for entry in entries(lang):
        translations = forms(entry)
        expected = nplurals if entry.msgid_plural else 1
        if len(translations) != expected or not all(t.strip() for t in translations):
            missing.append(entry.msgid)
    assert not missing, f"untranslated in {lang}: {missing}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_nothing_is_fuzzy(lang):
    assert not po_file(lang).metadata_is_fuzzy, f"the {lang} header is fuzzy"
    fuzzy = [e.msgid for e in entries(lang) if "fuzzy" in e.flags]
    assert not fuzzy, f"fuzzy in {lang}: {fuzzy}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_every_placeholder(lang):
    # Form 0 may leave out a count placeholder that the English singular leaves out,
    # but only where form 0 means exactly one (not Russian, where it also means 21).
    form_0_is_only_one = [n for n in range(1000) if plural_rule(lang)(n) == 0] == [1]
    wrong = []
    for entry in entries(lang):
        if not entry.msgid_plural:
            if entry.msgstr and placeholders(entry.msgstr) != placeholders(entry.msgid):
                wrong.append((entry.msgid, entry.msgstr))
            continue
        expected = placeholders(entry.msgid_plural)
        for index, text in enumerate(forms(entry)):
            if not text:
                continue  # reported as untranslated
            found = placeholders(text)
            optional = expected - placeholders(entry.msgid)
            if index == 0 and form_0_is_only_one and found | optional == expected:
                continue
            if found != expected:
                wrong.append((entry.msgid, text))
    assert not wrong, f"placeholders differ in {lang}: {wrong}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogue_matches_the_po(lang):
    mo_path = catalogue_path(lang, "mo")
    assert mo_path.exists(), f"{mo_path} is missing: run `bailanys compilemessages`"
    compiled = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(mo_path))}
    stale = []
    for entry in entries(lang):
        if not entry.translated():
            continue
        mo_entry = compiled.get((entry.msgctxt, entry.msgid))
        if mo_entry is None or forms(mo_entry) != forms(entry):
            stale.append(entry.msgid)
    assert not stale, f"{mo_path} is stale, run `bailanys compilemessages`: {stale}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_intake_page_follows_the_browser_language(db, lang):
    response = Client().get("/", HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200
    page = unescape(response.content.decode())
    assert f'<html lang="{lang}">' in page
    for msgid in INTAKE_STRINGS:
        translation = po_file(lang).find(msgid).msgstr
        assert translation and translation != msgid
        assert translation in page
        assert msgid not in page
