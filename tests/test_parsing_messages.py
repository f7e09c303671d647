"""The words to pass on, the names of the people to call and of the writer, as people write
them: Kazakh, Russian, transliterated Russian and English; then through SMS and Telegram."""

import re

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext as _

from bailanys.channels.sms.segments import segments
from bailanys.parsing.parser import parse
from tests.conftest import Api, make_volunteer
from tests.conftest import outbox_drain as deliver

# text -> (message, the target's name in its base form, the writer's signature)
MESSAGES = [
    ("Позвоните маме 87011234567 скажите что я жив. Ваша дочь Аня", "я жив", None, "Аня"),
    ("Анама 87011234567 айтыңызшы, мен аманмын. Ұлыңыз Ерлан", "мен аманмын", None, "Ерлан"),
    ("Call mum 87011234567, tell her I'm fine. Asel from Astana", "I'm fine", None, "Asel"),
    (
        "Сәлеметсіз бе, апама Күләшке 87071112233 хабарласыңызшы, аманмын деп айтыңыз. Ерлан",
        "аманмын",
        "Күләш",
        "Ерлан",
    ),
    (
        "Серікке 87017654321 хабарласыңыз, аманмын деп айтыңыз. Ваш сын Айдос",
        "аманмын",
        "Серік",
        "Айдос",
    ),
    ("Бағдатқа 87017654321 хабарласыңызшы, бәрі жақсы деп айтыңыз", "бәрі жақсы", "Бағдат", None),
    (
        "Әжеме Айгерімге 87051234567 хабарласыңыздаршы, немереңіз аман деп айтыңыздаршы",
        "немереңіз аман",
        "Айгерім",
        None,
    ),
    (
        "Ағама Ерланға 87017771122 айтыңызшы, мен Астанадамын, бәрі жақсы.\nДана",
        "мен Астанадамын, бәрі жақсы",
        "Ерлан",
        "Дана",
    ),
    ("pozvonite mame Gulnare 87011234567 skazhite chto ya zhiv", "ya zhiv", "Gulnara", None),
    (
        "pozvonite bratu Seriku 87011234567 peredaite chto vse horosho. Aidos",
        "vse horosho",
        "Serik",
        "Aidos",
    ),
    ("Позвоните маме Гульнаре 87011234567, скажите что я жив. Айдос", "я жив", "Гульнара", "Айдос"),
    ("Проверьте Гульнару 87011234567 и передайте что я жив\nАйдос", "я жив", "Гульнара", "Айдос"),
    ("Позвоните брату Ерику 87011234567, скажите что я жив — Ерлан", "я жив", "Ерик", "Ерлан"),
    (
        "Передайте Жанне 87015554433, что мы доехали до Бишкека. Марат",
        "мы доехали до Бишкека",
        "Жанна",
        "Марат",
    ),
    ("Позвоните тете Наде 87775551122 и скажите, что мы в Омске", "мы в Омске", "Надя", None),
    (
        "Передайте Ольге Николаевне 87013172984 — с внуком всё хорошо",
        "с внуком всё хорошо",
        "Ольга Николаевна",
        None,
    ),
    (
        "Дозвонитесь до Виктора 87017352410, скажите что жена в Саратове",
        "жена в Саратове",
        "Виктор",
        None,
    ),
    (
        "Позвоните Айдару 87019998877, передайте: деньги отправил.\nВаш брат Ерлан",
        "деньги отправил",
        "Айдар",
        "Ерлан",
    ),
    ("Позвоните Алие 87051234567 скажите что я скоро приеду", "я скоро приеду", "Алия", None),
    (
        "Маме Динаре 87052174096 передайте пожалуйста: я тебя люблю, не плачь. Алия, Варшава",
        "я тебя люблю, не плачь",
        "Динара",
        "Алия",
    ),
    ("Please call my mum 87011234567 and tell her I am safe", "I am safe", None, None),
    (
        "Please call Saule 87783026617 and tell her that we are fine. From Tom",
        "we are fine",
        "Saule",
        "Tom",
    ),
    (
        "Call my brother Timur 87085301794, tell him I'm in Istanbul - Dana",
        "I'm in Istanbul",
        "Timur",
        "Dana",
    ),
    (
        "Please call Aigerim 87011234567 and tell her I am safe in Almaty.\nAsel",
        "I am safe in Almaty",
        "Aigerim",
        "Asel",
    ),
    ("Tell my dad 87011234567 that we are fine", "we are fine", None, None),
    ("Передайте маме 87011234567 что я жив…Айдос", "я жив", None, "Айдос"),
    (
        "Позвоните Гульнаре 87011234567 и передайте что мы живы. Спасибо! Айдос",
        "мы живы",
        "Гульнара",
        "Айдос",
    ),
    (
        "Позвоните Даурену 87082276194, скажите что перевод отправил",
        "перевод отправил",
        "Даурен",
        None,
    ),
    ("Сіңліме Ақмаралға 87058412097 айтыңызшы, үйде отырсын", "үйде отырсын", "Ақмарал", None),
    ("Анама хабарласыңызшы 87014382507, аманмын деп айтыңыз", "аманмын", None, None),
    (
        "ПОЗВОНИТЕ ПОЖАЛУЙСТА 87475580316 АЙНУР СКАЖИТЕ ЧТО НУРИК ЖИВОЙ",
        "НУРИК ЖИВОЙ",
        "АЙНУР",
        None,
    ),
    ("Меня зовут Айдос. Позвоните маме 87011234567, скажите что я жив", "я жив", None, "Айдос"),
]


@pytest.mark.parametrize(("text", "message", "base", "signature"), MESSAGES)
def test_the_message_the_name_and_the_signature(text, message, base, signature):
    out = parse(text)
    [target] = out["targets"]
    assert out["message"] == message
    assert target["base"] == base
    assert out["signature"] == signature
    assert out["message"] in text  # verbatim, as the corpus labels it
    assert signature is None or signature != target["base"]


def test_the_table_is_long_enough():
    assert len(MESSAGES) >= 25
    assert {"kk", "ru", "en", "mixed"} >= {parse(t)["lang"] for t, *_r in MESSAGES}


@pytest.mark.parametrize(
    "text",
    [
        "Позвоните маме 87011234567\n87017654321 Айдос",  # a target on the last line
        "87011234567 Айдос",  # the name after the number is the target's
        "Позвоните Айдосу 87011234567. Айдос",  # the same person
        "Передайте Гульнаре 87011234567 что всё хорошо. Уайымдамасын.",  # a verb, not a name
        "Позвоните 87011234567, узнайте как она. Спасибо!",
        "Позвоните маме 87011234567, скажите что я жив. Шымкент",  # a city
        "Позвоните маме 87011234567, скажите что я жив\nАлматы",
    ],
)
def test_what_is_not_a_signature(text):
    out = parse(text)
    assert out["signature"] is None or out["signature"] not in {t["name"] for t in out["targets"]}
    assert out["signature"] not in ("Уайымдамасын", "Спасибо")
    if text.startswith(("87011234567 Айдос", "Позвоните маме 87011234567")):
        assert out["signature"] is None


# several people in one message -> what each one is called (name in base form, else the
# kinship word as written)
LISTS = [
    (
        "Мама Гульнара 87011234567, папа Серік 87017654321, брат Айдар 87019998877, "
        "апам Күләш 87071112233, әжем 87051234567",
        ["Гульнара", "Серік", "Айдар", "Күләш", "әжем"],
    ),
    ("мама 87011234567\nәжем 87051234567\nпапа 87017654321", ["мама", "әжем", "папа"]),
    ("87011234567 Гульнара\n87017654321 Серик\n87051234567 Айдар", ["Гульнара", "Серик", "Айдар"]),
    (
        "Жаңаөзендегі туыстарыма хабарласыңыздаршы:\nағам Ерболат 8 701 442 09 61\n"
        "жеңгем Сәуле 8 747 185 30 27\nанам 8 705 330 64 18",
        ["Ерболат", "Сәуле", "анам"],
    ),
    (
        "My parents in Aktau: dad 87018453062, mum 87774102893, my sister Dina 87028153926",
        ["dad", "mum", "Dina"],
    ),
    (
        "Позвоните: маме 87011234567, брату Ерику 87017654321, бабушке 87051112233",
        ["мама", "Ерик", "бабушка"],
    ),
    (
        "1) Жанибек (брат) +7 701 823 40 16\n2) Гульжан (сестра) 8 747 604 91 25\n"
        "3) мама дом. 8 7282 27 35 18",
        ["Жанибек", "Гульжан", "мама"],
    ),
]


LISTS += [
    (
        "Шымкент. Анама 8 775 210 48 63 және әкеме 8 701 618 07 25 айтыңыздаршы: бәрі жақсы",
        ["Анам", "әкем"],
    ),
    (
        "Please call my grandparents: grandma 87011234567 and grandpa 87017654321. "
        "Tell them I'm fine.",
        ["grandma", "grandpa"],
    ),
    ("8 702 904 41 68 Бауыржан, 8 705 111 22 33 Ұлжан (Тараз)", ["Бауыржан", "Ұлжан"]),
]


def _label(target: dict) -> str | None:
    return target["base"] or target["relation"]


@pytest.mark.parametrize(("text", "labels"), LISTS)
def test_each_of_several_people_keeps_their_own_name(text, labels):
    out = parse(text)
    assert [_label(t) for t in out["targets"]] == labels
    assert out["signature"] is None


# --- end to end ---------------------------------------------------------------------------

URL = "/channels/smsgate/webhook"
KULASH = "+77071112233"


@pytest.fixture
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 600


def _sms(fake, phone: str, text: str) -> None:
    body, headers = fake.build_received(phone, text)
    response = Client().post(URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200


def _to(fake, phone: str) -> list[dict]:
    return [m for m in fake.outbox if phone in m["phoneNumbers"]]


@pytest.mark.django_db(transaction=True)
def test_an_sms_request_becomes_a_short_signed_bridge_sms(fake_smsgate, sms_settings):
    _sms(
        fake_smsgate,
        "+77011110000",
        "Сәлеметсіз бе, апама Күләшке 87071112233 хабарласыңызшы, аманмын деп айтыңыз. Ерлан",
    )
    deliver()
    [bridge] = _to(fake_smsgate, KULASH)
    text = bridge["text"]
    assert text.startswith("аманмын\n")
    assert "Ерлан" in text
    assert "87071112233" not in text and "7071112233" not in text
    assert "Күләшке" not in text and "Сәлеметсіз" not in text
    with translation.override("kk"):
        assert _("Group member") not in text
    assert "Топ мүшесі" not in text and "Участник группы" not in text
    assert segments(text) <= 2
    volunteer = Api(make_volunteer()[1])
    assert volunteer.post("/claims").status_code == 204  # waiting for her SMS answer


@pytest.mark.django_db(transaction=True)
def test_an_unsigned_sms_request_names_nobody_in_the_bridge_sms(fake_smsgate, sms_settings):
    _sms(fake_smsgate, "+77011110001", "Позвоните маме 87071112233, скажите что я жив")
    deliver()
    [bridge] = _to(fake_smsgate, KULASH)
    with translation.override("ru"):
        unsigned = _(
            "%(message)s\n- sent via Bailanys volunteers. Reply to this SMS to answer. %(ref)s"
        ) % {"message": "я жив", "ref": bridge["text"].rsplit(" ", 1)[-1]}
    assert bridge["text"] == unsigned
    assert "Участник группы" not in bridge["text"] and "Group member" not in bridge["text"]
    assert segments(bridge["text"]) <= 2


@pytest.mark.django_db(transaction=True)
def test_five_relatives_in_one_telegram_message_get_five_names(fake_telegram, settings):
    from tests.test_telegram import converse, press

    settings.BAILANYS_PUBLIC_URL = "https://relay.example.org"
    shown = converse(
        fake_telegram,
        5001,
        "Мама Гульнара 87011234567, папа Серік 87017654321, брат Айдар 87019998877, "
        "апам Күләшке 87071112233, әжем 87051234567. Хабарласыңыздаршы, аманмын деп айтыңыз",
        "ru",
    )
    for name in ("Гульнара", "Серік", "Айдар", "Күләш ", "әжем"):
        assert name in shown
    done = press(fake_telegram, 5001, "confirm:yes", "ru")
    links = re.findall(r"https://relay\.example\.org/s/\S+", done)
    assert len(links) == 5
    api = Api()
    names = [
        api.get("/requests/" + link.rstrip("/").rsplit("/", 1)[-1]).json()["recipient_name"]
        for link in links
    ]
    assert sorted(names) == sorted(["Гульнара", "Серік", "Айдар", "Күләш", "әжем"])


@pytest.mark.django_db(transaction=True)
def test_the_call_script_of_an_unsigned_sms_names_no_stand_in(fake_smsgate, sms_settings):
    _sms(fake_smsgate, "+77011110002", "Позвоните Серікке 87071112233, узнайте как он")
    deliver()
    claim = Api(make_volunteer()[1]).post("/claims")
    assert claim.status_code == 200
    seen = claim.json()
    assert seen["recipient_name"] == "Серік"  # the dative "Серікке" in its base form
    with translation.override(seen["recipient_language"]):
        expected = _(
            "Hello, is this %(recipient)s? My name is … and I am a volunteer with Bailanys. "
            "Someone close to you could not reach you and asked me to call. I will never "
            "ask you for money. May I pass on their message?"
        ) % {"recipient": "Серік"}
    assert seen["call_script"] == expected


@pytest.mark.django_db(transaction=True)
def test_a_bridged_post_without_words_to_pass_on_never_sends_the_post(
    fake_smsgate, sms_settings, settings
):
    settings.BAILANYS_SMS_BRIDGE_KINDS = ["deliver_message", "welfare_check"]
    post = "Сәлеметсіз бе, әжем Күләш 87071112233 үш күн бойы хабарсыз, біліп беріңізші. Ерлан"
    _sms(fake_smsgate, "+77011110003", post)
    deliver()
    [bridge] = _to(fake_smsgate, KULASH)
    with translation.override("kk"):
        asks = _(
            "%(sender)s asks, via Bailanys volunteers, whether you are safe. Reply to "
            "this SMS to answer. %(ref)s"
        ) % {"sender": "Ерлан", "ref": bridge["text"].rsplit(" ", 1)[-1]}
    assert bridge["text"] == asks
    assert "хабарсыз" not in bridge["text"] and "87071112233" not in bridge["text"]
    assert segments(bridge["text"]) <= 2


@pytest.mark.django_db(transaction=True)
def test_the_review_form_shows_the_relative_the_writer_named_and_stores_base_forms():
    from bailanys.relay.models import Request
    from bailanys.relay.services.posts import post_ingest
    from tests.conftest import html
    from tests.test_review_queue import coordinator

    held = post_ingest(
        source="test-group",
        external_id="chat:1",
        text="Срочно! Переведите 20000 на карту 4400 4301 2345 6789. Әжем 87015559876, "
        "Серікке 87015551234 хабарласыңыз.\nАйдос",
    )
    assert held.outcome == "review"
    browser, _token = coordinator()
    page = html(browser.get(f"/console/review/{held.post.pk}/"))
    assert 'name="target-0-name" value="Әжем"' in page
    assert 'name="target-1-name" value="Серікке"' in page  # as written, for the reviewer
    browser.post(
        f"/console/review/{held.post.pk}/",
        {
            "action": "confirm",
            "kind": "welfare_check",
            "lang": "kk",
            "target-0-phone": "87015559876",
            "target-0-name": "Әжем",
            "target-1-phone": "87015551234",
            "target-1-name": "Серікке",
        },
    )
    stored = sorted(r.recipient_name for r in Request.objects.all())
    assert stored == ["Серік", "Әжем"]
    assert {r.requester.name for r in Request.objects.all()} == {"Айдос"}  # as signed
