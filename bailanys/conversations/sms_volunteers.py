"""Volunteers who work by SMS alone: NEXT, then "<code> OK <their reply>" and friends.

The same services as the web console, so the same leases and access rules: a
suspended account gets nothing; a case is theirs only while their lease lasts.
"""

import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.conversations.models import SmsVolunteer
from bailanys.privacy.crypto import blind_index
from bailanys.relay import selectors
from bailanys.relay import services as relay

NEXT_WORDS = {"next", "далее", "дальше", "келесі", "kelesi"}
HELP_WORDS = {"help", "помощь", "көмек", "komek", "?"}
CODES = {
    "ok": "reached",
    "na": "no_answer",
    "busy": "busy",
    "off": "switched_off",
    "wrong": "wrong_number",
    "esc": "escalate",
}
COMMAND_RE = re.compile(
    r"^\s*c?(\d{1,9})\s+(ok|na|busy|off|wrong|esc)\b[\s,.:;-]*(.*)$", re.IGNORECASE | re.DOTALL
)


def _key(e164: str) -> str:
    return blind_index(f"sms-volunteer:{e164}")


class PhoneTaken(Exception):
    pass


def volunteer_phone_set(*, user, raw: str) -> str:
    """Register (or change) the volunteer's phone. Raises phones.InvalidPhone or PhoneTaken."""
    number = phones.normalize(raw)
    try:
        with transaction.atomic():
            SmsVolunteer.objects.update_or_create(
                user=user, defaults={"number": number, "number_key": _key(number)}
            )
    except IntegrityError:
        raise PhoneTaken(number) from None
    return number


def volunteer_for(sender_e164: str):
    found = SmsVolunteer.objects.filter(number_key=_key(sender_e164)).select_related("user").first()
    return found.user if found else None


def volunteer_help() -> str:
    return _(
        "NEXT: a case. Then: CODE OK their words / CODE NA (no answer) / BUSY / OFF / "
        "WRONG / ESC (to a coordinator)."
    )


def volunteer_sms(user, text: str) -> str | None:
    """The answer to a volunteer's SMS, or None when it is not a volunteer command."""
    words = text.strip().split()
    first = words[0].strip(".,!?:;").casefold() if words else ""
    command = COMMAND_RE.match(text)
    if first not in NEXT_WORDS and first not in HELP_WORDS and command is None:
        return None
    if not user.is_active:
        return _("Your volunteer account is not active.")
    if first in HELP_WORDS:
        return volunteer_help()
    if command is None:
        try:
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
            reply=rest.strip() if code == "ok" else "",
            note="" if code == "ok" else rest.strip(),
        )
    except relay.InputError as exc:
        return "; ".join(str(v) for v in exc.errors.values())
    except (relay.NotYourClaim, relay.ClaimEnded):
        return _("Case %(code)s is not yours any more. Send NEXT for another.") % {"code": claim_id}
    return _("Saved. Thank you. NEXT for another case.")
