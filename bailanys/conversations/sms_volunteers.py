"""Volunteers who work by SMS alone: NEXT, then "<code> OK <their reply>" and friends.

The same services as the web console, so the same leases and access rules: a
suspended account gets nothing; a case is theirs only while their lease lasts.

Every answer is in the volunteer's language: the language of the command word they used
(ДАЛЕЕ: Russian, КЕЛЕСІ: Kazakh, NEXT: English), else the last one they used, else the
console's language when they registered the phone. Commands are idempotent by state: NEXT
while holding a case gives that case again; "<code> OK" for an outcome already saved says
so.
"""

import re

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.conversations.models import SmsVolunteer
from bailanys.privacy.audit import actor_label
from bailanys.privacy.crypto import blind_index
from bailanys.privacy.ratelimit import Throttled
from bailanys.proxies.services import key_for_number, proxy_vouch, too_many_vouches
from bailanys.relay import selectors
from bailanys.relay import services as relay
from bailanys.relay.models import Attempt

NEXT_WORDS = {"next": "en", "далее": "ru", "дальше": "ru", "келесі": "kk", "kelesi": "kk"}
HELP_WORDS = {"help": "en", "помощь": "ru", "көмек": "kk", "komek": "kk", "?": ""}
# VOUCH <number>: that number gets the trusted pool of proxies (docs/proxies.md).
VOUCH_WORDS = {"vouch": "en", "ручаюсь": "ru", "кепіл": "kk", "kepil": "kk"}
LANGUAGES = ("en", "ru", "kk")
CODES = {
    "ok": "reached",
    "ок": "reached",  # Cyrillic, typed on a Russian or Kazakh keyboard
    "na": "no_answer",
    "busy": "busy",
    "off": "switched_off",
    "wrong": "wrong_number",
    "esc": "escalate",
}
COMMAND_RE = re.compile(
    r"^\s*c?(\d{1,9})\s+(ok|ок|na|busy|off|wrong|esc)\b[\s,.:;-]*(.*)$", re.IGNORECASE | re.DOTALL
)


def _key(e164: str) -> str:
    return blind_index(f"sms-volunteer:{e164}")


class PhoneTaken(Exception):
    pass


def volunteer_phone_set(*, user, raw: str, language: str | None = None) -> str:
    """Register (or change) the volunteer's phone. Raises phones.InvalidPhone or PhoneTaken.

    `language`: what their SMS are written in until they use a command word; by default the
    language active now (the console's, when they register in it)."""
    number = phones.normalize(raw)
    language = language or translation.get_language() or ""
    language = language if language in LANGUAGES else "ru"
    try:
        with transaction.atomic():
            SmsVolunteer.objects.update_or_create(
                user=user,
                defaults={"number": number, "number_key": _key(number), "language": language},
            )
    except IntegrityError:
        raise PhoneTaken(number) from None
    return number


def volunteer_for(sender_e164: str) -> SmsVolunteer | None:
    """The SMS-only volunteer who registered this phone, or None."""
    return SmsVolunteer.objects.filter(number_key=_key(sender_e164)).select_related("user").first()


def volunteer_help() -> str:
    return (
        _(
            "NEXT: a case. Then: CODE OK their words / CODE NA (no answer) / BUSY / OFF / "
            "WRONG / ESC (to a coordinator)."
        )
        + " "
        + _("VOUCH number: it gets the trusted proxies.")
    )


def volunteer_sms(volunteer: SmsVolunteer, text: str) -> str | None:
    """The answer to a volunteer's SMS, in their language, or None when it is not a
    volunteer command."""
    words = text.strip().split()
    first = words[0].strip(".,!:;").casefold() if words else ""
    first = first if first == "?" else first.rstrip("?")
    command = COMMAND_RE.match(text)
    if first in VOUCH_WORDS and len(words) > 1:
        return _vouch(volunteer, VOUCH_WORDS[first], text.strip()[len(words[0]) :])
    if first not in NEXT_WORDS and first not in HELP_WORDS and command is None:
        return None
    said_in = NEXT_WORDS.get(first) or HELP_WORDS.get(first) or ""
    if said_in and said_in != volunteer.language:
        SmsVolunteer.objects.filter(pk=volunteer.pk).update(language=said_in)
    language = said_in or volunteer.language or "ru"
    with translation.override(language):
        return _answer(volunteer.user, first, command)


def _answer(user, first: str, command) -> str:
    if not user.is_active:
        return _("Your volunteer account is not active.")
    if first in HELP_WORDS:
        return volunteer_help()
    if command is None:
        try:
            # NEXT while holding a case gives the same case again.
            claim = relay.claim_active_for(user) or relay.case_claim_next(volunteer=user)
        except relay.NeedsTalk:
            return _("A coordinator will talk with you first.")
        if claim is None:
            return _("No case is waiting. Thank you — try again in a few minutes.")
        view = selectors.case_get_for_volunteer(claim_id=claim.pk, volunteer=user)
        # The template puts its own full stop after it: a message ending "волнуйтесь."
        # must not read "волнуйтесь.. Then".
        said = " / ".join(m.message.rstrip(" .!?…") for m in view.messages if m.message) or _(
            "(check they are safe)"
        )
        return _(
            "%(code)s: call %(name)s %(phone)s. Say: %(said)s. "
            "Then %(code)s OK their words, or %(code)s NA"
        ) % {
            "code": claim.pk,
            "name": view.recipient_name,
            "phone": view.recipient_phone_display,
            "said": said,
        }
    claim_id, code, rest = int(command.group(1)), command.group(2).lower(), command.group(3)
    try:
        relay.claim_record_outcome(
            claim_id=claim_id,
            volunteer=user,
            outcome=CODES[code],
            reply=rest.strip() if CODES[code] == "reached" else "",
            note="" if CODES[code] == "reached" else rest.strip(),
        )
    except relay.InputError as exc:
        return "; ".join(str(v) for v in exc.errors.values())
    except (relay.NotYourClaim, relay.ClaimEnded):
        if Attempt.objects.filter(claim_id=claim_id, volunteer=user, outcome=CODES[code]).exists():
            # The same outcome sent again (a repeat, or the gateway's re-delivery).
            return _("Case %(code)s: already saved. NEXT for another case.") % {"code": claim_id}
        return _("Case %(code)s is not yours any more. Send NEXT for another.") % {"code": claim_id}
    return _("Saved. Thank you. NEXT for another case.")


def _vouch(volunteer: SmsVolunteer, said_in: str, raw: str) -> str:
    """VOUCH <number> (РУЧАЮСЬ, КЕПІЛ): the volunteer knows this person; the number gets
    the trusted pool of proxies."""
    if said_in != volunteer.language:
        SmsVolunteer.objects.filter(pk=volunteer.pk).update(language=said_in)
    with translation.override(said_in):
        if not volunteer.user.is_active:
            return _("Your volunteer account is not active.")
        try:
            # Any number that can have Telegram: no refusal of paid or service kinds.
            number = phones.normalize(raw, any_type=True)
        except phones.InvalidPhone as exc:
            return str(exc) + " " + _("Send: VOUCH number.")
        masked = phones.masked(number, plain=True)
        try:
            new = proxy_vouch(key_for_number(number), actor=actor_label(volunteer.user))
        except Throttled:
            return too_many_vouches()
        if not new:
            return _("Already vouched: %(number)s.") % {"number": masked}
        return _("Vouched: %(number)s. It gets the trusted proxies.") % {"number": masked}
