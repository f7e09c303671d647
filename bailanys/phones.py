"""Phone numbers: every number in Bailanys goes through here.

Numbers are parsed with `phonenumbers` (default region KZ, so `8 701 234 56
78`, `701 234 5678` and `+7 (701) 234-56-78` are the same number) and stored
in E.164.

A number we would call or text out to (a recipient, a requester's contact, an SMS
volunteer's own phone) must also be one a volunteer can call cheaply and reach a
person on: mobile or fixed line. Paid, satellite and service numbers are refused
(see `refusal`). A number that wrote to us, or a gateway's own, only has to be
valid (`any_type=True`).
"""

import functools

import phonenumbers
from django.utils.translation import gettext as _

DEFAULT_REGION = "KZ"
MAX_INPUT_LENGTH = 40


# Volunteers call on their own credit: only these reach a person at a normal price.
# FIXED_LINE_OR_MOBILE is what phonenumbers says where the two share ranges (+1).
CALLABLE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)
# Lines that answer no one's own phone: free-phone (often unreachable from abroad),
# company-wide (UAN), pagers, voicemail, and internet telephony (VOIP), which does
# not ring while the internet is cut.
SERVICE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.UAN,
        phonenumbers.PhoneNumberType.PAGER,
        phonenumbers.PhoneNumberType.VOICEMAIL,
        phonenumbers.PhoneNumberType.VOIP,
    }
)
# phonenumbers' region for country codes of no country: +870 (Inmarsat), +881
# (satellite), +882/+883 (international networks), +878, +888, +979 (premium), +800,
# +808. Their "mobile" numbers cost a volunteer dollars a minute.
NON_GEOGRAPHIC = "001"


class InvalidPhone(ValueError):
    """The text is not a phone number we can call; the message says why."""


def refusal(number: phonenumbers.PhoneNumber) -> str:
    """Why a valid number is not one a volunteer can call, or "" when it is.

    Premium-rate, shared-cost and personal (follow-me, often premium-priced) numbers
    and every non-geographic one (satellite above all) cost the caller too much;
    free-phone, UAN, pager, voicemail and VOIP numbers reach no one's own phone.
    """
    kind = phonenumbers.number_type(number)
    if kind in CALLABLE_TYPES and phonenumbers.region_code_for_number(number) != NON_GEOGRAPHIC:
        return ""
    if kind in SERVICE_TYPES:
        return _(
            "This is a free-phone, service or internet number, not a person's own phone. "
            "Give a mobile or home number."
        )
    return _(
        "This is a paid or satellite number: volunteers call and text on their own credit, "
        "so we cannot use it. Give a mobile or home number."
    )


def normalize(raw: str, *, region: str = DEFAULT_REGION, any_type: bool = False) -> str:
    """Return the E.164 form of `raw`, or raise InvalidPhone with a reason.

    A valid number of a kind volunteers may not call (`refusal`) is refused too, unless
    `any_type`: for a number that wrote to us, a gateway's own, or an address that was
    accepted when it came in.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(_("Enter a phone number."))
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidPhone(_("This is too long to be a phone number."))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(_("This is not a phone number.")) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_("No phone number looks like this. Check the digits."))
    reason = "" if any_type else refusal(number)
    if reason:
        raise InvalidPhone(reason)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str) -> str:
    """International format for people to read and dial."""
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def masked(e164: str, *, plain: bool = False) -> str:
    """Enough of the number for its owner to recognise it, no more.

    `plain`: with "*" instead of "•", for text that may go by SMS ("•" is not in the GSM
    alphabet: one would make an English SMS cost twice as many parts).
    """
    dot = "*" if plain else "•"
    return f"{e164[:-7]}{dot * 5}{e164[-2:]}" if len(e164) > 7 else dot * 3


def operator(e164: str) -> str:
    """The mobile operator a number was issued to (phonenumbers' carrier data), or "".

    Ported numbers keep their original operator here: good enough to prefer a
    volunteer whose tariff makes the call cheap, never used to refuse one.
    """
    from phonenumbers import carrier

    try:
        return carrier.name_for_number(phonenumbers.parse(e164), "en")
    except phonenumbers.NumberParseException:
        return ""


@functools.cache
def operators(region: str = DEFAULT_REGION) -> list[str]:
    """The mobile operators of a region, for volunteers to say which they call cheaply."""
    from phonenumbers import carrier

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    names = set()
    if metadata is not None and example is not None:
        national = str(example.national_number)
        for prefix in range(1000):
            candidate = f"{prefix:03d}{national[3:]}"
            number = phonenumbers.PhoneNumber(
                country_code=example.country_code, national_number=int(candidate)
            )
            if phonenumbers.is_valid_number_for_region(number, region):
                names.add(carrier.name_for_number(number, "en"))
    return sorted(name for name in names if name)
