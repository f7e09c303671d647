"""SMS part counting and splitting (bailanys/channels/sms/segments.py). No database."""

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bailanys.channels.sms.segments import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    MULTI,
    SINGLE,
    encoding,
    segments,
    split,
    units,
)

KAZAKH = "әғқңөұүһі"
EMOJI = "🙂"  # U+1F642, outside the BMP: a surrogate pair, 2 UTF-16 code units


# Encoding


@pytest.mark.parametrize(
    "text",
    ["", "Hello, world!", "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", "{[~]}|^\\€\f", "a\nb\rc"],
)
def test_gsm7_texts(text):
    assert encoding(text) == "gsm7"


@pytest.mark.parametrize(
    "text",
    ["Привет", "Сәлем", "Hello " + EMOJI, "tab\there", "back`tick", "ç", "ÇA VA, Ça va, ça va"],
)
def test_ucs2_texts(text):
    assert encoding(text) == "ucs2"


@pytest.mark.parametrize("letter", list(KAZAKH + KAZAKH.upper()))
def test_every_kazakh_letter_makes_the_text_ucs2(letter):
    assert encoding("Hello " + letter) == "ucs2"


def test_character_sets():
    assert len(GSM7_BASIC) == 127  # 128 codes, less the escape
    assert len(GSM7_EXTENDED) == 10
    assert not GSM7_BASIC & GSM7_EXTENDED
    assert "\x1b" not in GSM7_BASIC


def test_units():
    assert units("abc") == 3
    assert units("a€") == 3
    assert units("a€", "ucs2") == 2
    assert units("ә" + EMOJI) == 3
    assert units("") == 0


# GSM-7


@pytest.mark.parametrize(
    ("length", "parts"),
    [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_latin_lengths(length, parts):
    text = "a" * length
    assert segments(text) == parts
    assert len(split(text)) == parts


def test_latin_161_splits_153_then_8():
    assert [len(p) for p in split("x" * 161)] == [153, 8]
    assert [len(p) for p in split("x" * 306)] == [153, 153]


def test_extended_characters_cost_two_septets():
    assert segments("a" * 158 + "€") == 1  # 160 septets
    assert segments("a" * 159 + "€") == 2  # 161 septets
    assert segments("€" * 80) == 1
    assert segments("{" * 81) == 2
    assert segments("\f" * 80) == 1


def test_extended_character_filling_a_part_exactly():
    text = "a" * 151 + "€" + "b" * 10  # 151 + 2 = 153 septets, then 10
    assert split(text) == ["a" * 151 + "€", "b" * 10]


def test_extended_character_is_not_split_at_a_part_boundary():
    text = "a" * 152 + "€" + "b" * 10  # the escape would be septet 153, its euro septet 154
    assert split(text) == ["a" * 152, "€" + "b" * 10]
    assert units(split(text)[0]) == 152


def test_gsm7_text_with_one_cyrillic_letter_is_counted_in_ucs2():
    assert segments("a" * 70) == 1
    assert segments("a" * 69 + "я") == 1
    assert segments("a" * 70 + "я") == 2


# UCS-2: Cyrillic, Kazakh, emoji


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_cyrillic_lengths(length, parts):
    assert segments("ж" * length) == parts


def test_cyrillic_71_splits_67_then_4():
    assert [len(p) for p in split("ж" * 71)] == [67, 4]
    assert [len(p) for p in split("ж" * 134)] == [67, 67]


def test_kazakh_message():
    text = "Сәлем, әже! Біз аманбыз. Қалың қалай? Үйге ертең ораламыз, уайымдама. Ұлың Нұрлан."
    assert encoding(text) == "ucs2"
    assert len(text) == 82
    assert segments(text) == 2
    assert split(text) == [text[:67], text[67:]]
    short = "Сәлем! Барлығы жақсы, қауіпсіз жердеміз. Ұлың және қызың хабарласады."
    assert len(short) <= 70
    assert segments(short) == 1


def test_emoji_counts_two_code_units():
    assert segments("ә" * 68 + EMOJI) == 1  # 70 code units
    assert segments("ә" * 69 + EMOJI) == 2  # 71
    assert segments(EMOJI * 35) == 1
    assert segments(EMOJI * 36) == 2
    assert segments("a" * 68 + EMOJI) == 1
    assert segments("a" * 69 + EMOJI) == 2


def test_emoji_filling_a_part_exactly():
    text = "ә" * 65 + EMOJI + "ә" * 10  # 65 + 2 = 67 code units, then 10
    assert split(text) == ["ә" * 65 + EMOJI, "ә" * 10]


def test_surrogate_pair_is_not_split_at_a_part_boundary():
    text = "ә" * 66 + EMOJI + "ә" * 10  # the pair would be units 67 and 68
    assert split(text) == ["ә" * 66, EMOJI + "ә" * 10]
    assert [units(p, "ucs2") for p in split(text)] == [66, 12]


def test_emoji_only_concatenated():
    assert [len(p) for p in split(EMOJI * 40)] == [33, 7]  # 33 pairs = 66 units per part


# The empty text


def test_empty_text_is_one_part():
    assert segments("") == 1
    assert split("") == [""]
    assert encoding("") == "gsm7"


# Properties

GSM_ALPHABET = sorted(GSM7_BASIC | GSM7_EXTENDED)
MIXED_ALPHABET = st.sampled_from(GSM_ALPHABET + list(KAZAKH) + ["ж", "Ж", EMOJI, "\U0001f1f0"])
texts = st.one_of(
    st.text(max_size=800),
    st.text(alphabet=st.sampled_from(GSM_ALPHABET), max_size=800),
    st.text(alphabet=st.sampled_from([*sorted(GSM7_EXTENDED), "a"]), max_size=400),
    st.text(alphabet=MIXED_ALPHABET, max_size=500),
    st.text(alphabet=st.sampled_from(["ә", EMOJI]), max_size=300),
)


@given(texts)
def test_split_joins_back(text):
    assert "".join(split(text)) == text


@given(texts)
def test_split_has_segments_parts(text):
    assert len(split(text)) == segments(text) >= 1


@given(texts)
def test_every_part_within_its_limit(text):
    enc = encoding(text)
    parts = split(text)
    limit = SINGLE[enc] if len(parts) == 1 else MULTI[enc]
    for part in parts:
        assert units(part, enc) <= limit
    if len(parts) > 1:
        assert all(parts)
        assert units(text, enc) > SINGLE[enc]


@given(texts)
def test_parts_are_filled_greedily(text):
    enc = encoding(text)
    parts = split(text)
    for part, following in itertools.pairwise(parts):
        assert units(part + following[0], enc) > MULTI[enc]


@given(st.text(alphabet=st.sampled_from(sorted(GSM7_BASIC)), max_size=1000))
def test_basic_gsm7_count_matches_the_formula(text):
    n = len(text)
    assert segments(text) == (1 if n <= 160 else math.ceil(n / 153))


@given(st.text(alphabet=st.sampled_from(["ж", "ә", "a"]), min_size=1, max_size=600))
def test_bmp_ucs2_count_matches_the_formula(text):
    if encoding(text) == "ucs2":
        n = len(text)
        assert segments(text) == (1 if n <= 70 else math.ceil(n / 67))
