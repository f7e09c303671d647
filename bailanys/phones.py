"""Phone numbers: every number in Bailanys goes through here.

Numbers are parsed with `phonenumbers` (default region KZ, so `8 701 234 56
78`, `701 234 5678` and `+7 (701) 234-56-78` are the same number) and stored
in E.164.
"""

import functools

import phonenumbers
from django.utils.translation import gettext as _

DEFAULT_REGION = "KZ"
MAX_INPUT_LENGTH = 40


class InvalidPhone(ValueError):
    """The text is not a phone number we can call; the message says why."""


def normalize(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form of `raw`, or raise InvalidPhone with a reason."""
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
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str) -> str:
    """International format for people to read and dial."""
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def masked(e164: str) -> str:
    """Enough of the number for its owner to recognise it, no more."""
    return f"{e164[:-7]}•••••{e164[-2:]}" if len(e164) > 7 else "•••"


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
