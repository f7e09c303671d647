"""Names and messages that look like text but hide something (issue 16, item 8).

Right-to-left overrides turn "Gulnara" into something that reads as another name;
a name of zero-width characters looks filled in and says nothing; a form post in
bytes that are not UTF-8 would be stored as U+FFFD. Each goes through the API or
the public form, as it would arrive.
"""

import unicodedata
from html import unescape
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from bailanys.relay.models import Request
from bailanys.relay.services import clean_text
from tests.conftest import (
    Api,
    Browser,
    html,
    make_volunteer,
    next_address,
    request_body,
    status_token,
)
from tests.test_web_flow import FORM, field_block

BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INVISIBLE = set("\u200b\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064")
JOINERS = set("\u200c\u200d")
RLO, PDF, ZWJ, ZWNJ = "\u202e", "\u202c", "\u200d", "\u200c"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man, woman, girl: one emoji
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want", with a ZWNJ


def create(api: Api, **overrides):
    return api.post("/requests", request_body(**overrides))


def status_of(api: Api, response) -> dict:
    assert response.status_code == 201, response.content
    return api.get(f"/requests/{status_token(response.json())}").json()


# --- The API --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_right_to_left_override_is_taken_out_of_the_recipient_name():
    api = Api(address=next_address())
    status = status_of(
        api, create(api, recipient={"name": f"{RLO}anraluG", "phone": "87012345678"})
    )
    assert status["recipient_name"] == "anraluG"


@pytest.mark.django_db
def test_bidi_controls_are_taken_out_of_the_requester_name_the_volunteer_reads():
    api = Api(address=next_address())
    name = f"Marat{RLO}exe.gpj{PDF} \u2067Д\u2069\u200f"
    assert create(api, requester={"name": name, "language": "en"}).status_code == 201
    _name, token = make_volunteer()
    case = Api(token).post("/claims")
    assert case.status_code == 200, case.content
    assert [m["requester_name"] for m in case.json()["messages"]] == ["Maratexe.gpj Д"]


@pytest.mark.django_db
@pytest.mark.parametrize("part", ["requester", "recipient"])
@pytest.mark.parametrize(
    "name",
    ["\u200b", "\u200b\u200c\u200d", RLO, "\u2066\u2069", "\ufeff \u00ad", "\u200e\u2060\u180e"],
    ids=["zwsp", "zw-joiners", "rlo", "isolates", "bom-shy", "lrm-wj-mvs"],
)
def test_a_name_of_invisible_characters_only_is_422_naming_the_field(part, name):
    api = Api(address=next_address())
    body = request_body()
    body[part]["name"] = name
    response = api.post("/requests", body)
    assert response.status_code == 422, response.content
    assert response.json()["errors"] == {f"{part}.name": "This field is required."}
    assert not Request.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["Әлия Қасымова", "Ғалым Өмірұлы", "Гүлнара 🌷", f"Апа {FAMILY}", "👩🏽‍💻 Айгерім", PERSIAN],
)
def test_emoji_kazakh_and_persian_names_come_back_unchanged(name):
    api = Api(address=next_address())
    status = status_of(api, create(api, recipient={"name": name, "phone": "87012345678"}))
    assert status["recipient_name"] == name


@pytest.mark.django_db
def test_joined_emoji_and_persian_keep_their_joiners_in_a_message():
    api = Api(address=next_address())
    message = f"{FAMILY} all safe\n{RAINBOW_FLAG}\n{PERSIAN}"
    assert status_of(api, create(api, message=message))["message"] == message


@pytest.mark.django_db
def test_a_joiner_that_joins_nothing_is_dropped():
    api = Api(address=next_address())
    message = f"{ZWJ}Mum{ZWNJ} call{ZWJ}. {ZWJ}{ZWJ}"
    assert status_of(api, create(api, message=message))["message"] == "Mum call."


# --- What clean_text promises, for any text ----------------------------------------


def joins(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM" or unicodedata.category(ch) in ("So", "Sk")


@settings(max_examples=400, deadline=None, database=None)
@given(
    text=st.text()
    | st.lists(
        st.sampled_from(sorted(BIDI_CONTROLS | INVISIBLE | JOINERS))
        | st.sampled_from(["a", "ы", "\u0301", "\U0001f469", "\ufe0f", " ", "\n", "1", "\x00"]),
        max_size=20,
    ).map("".join),
    multiline=st.booleans(),
)
def test_clean_text_never_keeps_a_bidi_control_or_a_lone_joiner(text, multiline):
    cleaned = clean_text(text, multiline=multiline)
    assert not (set(cleaned) & (BIDI_CONTROLS | INVISIBLE))
    for i, ch in enumerate(cleaned):
        if ch in JOINERS:
            assert 0 < i < len(cleaned) - 1, repr(cleaned)
            assert joins(cleaned[i - 1]) and joins(cleaned[i + 1]), repr(cleaned)
    assert clean_text(cleaned, multiline=multiline) == cleaned
    # What people type is left alone.
    plain = "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN" or ch == " ")
    plain = " ".join(plain.split())
    if plain == unicodedata.normalize("NFC", plain):
        assert clean_text(plain) == plain


# --- The web form ----------------------------------------------------------------


def form_post(data: dict, raw_extra: bytes = b""):
    """The intake form as a browser posts it, urlencoded, plus raw bytes of our own."""
    body = "&".join(f"{quote(k)}={quote(v)}" for k, v in data.items()).encode() + raw_extra
    return Client(REMOTE_ADDR=next_address()).generic(
        "POST", "/", body, content_type="application/x-www-form-urlencoded"
    )


@pytest.mark.django_db
def test_the_form_takes_a_right_to_left_override_out_of_the_name():
    response = form_post({**FORM, "recipient_name": f"{RLO}anraluG"})
    assert response.status_code == 302, html(response)
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert Api().get(f"/requests/{token}").json()["recipient_name"] == "anraluG"


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["recipient_name", "requester_name"])
def test_the_form_refuses_a_name_of_zero_width_characters(field):
    response = form_post({**FORM, field: "\u200b\u200d\u2060"})
    assert response.status_code == 422
    assert "This field is required." in unescape(field_block(html(response), field))
    assert not Request.objects.exists()


NOT_UTF8 = "This text was not sent as valid UTF-8. Check it and send it again."


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [b"Mum \xff\xfe call", b"Mum %FF%FE call", b"%D0%9C%D0%B0%D0", b"caf\xe9"],
    ids=["raw-bytes", "percent-escaped", "cut-cyrillic", "latin-1"],
)
def test_the_form_refuses_a_message_that_is_not_utf8_and_keeps_the_rest(raw):
    fields = {**FORM, "recipient_name": "Гүлнара Сәдуақасова"}
    del fields["message"]
    response = form_post(fields, b"&message=" + raw)
    assert response.status_code == 422
    page = unescape(html(response))
    assert NOT_UTF8 in field_block(page, "message")
    assert "\ufffd" not in page
    assert 'value="Гүлнара Сәдуақасова"' in field_block(page, "recipient_name")
    assert not Request.objects.exists()


@pytest.mark.django_db
def test_the_form_refuses_bytes_that_are_not_utf8_outside_its_fields():
    response = form_post(FORM, b"&stray=\xc3\x28")
    assert response.status_code == 422
    assert NOT_UTF8 in unescape(html(response))
    assert not Request.objects.exists()


@pytest.mark.django_db
def test_the_form_takes_a_real_replacement_character_sent_as_utf8():
    # U+FFFD typed (or pasted) and sent as valid UTF-8 is text like any other.
    response = form_post({**FORM, "message": "Mum \ufffd call"})
    assert response.status_code == 302, html(response)


def multipart(fields: dict, raw: dict[str, bytes]) -> bytes:
    parts = [(k, v.encode()) for k, v in fields.items()] + list(raw.items())
    body = b""
    for name, value in parts:
        body += b'--XX\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
            name.encode(),
            value,
        )
    return body + b"--XX--\r\n"


@pytest.mark.django_db
def test_a_multipart_form_post_that_is_not_utf8_is_refused_too():
    # Django's test client, and a browser told to, post the form as multipart/form-data;
    # CSRF is checked as in production (the check reads the form before the view does).
    browser = Browser()
    browser.get("/")
    fields = {**FORM, "recipient_name": "Гүлнара", "csrfmiddlewaretoken": browser.csrf}
    del fields["message"]
    response = browser.client.generic(
        "POST",
        "/",
        multipart(fields, {"message": b"Mum \xff call"}),
        content_type="multipart/form-data; boundary=XX",
    )
    assert response.status_code == 422
    page = unescape(html(response))
    assert NOT_UTF8 in field_block(page, "message")
    assert "Mum  call" in field_block(page, "message")
    assert 'value="Гүлнара"' in field_block(page, "recipient_name")
    assert not Request.objects.exists()
