"""Which SMS are a safe check-in, and in which language: messages as people write them."""

import pytest

from bailanys.parsing.safe import kazakh_written, safe_checkin

COUNTS = [
    # Kazakh
    ("Аманмын", "kk"),
    ("аманмын", "kk"),
    ("Аман-сау, бәрі жақсы", "kk"),
    ("Аман-сау, бәрі жақсы. Рахмет", "kk"),
    ("АМАН-САУ", "kk"),
    ("аман сау", "kk"),
    ("Амансау бәрі жақсы", "kk"),
    ("аман-есен", "kk"),
    ("Аман-есенмін, уайымдамаңыз", "kk"),
    ("Амандық", "kk"),
    ("Біз амандық", "kk"),
    ("Мен аманмын", "kk"),
    ("Біз аманбыз, үйдеміз", "kk"),
    ("Бәрі аман", "kk"),
    ("Бәріміз аманбыз!", "kk"),
    ("Аман! бәрі жақсы", "kk"),
    ("АМАН 4821", "kk"),
    ("Аман 4821 бәрі жақсы", "kk"),
    ("Тірімін, аманмын", "kk"),
    ("Саумын", "kk"),
    ("Сәлеметсіз бе, аманмын", "kk"),
    ("Амандыкпыз", "kk"),
    ("amanmyn", "kk"),
    ("aman-sau", "kk"),
    ("Aman sau, bari jaksy", "kk"),
    ("Жив, бәрі жақсы", "kk"),
    ("Аман-сау! Сіздер қалайсыздар?", "kk"),
    # Russian
    ("ЖИВ", "ru"),
    ("Живы, всё хорошо", "ru"),
    ("жива", "ru"),
    ("Жив-здоров", "ru"),
    ("жива-здорова", "ru"),
    ("Живой", "ru"),
    ("Я жив", "ru"),
    ("Мы живы", "ru"),
    ("Мы все живы, дома", "ru"),
    ("Со мной всё в порядке", "ru"),
    ("Я в порядке", "ru"),
    ("Все живы здоровы", "ru"),
    ("Все живы, здоровы. Спасибо!", "ru"),
    ("Все целы", "ru"),
    ("Мы в безопасности", "ru"),
    ("У нас всё хорошо", "ru"),
    ("жив 4821", "ru"),
    ("4821 жива", "ru"),
    ("Здравствуйте, я жив и здоров", "ru"),
    ("zhiv", "ru"),
    ("ya zhiv", "ru"),
    ("Жив. Всё хорошо", "ru"),
    # English
    ("safe", "en"),
    ("SAFE, all good here", "en"),
    ("SAFE 4821 all fine", "en"),
    ("I'm safe", "en"),
    ("I’m safe", "en"),
    ("im ok", "en"),
    ("We are ok", "en"),
    ("we're fine, thanks", "en"),
    ("I am alive", "en"),
    ("Safe and sound", "en"),
]

DOES_NOT_COUNT = [
    "жив ли он?",
    "Жив ли он",
    "не жив",
    "он жив?",
    "Он жив",
    "Я жив?",
    "живу в Алматы",
    "Я живу в Алматы",
    "Аман ба?",
    "Аман ба",
    "амансыз ба?",
    "Амансыз ба",
    "позвоните, жив ли",
    "аманат",
    "Аманжол",
    "Аманжол Серікұлы 8 701 234 56 78",
    "Живописная 5",
    "ул. Живописная 5",
    "не в порядке",
    "Я не в порядке",
    "not safe",
    "I am not safe",
    "is he safe?",
    "Is she safe",
    "safe?",
    "Жив, но ранен, помогите",
    "Аман, бірақ көмек керек",
    "Я жив, позвоните маме 87011234567",
    "Аманмын, апама хабарласыңыз +7 701 234 56 78",
    "SOS",
    "помогите",
    "HELP",
    "Здравствуйте, найдите Марата",
    "Мама жива?",
    "Где вы? Живы?",
    "Все хорошо?",
    "всё хорошо",
    "ok",
    "fine",
    "Аман-сау ма?",
    "жив или нет",
    "Позвоните Гульнаре 87012345678, скажите что я жив",
    "Живём в палатке",
    "Аманкелді",
    "",
    "   ",
    "4821",
    "B12 Аман-сау",
    "Safety first",
    "Жизнь",
    "мы живем",
    "Живые цветы",
    "Тірі ме?",
    "Амандасу",
    "Wellington",
    "I'm at home",
    "Okay?",
    "OKAY",
    "Живой уголок",
    "safe or not",
]


@pytest.mark.parametrize(("text", "language"), COUNTS)
def test_counts_as_a_safe_check_in(text, language):
    found = safe_checkin(text)
    assert found is not None, text
    assert found.language == language


@pytest.mark.parametrize("text", DOES_NOT_COUNT)
def test_does_not_count(text):
    assert safe_checkin(text) is None


def test_the_pin_and_the_words_after_it():
    found = safe_checkin("Аман-сау 4821, бәрі жақсы. Рахмет")
    assert (found.pin, found.rest) == ("4821", "бәрі жақсы. Рахмет")
    found = safe_checkin("SAFE 4821 всё хорошо")
    assert (found.pin, found.rest, found.language) == ("4821", "всё хорошо", "en")
    assert safe_checkin("4821 жива").pin == "4821"
    assert safe_checkin("Жив, бәрі жақсы").rest == "бәрі жақсы"
    assert safe_checkin("Аман-сау").pin == ""


def test_the_tables_are_big_enough():
    assert len(COUNTS) >= 40 and len(DOES_NOT_COUNT) >= len(COUNTS)


@pytest.mark.parametrize(
    ("text", "kazakh"),
    [
        ("Аман-сау, бәрі жақсы", True),
        ("Рахмет, бәрі жақсы", True),
        ("Әжеме хабарласыңыз", True),
        ("ҚАЙДАСЫҢ", True),
        ("Амансыз ба, апа?", True),
        ("Аманмын", True),
        ("Позвоните апе, скажите что я жив", False),
        ("Передайте Гүлнаре, что я жив", False),
        ("Мама, я жив, всё хорошо", False),
        ("I'm safe", False),
    ],
)
def test_kazakh_is_told_from_a_kazakh_name(text, kazakh):
    assert kazakh_written(text) is kazakh
