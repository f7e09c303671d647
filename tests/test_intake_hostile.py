"""POST /api/v1/requests against whatever the internet sends: never a 500.

The property tests throw arbitrary JSON at intake and check the answer is the
one its rules give for that body (`expected_errors` writes them out on their
own): 413 when too large, else 422 naming exactly the fields at fault, else
201. Then they build valid requests from strategies and check what comes back
out of the status API.
"""

import json
import re
import unicodedata

import django.conf
import phonenumbers
import pytest
from django.test import Client
from django.utils.html import escape
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bailanys.relay.models import Request
from tests.conftest import next_address, request_body, status_token

FIELDS = {
    "body",
    "requester",
    "requester.name",
    "requester.language",
    "requester.contact",
    "recipient",
    "recipient.name",
    "recipient.phone",
    "recipient.city",
    "recipient.language",
    "message",
    "kind",
    "urgent",
    "checkin_pin",
}
KINDS = ["welfare_check", "deliver_message", "find_relatives", "medical"]
# The KZ mobile ranges libphonenumber knows (703, 704 and 709 are not allocated).
MOBILE_PREFIXES = ["700", "701", "702", "705", "706", "707", "708", "747", "771"]
MOBILE_PREFIXES += ["775", "776", "777", "778"]

hostile = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def web(db) -> Client:
    """A client that returns a server error as a response instead of raising it."""
    return Client(raise_request_exception=False)


def post(client: Client, raw: bytes | str, headers=None, address: str | None = None):
    """POST a raw body to intake, each time from an address of its own unless given one."""
    return client.post(
        "/api/v1/requests",
        raw,
        content_type="application/json",
        headers=headers or {},
        REMOTE_ADDR=address or next_address(),
    )


# --- Strategies -------------------------------------------------------------

nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(categories=["Cc", "Cs", "Co", "Cn", "Cf", "Zl", "Zp", "Mn"])),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\ud800",
            "\udfff x",
            "\u202egnp.exe",
            "\x1b[31mred",
            "\r\n",
            "8 701 234 56 78",
            "+77012345678",
            "12345",
            "en",
            "ru",
            "kk",
            "de",
            "medical",
            "deliver_message",
            "true",
        ]
    ),
    # Over the field limits, and sometimes over the body limit.
    st.integers(min_value=190, max_value=12_000).map(lambda n: "ы" * n),
)
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), nasty_text, st.just("x" * 2001)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=12,
)
requester_ish = st.fixed_dictionaries(
    {},
    optional={
        "name": json_value | st.just("Marat"),
        "language": json_value | st.sampled_from(["en", "ru", "kk"]),
        "contact": json_value,
    },
)
recipient_ish = st.fixed_dictionaries(
    {},
    optional={
        "name": json_value | st.just("Gulnara"),
        "phone": json_value | st.sampled_from(["8 701 234 56 78", "+7 (777) 123-45-67"]),
        "city": json_value,
        "language": json_value | st.sampled_from(["en", "ru", "kk"]),
    },
)
request_ish = st.fixed_dictionaries(
    {},
    optional={
        "requester": requester_ish | json_value,
        "recipient": recipient_ish | json_value,
        "message": json_value,
        "kind": json_value | st.sampled_from(KINDS),
        "urgent": json_value,
        "extra": json_value,
    },
)


def encode(body, ascii_only: bool) -> bytes:
    try:
        return json.dumps(body, ensure_ascii=ascii_only).encode()
    except UnicodeEncodeError:  # lone surrogates only travel as \u escapes
        return json.dumps(body).encode()


# --- What intake must answer --------------------------------------------------

LANGUAGES = ("en", "ru", "kk")
# The words a JSON boolean field also takes, in any case (pydantic's lax booleans).
BOOLEAN_WORDS = {"0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes"}
MAX_NAME, MAX_CONTACT, MAX_CITY, MAX_MESSAGE, MAX_PHONE, MAX_PIN = 200, 200, 100, 2000, 64, 8
# Longer than this, after cleaning, is not a phone number (bailanys/phones.py).
MAX_PHONE_TEXT = 40


def too_large(raw: bytes) -> bool:
    return len(raw) > django.conf.settings.BAILANYS_MAX_BODY_BYTES


def string_of(min_length: int, max_length: int):
    """A JSON string of that many characters; one with a lone surrogate is not text."""

    def valid(value) -> bool:
        if not isinstance(value, str) or any("\ud800" <= ch <= "\udfff" for ch in value):
            return False
        return min_length <= len(value) <= max_length

    return valid


def choice_of(*choices, null: bool = False):
    return lambda value: (null and value is None) or (isinstance(value, str) and value in choices)


def boolean(value) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return value in (0, 1)
    return isinstance(value, str) and value.lower() in BOOLEAN_WORDS


# The JSON shape: {part: {field: (required, valid)}}; then the top-level fields.
PARTS = {
    "requester": {
        "name": (True, string_of(1, MAX_NAME)),
        "language": (False, choice_of(*LANGUAGES)),
        "contact": (False, string_of(0, MAX_CONTACT)),
    },
    "recipient": {
        "name": (True, string_of(1, MAX_NAME)),
        "phone": (True, string_of(0, MAX_PHONE)),
        "city": (False, string_of(0, MAX_CITY)),
        "language": (False, choice_of(*LANGUAGES, null=True)),
    },
}
TOP = {
    "message": string_of(0, MAX_MESSAGE),
    "kind": choice_of(*KINDS),
    "urgent": boolean,
    "checkin_pin": string_of(0, MAX_PIN),
}


# Volunteers call on their own credit: a person's mobile or fixed line, in a country.
CALLABLE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def callable_number(phone: str) -> bool:
    """A Kazakh number in any usual format, or any number with its country code, that is
    a mobile or fixed line of a country (not paid, satellite or a service)."""
    if not phone or len(phone) > MAX_PHONE_TEXT:
        return False
    try:
        number = phonenumbers.parse(phone, "KZ")
    except phonenumbers.NumberParseException:
        return False
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) in CALLABLE_TYPES
        and phonenumbers.region_code_for_number(number) != "001"
    )


def expected_errors(body) -> set[str]:
    """The fields intake must name for the JSON `body`; none means it creates the request.

    First the shape (types, lengths, choices), every field at fault at once; a body or
    part that is not an object has none of its fields. Only a body of the right shape
    is then cleaned (see `documented_clean`) and checked: names left empty, texts
    over their limit once cleaned, a phone number nobody can call, a PIN that is not
    4 to 8 digits, a message to pass on that is empty.
    """
    body = body if isinstance(body, dict) else {}
    wrong = set()
    for part, fields in PARTS.items():
        if part not in body:
            wrong.add(part)
            continue
        given = body[part] if isinstance(body[part], dict) else {}
        for name, (required, valid) in fields.items():
            if (name not in given and required) or (name in given and not valid(given[name])):
                wrong.add(f"{part}.{name}")
    wrong |= {name for name, valid in TOP.items() if name in body and not valid(body[name])}
    if wrong:
        return wrong

    requester, recipient = body["requester"], body["recipient"]
    for path, value, limit, required in [
        ("requester.name", requester["name"], MAX_NAME, True),
        ("requester.contact", requester.get("contact", ""), MAX_CONTACT, False),
        ("recipient.name", recipient["name"], MAX_NAME, True),
        ("recipient.city", recipient.get("city", ""), MAX_CITY, False),
    ]:
        cleaned = documented_clean(value, multiline=False)
        if (required and not cleaned) or len(cleaned) > limit:
            wrong.add(path)
    if not callable_number(documented_clean(recipient["phone"], multiline=False)):
        wrong.add("recipient.phone")
    message = documented_clean(body.get("message", ""), multiline=True)
    if len(message) > MAX_MESSAGE or (body.get("kind") == "deliver_message" and not message):
        wrong.add("message")
    pin = documented_clean(body.get("checkin_pin", ""), multiline=False)
    if pin and not re.fullmatch(r"\d{4,8}", pin):
        wrong.add("checkin_pin")
    return wrong


def assert_answer(response, raw: bytes) -> dict:
    """The response is the one the rules give for `raw`; returns its JSON."""
    event(f"HTTP {response.status_code}")
    answer = response.json()
    if too_large(raw):
        assert response.status_code == 413, (response.status_code, answer)
        limit = django.conf.settings.BAILANYS_MAX_BODY_BYTES
        assert answer == {"detail": f"The request is too large (at most {limit} bytes)."}
        return answer
    expected = expected_errors(json.loads(raw))
    if expected:
        assert response.status_code == 422, (expected, response.status_code, answer)
        assert set(answer["errors"]) == expected, answer["errors"]
        assert all(isinstance(reason, str) and reason for reason in answer["errors"].values())
    else:
        assert response.status_code == 201, (response.status_code, answer)
    return answer


# --- Anything at all --------------------------------------------------------


@hostile
@given(body=request_ish | json_value, ascii_only=st.booleans())
def test_it_answers_any_json_with_201_422_or_413(web, body, ascii_only):
    raw = encode(body, ascii_only)
    response = post(web, raw)
    answer = assert_answer(response, raw)
    if response.status_code == 201:
        token = status_token(answer)
        assert web.get(f"/api/v1/requests/{token}").status_code == 200


PATHS = sorted(FIELDS - {"body"})


def with_field(body: dict, path: str, value) -> dict:
    """`body` with the dotted field `path` set to `value`, or removed if value is DELETE."""
    body = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    if value is DELETE:
        target.pop(last, None)
    else:
        target[last] = value
    return body


DELETE = object()


@hostile
@given(path=st.sampled_from(PATHS), value=json_value | st.just(DELETE), ascii_only=st.booleans())
def test_one_bad_field_is_named_and_nothing_else(web, path, value, ascii_only):
    raw = encode(with_field(request_body(), path, value), ascii_only)
    response = post(web, raw)
    answer = assert_answer(response, raw)
    if response.status_code == 422:
        errors = answer["errors"]
        assert all(key == path or key.startswith(f"{path}.") for key in errors), (path, errors)


@hostile
@given(key=st.text(st.characters(min_codepoint=1, max_codepoint=255), min_size=1, max_size=220))
def test_any_idempotency_key_is_accepted_once_or_refused_with_a_reason(web, key):
    body = json.dumps(request_body())
    client = next_address()  # a key is its client's: the retry comes from the same address
    first = post(web, body, headers={"Idempotency-Key": key}, address=client)
    # The documented form: 1 to 200 printable ASCII characters, no spaces.
    if len(key) > 200 or not all("!" <= ch <= "~" for ch in key):
        assert first.status_code == 422
        assert set(first.json()["errors"]) == {"Idempotency-Key"}
        return
    assert first.status_code == 201, first.content
    again = post(web, body, headers={"Idempotency-Key": key}, address=client)
    assert again.status_code == 201
    assert again.json()["request_id"] == first.json()["request_id"]


# --- Valid requests, from the outside in --------------------------------------


# Bidirectional controls (Unicode's Bidi_Control) and invisible characters: removed.
SHOWN_AS_NOTHING = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
SHOWN_AS_NOTHING |= set("\u200b\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064")


def documented_clean(text: str, *, multiline: bool) -> str:
    """The cleaning the API promises: control characters, bidi controls and invisible
    characters removed, a zero-width (non-)joiner kept only between two letters, marks
    or symbols, then NFC."""
    text = text.replace("\r\n", "\n")
    keep = "\n\t"  # in one-line fields they become spaces
    text = "".join(
        ch
        for ch in text
        if (ch in keep or unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn"))
        and ch not in SHOWN_AS_NOTHING
    )

    def joins(neighbour: str) -> bool:
        category = unicodedata.category(neighbour)
        return category[0] in "LM" or category in ("So", "Sk")

    padded = f" {text} "  # a joiner at either end joins nothing
    text = "".join(
        ch
        for before, ch, after in zip(padded, padded[1:], padded[2:], strict=False)
        if ch not in "\u200c\u200d" or (joins(before) and joins(after))
    )
    text = unicodedata.normalize("NFC", text)
    return text.strip() if multiline else " ".join(text.split())


# Letters, accents, Hangul jamo, controls, private use, bidi controls, joiners,
# emoji and line breaks side by side: where removing one character must not leave
# text un-normalised, nor a joiner that joins nothing.
tricky_text = st.lists(
    st.sampled_from(["e", "a", "\u0301", "\u0308", "\u1100", "\u1161", "\u11a8", "\x00"])
    | st.sampled_from(["\x1b", "\x7f", "\ue000", "\U000e0080", "\r", "\n", "\t", " ", "\u2028"])
    # Bidi controls, invisible characters and joiners, between letters or not.
    | st.sampled_from(["\u202e", "\u2067", "\u200f", "\u200b", "\u00ad", "\u200c", "\u200d"])
    | st.sampled_from(["\U0001f469", "\ufe0f", "\U0001f3fd"]),
    max_size=30,
).map("".join)
any_text = st.text(max_size=120) | tricky_text
person_text = any_text | st.sampled_from(["Гүлнара", "Ерлан Д."])


@st.composite
def kz_mobile(draw) -> str:
    """Ten national digits of a Kazakh mobile number, 7XXXXXXXXX."""
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    return prefix + draw(st.text("0123456789", min_size=7, max_size=7))


def written(number: str, style: int) -> str:
    n = number
    return [
        f"8 {n[:3]} {n[3:6]} {n[6:8]} {n[8:]}",
        f"+7 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
        n,
    ][style]


@settings(hostile, max_examples=50)  # four requests each: keep the file fast
@given(
    number=kz_mobile(),
    styles=st.permutations([0, 1, 2]),
    message=any_text,
    recipient=person_text,
    kind=st.sampled_from(KINDS),
    language=st.sampled_from(["en", "ru", "kk"]),
)
def test_a_valid_request_is_created_and_echoed_as_cleaned(
    web, number, styles, message, recipient, kind, language
):
    expected_name = documented_clean(recipient, multiline=False)
    assume(expected_name)
    expected_message = documented_clean(message, multiline=True)
    body = request_body(
        message=message,
        kind=kind,
        requester={"name": "Marat", "language": language},
        recipient={"name": recipient, "phone": written(number, styles[0])},
    )
    response = post(web, json.dumps(body))
    event(f"HTTP {response.status_code}")
    if kind == "deliver_message" and not expected_message:
        assert response.status_code == 422
        assert set(response.json()["errors"]) == {"message"}
        return
    assert response.status_code == 201, response.content
    created = response.json()

    status = web.get(f"/api/v1/requests/{status_token(created)}").json()
    assert status["message"] == expected_message
    assert status["recipient_name"] == expected_name
    assert status["kind"] == kind
    assert status["recipient_phone_masked"] == f"+7{number[:3]}•••••{number[-2:]}"
    page = web.get(created["status_url"])
    assert page.status_code == 200
    assert escape(expected_message) in page.content.decode()

    body["recipient"]["phone"] = written(number, styles[1])
    other = post(web, json.dumps(body))
    assert other.status_code == 201
    assert other.json()["case_id"] == created["case_id"]
    assert other.json()["request_id"] != created["request_id"]


# --- Plain cases ----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"requester": {"name": "Marat"', b"\xff\xfe{}", b"{'single': 'quotes'}", b"\x00"],
    ids=["truncated", "not-utf8", "python-not-json", "nul"],
)
def test_a_body_that_is_not_json_is_400_cannot_parse(web, raw):
    response = post(web, raw)
    assert response.status_code == 400
    assert response.json() == {"detail": "Cannot parse request body"}


def test_an_empty_body_is_422_saying_the_body_is_required(web):
    response = post(web, b"")
    assert response.status_code == 422
    assert response.json()["errors"] == {"body": "Field required"}


def test_a_70_kb_body_is_413(web):
    raw = json.dumps(request_body(message="x" * 70 * 1024))
    response = post(web, raw)
    assert response.status_code == 413
    limit = django.conf.settings.BAILANYS_MAX_BODY_BYTES
    assert limit < len(raw)
    assert response.json() == {"detail": f"The request is too large (at most {limit} bytes)."}


def test_an_idempotency_key_over_200_characters_is_422_and_200_is_fine(web):
    body = json.dumps(request_body())
    too_long = post(web, body, headers={"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422
    assert set(too_long.json()["errors"]) == {"Idempotency-Key"}
    assert post(web, body, headers={"Idempotency-Key": "k" * 200}).status_code == 201


def test_an_unknown_kind_is_422_naming_kind(web):
    response = post(web, json.dumps(request_body(kind="lottery_win")))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["kind"]


def test_a_requester_language_we_do_not_speak_is_422_naming_it(web):
    body = request_body(requester={"name": "Marat", "language": "de"})
    response = post(web, json.dumps(body))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["requester.language"]


def test_a_lone_surrogate_is_422_naming_the_field_and_nothing_is_stored(web):
    response = post(web, json.dumps(request_body(message="safe \ud800 and sound")))
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "message": "Input should be a valid string, unable to parse raw data as a unicode string"
    }
    assert not Request.objects.exists()


def test_control_characters_are_removed_and_line_breaks_kept(web):
    message = "\x1b[31mMum,\r\ncall\x00 back\x07\tplease\x7f "
    response = post(web, json.dumps(request_body(message=message)))
    assert response.status_code == 201
    status = web.get(f"/api/v1/requests/{status_token(response.json())}").json()
    assert status["message"] == "[31mMum,\ncall back\tplease"


def test_text_is_nfc_even_when_a_control_character_split_a_letter(web):
    response = post(web, json.dumps(request_body(message="Caf\u0065\x00\u0301 Almaty")))
    assert response.status_code == 201
    status = web.get(f"/api/v1/requests/{status_token(response.json())}").json()
    assert status["message"] == "Caf\u00e9 Almaty"


def test_an_idempotency_key_with_nul_is_422_naming_the_header(web):
    response = post(web, json.dumps(request_body()), headers={"Idempotency-Key": "abc\x00def"})
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "Idempotency-Key": "Use 1 to 200 printable ASCII characters, no spaces."
    }
    assert not Request.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/requests/%00", "/s/%00/", "/s/abc%00def/"])
def test_a_status_token_with_nul_is_404(web, path):
    assert web.get(path).status_code == 404
