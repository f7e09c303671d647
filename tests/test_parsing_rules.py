"""Unit tests per rule family of the free-text parser (own examples)."""

import random
import re

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from bailanys.parsing import cities, kinds, lang, names, phones
from bailanys.parsing.message import find_message
from bailanys.parsing.parser import parse
from bailanys.parsing.text import fold, lower_re


def test_phone_formats_and_split_numbers():
    found = phones.find_numbers("брат 8 (702) 11-22-333 и сестра 8705 12 3 45 67, ещё 7015556677")
    assert [f.e164 for f in found] == ["+77021122333", "+77051234567", "+77015556677"]


def test_numbers_only_the_matcher_reads_are_still_found():
    # slashes and full-width digits are outside the digit-run pass;
    # phonenumbers' matcher picks them up
    found = phones.find_numbers("Айгуль 8/701/123/45/67, Ерлан ８７０５５５５１２３４")
    assert [f.e164 for f in found] == ["+77011234567", "+77055551234"]


def test_case_and_dotted_i_do_not_shift_positions():
    text = "İZMİR: ПОЗВОНИТЕ Асель 8 701 234 56 78, СКАЖИТЕ ЧТО Я ЖИВ"
    assert len(fold(text)) == len(text)
    out = parse(text)
    assert [t["phone"] for t in out["targets"]] == ["+77012345678"]
    assert out["message"] == "Я ЖИВ"


@given(st.text(alphabet="bcaеҚқİıßﬁ ,.", max_size=40))
def test_lower_re_matches_what_ignorecase_matches(text):
    pattern = r"(?:\bcall\b|\bқала|ақ\b|\bиз\s+\w+)"
    folded = fold(text)
    assert len(folded) == len(text)
    ours = [m.span() for m in lower_re(pattern).finditer(folded)]
    assert ours == [m.span() for m in re.compile(pattern).finditer(folded)]


def test_local_number_gets_city_area_code():
    found = phones.find_numbers("Алматы, дом. 245 18 09", [(0, "727")])
    assert [f.e164 for f in found] == ["+77272451809"]


def test_emergency_and_invalid_numbers_are_ignored():
    out = parse(
        "Позвоните Ерлану 8 705 555 12 34 в Павлодар, если плохо — пусть звонит 103 или 112"
    )
    assert [t["phone"] for t in out["targets"]] == ["+77055551234"]
    assert out["callback"] == []


def test_old_and_corrected_numbers_are_not_targets():
    out = parse("Позвоните Сане, старый номер 8 701 111 22 33 не работает, новый 8 747 444 55 66")
    assert [t["phone"] for t in out["targets"]] == ["+77474445566"]
    out = parse("Позвоните тете Рае 8 701 999 00 11, ой нет, правильный номер 8 701 999 00 12")
    assert [t["phone"] for t in out["targets"]] == ["+77019990012"]


def test_foreign_and_own_numbers_are_callbacks():
    out = parse("Please call my uncle Serik 8 702 300 40 50 in Pavlodar. My number +49 170 1234567")
    assert out["callback"] == ["+491701234567"]
    out = parse("Позвоните брату Асету 8 777 100 20 30, Семей. Мой номер 8 701 300 40 50")
    assert out["callback"] == ["+77013004050"]


def test_card_number_is_not_a_phone():
    out = parse("Позвоните маме 8 705 100 20 30. Деньги на карту 4400 4302 1111 2222")
    assert [t["phone"] for t in out["targets"]] == ["+77051002030"]


def test_language_rules():
    assert lang.detect("Әжеме хабарласыңыздаршы, бәрі жақсы") == "kk"
    assert lang.detect("Позвоните пожалуйста брату, скажите что все хорошо") == "ru"
    assert lang.detect("Please call my sister and tell her we are fine") == "en"
    assert lang.detect("Please call my sister, скажите что все хорошо у нас") == "mixed"


def test_kinds():
    assert kinds.classify("Продам квартиру недорого, звоните 8 701 000 11 22", 1, None) == (
        "not_a_request"
    )
    assert kinds.classify("Спасибо всем, дозвонились до дедушки!", 0, None) == "not_a_request"
    assert kinds.classify("Найден мальчик 5 лет, звоните 8 701 000 11 22", 1, None) == (
        "find_relatives"
    )
    assert kinds.classify("Папе нужен инсулин, позвоните 8 701 000 11 22", 1, None) == "medical"
    assert kinds.is_urgent("СРОЧНО позвоните", "welfare_check")


def test_kinship_words_are_not_names():
    assert not names.is_name_word("Мама")
    assert not names.is_name_word("Әжеме")
    assert not names.is_name_word("Grandma")
    assert names.is_name_word("Гульнар")
    out = parse("Позвоните бабушке 8 701 202 30 40 в Костанай")
    assert out["targets"][0]["name"] is None


def test_patronymic_and_surname_are_joined():
    out = parse("Позвоните Раисе Тимуровне 8 701 202 30 40, Павлодар")
    assert out["targets"][0]["name"] == "Раисе Тимуровне"
    out = parse("Нурланов Ерсайын 8 701 202 30 40 Семей, узнайте как он")
    assert out["targets"][0]["name"] == "Нурланов Ерсайын"


def test_city_endings():
    got = [m.text for m in cities.find_cities("в Павлодаре, Семейде, Oskemende, ҚОСТАНАЙДА")]
    assert got == ["Павлодаре", "Семейде", "Oskemende", "ҚОСТАНАЙДА"]


def test_message_span_is_verbatim():
    text = "Позвоните Болату 8 705 321 00 99 и скажите что мы доехали до Казани, все целы"
    span = find_message(text, [])
    assert span is not None
    assert text[span[0] : span[1]] == "мы доехали до Казани, все целы"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parse_never_raises_and_returns_valid_e164(text):
    out = parse(text)
    assert set(out) == {
        *("lang", "kind", "urgent", "targets", "callback", "message", "confidence"),
        "signature",
    }
    assert all(set(t) == {"name", "phone", "city", "base", "relation"} for t in out["targets"])
    assert 0.0 <= out["confidence"] <= 1.0
    for phone in [t["phone"] for t in out["targets"]] + out["callback"]:
        assert phone.startswith("+")
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone))
    if out["message"] is not None:
        assert out["message"] in text


def test_kazakh_numbers_are_judged_exactly_as_phonenumbers_judges_them():
    """The fast path for +7 7xx numbers reads KZ's metadata itself; it must agree with
    phonenumbers on every prefix, in the 8…, +7… and bare ten-digit forms."""
    rnd = random.Random(2022)
    for prefix in range(1000):
        national = f"7{prefix:03d}{rnd.randrange(10**6):06d}"
        for raw in (f"8{national}", f"+7{national}", national):
            reference = phonenumbers.parse(raw, "KZ")
            expected = (
                [("+7" + national, phonenumbers.region_code_for_number(reference))]
                if phonenumbers.is_valid_number(reference)
                else []
            )
            found = [(f.e164, f.region) for f in phones.find_numbers(f"тел {raw} .")]
            assert found == expected, raw
