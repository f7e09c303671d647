"""Input as people and programs send it: cleaned, checked, every bad field named."""

import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.accounts.models import User
from bailanys.parsing.lang import detect
from bailanys.parsing.safe import kazakh_written
from bailanys.privacy.crypto import blind_index
from bailanys.relay.models import (
    LANGUAGE_CHOICES,
    Kind,
)

LANGUAGES = [code for code, _name in LANGUAGE_CHOICES]
MAX_NAME = 200
MAX_CITY = 100
MAX_CONTACT = 200
MAX_MESSAGE = 2000
MAX_REPLY = 2000
MAX_NOTE = 1000
# A longer call is a typo (or a timer left running): the volunteer can type the real figure.
MAX_CALL_MINUTES = 600


def written_in(message: str) -> str:
    """ "ru" or "kk" when the message is plainly written in it, else ""."""
    if not message:
        return ""
    found = detect(message)
    if found in ("ru", "mixed") and kazakh_written(message):
        return "kk"
    return found if found in ("ru", "kk") else ""


class InputError(Exception):
    """Input that cannot be accepted; `errors` maps a dotted field name to a reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class IdempotencyConflict(Exception):
    """The same Idempotency-Key came with a different request body."""


class NotYourClaim(Exception):
    """The claim belongs to somebody else (or does not exist): nothing was changed."""


class ClaimEnded(Exception):
    """The claim is no longer active (outcome recorded, released or lease lost)."""


class NotCoordinator(PermissionDenied, NotYourClaim):
    """Only a coordinator may do this. A PermissionDenied; a NotYourClaim too, so that a
    page which tells anyone else "no such thing" (404) still does."""


def require_coordinator(user: User, object_id: object = 0) -> None:
    """The one check of every coordinator-only service: an active coordinator, or raise."""
    if not (user.is_active and user.is_coordinator):
        raise NotCoordinator(object_id)


@dataclass(frozen=True)
class RequestInput:
    requester_name: str
    requester_language: str
    requester_contact: str
    recipient_name: str
    recipient_phone: str
    recipient_city: str
    recipient_language: str
    message: str
    kind: str
    urgent: bool
    checkin_pin: str = ""


PIN_RE = re.compile(r"\d{4,8}")


def pin_hash(phone_e164: str, pin: str) -> str:
    """Keyed, like the blind index: a 4-digit PIN is guessed at once from a plain hash."""
    return blind_index(f"checkin-pin:{phone_e164}:{pin}")


def too_long(limit: int, text: str) -> str:
    return _("Too long: at most %(limit)d characters (this has %(n)d).") % {
        "limit": limit,
        "n": len(text),
    }


# Characters that change how text is shown and say nothing themselves: the
# bidirectional controls (an RLO makes "Gulnara" read as another name, "gpj.exe"
# as "exe.jpg"), and invisible ones that make an empty name look filled in.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
INVISIBLE = frozenset("\u00ad\u180e\u200b\u2060\u2061\u2062\u2063\u2064\ufeff")
# Zero-width non-joiner and joiner: Persian words and emoji sequences need them.
JOINERS = frozenset("\u200c\u200d")


def _joins(ch: str) -> bool:
    """A character a joiner may sit beside: a letter, a mark (an emoji's variation
    selector, a virama) or a symbol (an emoji, a skin tone)."""
    category = unicodedata.category(ch)
    return category[0] in "LM" or category in ("So", "Sk")


def clean_text(value: object, *, multiline: bool = False) -> str:
    """Text as a person typed it, minus what no person types.

    Control characters (NUL, escape sequences…) and lone surrogates carry no
    meaning, break databases and terminals, and are dropped; so are the
    bidirectional controls and invisible characters (zero-width space, word
    joiner, BOM, soft hyphen…). A zero-width joiner or non-joiner stays only
    between two letters, marks or symbols, where it joins something. Line
    breaks are kept in multi-line fields.
    """
    if value is None:
        return ""
    keep = "\n\t"  # in one-line fields they become spaces below
    kept = [
        ch
        for ch in str(value).replace("\r\n", "\n")
        if (ch in keep or unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn"))
        and ch not in BIDI_CONTROLS
        and ch not in INVISIBLE
    ]
    text = "".join(
        ch
        for i, ch in enumerate(kept)
        if ch not in JOINERS
        or (0 < i < len(kept) - 1 and _joins(kept[i - 1]) and _joins(kept[i + 1]))
    )
    # Normalise after dropping: a control character may have split a letter
    # from its accent.
    text = unicodedata.normalize("NFC", text)
    if not multiline:
        text = " ".join(text.split())
    return text.strip()


def request_check(data: dict) -> RequestInput:
    """Validate a request as the API and the form both submit it.

    `data` has the API's shape: {requester: {name, language, contact},
    recipient: {name, phone, city, language}, message, kind, urgent}. Raises
    InputError naming every bad field at once.
    """
    errors: dict[str, str] = {}
    requester = data.get("requester") or {}
    recipient = data.get("recipient") or {}
    if not isinstance(requester, dict):
        errors["requester"] = _("Must be an object.")
        requester = {}
    if not isinstance(recipient, dict):
        errors["recipient"] = _("Must be an object.")
        recipient = {}

    def text(field: str, raw: object, limit: int, *, required: bool, multiline=False) -> str:
        value = clean_text(raw, multiline=multiline)
        if required and not value:
            errors[field] = _("This field is required.")
        elif len(value) > limit:
            errors[field] = too_long(limit, value)
        return value

    def language(field: str, raw: object, default: str) -> str:
        value = clean_text(raw).lower() or default
        if value not in LANGUAGES:
            errors[field] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(LANGUAGES)}
        return value

    requester_name = text("requester.name", requester.get("name"), MAX_NAME, required=True)
    requester_language = language("requester.language", requester.get("language"), "en")
    requester_contact = text(
        "requester.contact", requester.get("contact"), MAX_CONTACT, required=False
    )
    recipient_name = text("recipient.name", recipient.get("name"), MAX_NAME, required=True)
    recipient_city = text("recipient.city", recipient.get("city"), MAX_CITY, required=False)
    message = text("message", data.get("message"), MAX_MESSAGE, required=False, multiline=True)
    # Not given (Telegram, SMS, the API without it): the language the message is written in,
    # so that a Russian message is not sent with a Kazakh sign-off; else the requester's.
    recipient_language = language(
        "recipient.language",
        recipient.get("language"),
        written_in(message) or (requester_language if requester_language != "en" else "ru"),
    )
    phone = ""
    try:
        phone = phones.normalize(clean_text(recipient.get("phone")))
    except phones.InvalidPhone as exc:
        errors["recipient.phone"] = str(exc)
    kind = clean_text(data.get("kind")) or Kind.WELFARE_CHECK
    if kind not in Kind.values:
        errors["kind"] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(Kind.values)}
    urgent = data.get("urgent", False)
    if urgent in (None, ""):
        urgent = False
    if not isinstance(urgent, bool):
        errors["urgent"] = _("Must be true or false.")
    pin = clean_text(data.get("checkin_pin"))
    if pin and not PIN_RE.fullmatch(pin):
        errors["checkin_pin"] = _("A PIN is 4 to 8 digits.")
    if kind == Kind.DELIVER_MESSAGE and not message and "message" not in errors:
        errors["message"] = _("Write the message to pass on.")
    if errors:
        raise InputError(errors)
    return RequestInput(
        requester_name=requester_name,
        requester_language=requester_language,
        requester_contact=requester_contact,
        recipient_name=recipient_name,
        recipient_phone=phone,
        recipient_city=recipient_city,
        recipient_language=recipient_language,
        message=message,
        kind=kind,
        urgent=urgent,
        checkin_pin=pin,
    )
