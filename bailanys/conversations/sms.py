"""What people say to us by SMS: keywords, answers, check-ins and requests in free text.

The SMS channel hands over each whole text it received from a phone number as a
TextReceived event; this decides what it means. An SMS-only volunteer's command comes
first (bailanys.conversations.sms_volunteers), then PROXY / NOWORK (Telegram proxies:
bailanys.conversations.proxies), then SUB / CHECK (bulletins:
bailanys.conversations.bulletins), then STATUS (what works now:
bailanys.conversations.network), then STOP / START / HELP / SAFE / FIND in Russian,
Kazakh or English, then an answer quoting a bridge reference (perhaps from a neighbour's
phone), then a safe check-in ("Аманмын", "Я жив": bailanys.parsing.safe), then an answer
to a bridge SMS, then a request.
"""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from bailanys.channels.events import TextReceived
from bailanys.channels.sms.adapter import sms_start, sms_stop
from bailanys.conversations.bridge import Reply, bridge_reply, reference
from bailanys.conversations.bulletins import bulletin_sms, sms_unsubscribe
from bailanys.conversations.network import status_sms
from bailanys.conversations.proxies import proxy_sms
from bailanys.conversations.sms_volunteers import volunteer_for, volunteer_sms
from bailanys.outbox.services import outbox_add
from bailanys.parsing.lang import detect
from bailanys.parsing.safe import Checkin, kazakh_written, safe_checkin
from bailanys.privacy.ratelimit import Limit, Throttled, rate_limit_hit
from bailanys.relay.models import Attempt, Resolution
from bailanys.relay.services import (
    case_close_by_sms,
    cases_open_for_number,
    cases_reopen_after_help,
)
from bailanys.relay.services.posts import post_ingest

HELP_WORDS = {"help": "en", "помощь": "ru", "помогите": "ru", "көмек": "kk", "komek": "kk"}
STOP_WORDS = {"stop": "en", "стоп": "ru", "тоқта": "kk", "тоқтат": "kk", "токтат": "kk"}
START_WORDS = {"start": "en", "старт": "ru"}
FIND_WORDS = {"find": "en", "найти": "ru", "найдите": "ru", "іздеу": "kk", "izdeu": "kk"}


def _language(text: str, keyword_language: str | None = None) -> str:
    """The language to answer in: the keyword's, else the one the SMS is written in."""
    if keyword_language:
        return keyword_language
    if not text.strip():
        return "ru"
    found = detect(text)
    if found in ("ru", "mixed") and kazakh_written(text):
        return "kk"  # "Аманмын, рахмет": Kazakh, though few of its words are known
    return found if found in ("ru", "kk", "en") else "ru"


def _say(inbound: TextReceived, n: int, text: str) -> None:
    outbox_add(
        channel="sms",
        address=inbound.sender,
        body=text,
        idempotency_key=f"sms-in:{inbound.message_id}:{n}",
    )


def help_text() -> str:
    return _(
        "Bailanys: write who to call, their number and what to say. STOP: no more SMS. "
        "Volunteers never ask for money."
    )


def _thank(inbound: TextReceived, language: str) -> None:
    with translation.override(language):
        _say(inbound, 0, _("Thank you. Your answer was passed on."))


def sms_received(inbound: TextReceived) -> None:
    """Act on one whole SMS from a phone number: a volunteer's command, a keyword, an answer
    to a bridge SMS, or a request in free text. Every answer is in the sender's language."""
    text = inbound.text
    volunteer = volunteer_for(inbound.sender)
    if volunteer is not None:
        answer = volunteer_sms(volunteer, text)
        if answer is not None:
            _say(inbound, 0, answer)
            return
    # PROXY / NOWORK, the whole SMS: never a request ("Прокси" is no one to call).
    if proxy_sms(inbound, text):
        return
    # SUB [city] / CHECK <code> (verified bulletins), never a request.
    if bulletin_sms(inbound, text):
        return
    # STATUS: what works now for this number's operator and region, never a request.
    if status_sms(inbound, text):
        return
    words = text.strip().split()
    first = words[0].strip(".,!?:;").casefold() if words else ""
    if first in STOP_WORDS and len(words) == 1:
        sms_stop(inbound.sender_key)
        sms_unsubscribe(inbound.sender)  # and no bulletin more, not even one being sent
        with translation.override(STOP_WORDS[first]):
            # The last SMS this number gets: sent although it said STOP.
            outbox_add(
                channel="sms",
                address=inbound.sender,
                body=_("You will get no more SMS from Bailanys. Send START to undo."),
                idempotency_key=f"sms-in:{inbound.message_id}:0",
                options={"stop_confirmation": True},
            )
        return
    if first in START_WORDS and len(words) == 1:
        sms_start(inbound.sender_key)
        with translation.override(START_WORDS[first]):
            _say(inbound, 0, help_text())
        return
    if first in HELP_WORDS or not words:
        with translation.override(HELP_WORDS.get(first) or _language(text)):
            if cases_reopen_after_help(inbound.sender):
                _say(inbound, 0, _("Volunteers will call you soon."))
            else:
                _say(inbound, 0, help_text())
        return
    checkin = safe_checkin(text)
    quoted = reference(text)
    if quoted is not None:
        # "B12 бәрі жақсы": an answer to the bridge SMS B12, perhaps from a neighbour's
        # phone; never a check-in for the number it came from.
        replied = bridge_reply(inbound.sender, text)
        if replied in (Reply.RELAYED, Reply.OTHER_NUMBER):
            found = safe_checkin(quoted[1])
            _thank(inbound, found.language if found else _language(quoted[1] or text))
            return
        if replied == Reply.REFUSED:
            with translation.override(_language(quoted[1] or text)):
                _say(inbound, 0, help_text())
            return
    if checkin is not None:
        # "Живы, всё хорошо" from a number we texted answers our SMS: relay all of it.
        # "SAFE 4821" (with a PIN) is always a check-in.
        if not checkin.pin and bridge_reply(inbound.sender, text) == Reply.RELAYED:
            _thank(inbound, checkin.language)
            return
        _checkin(inbound, checkin)
        return
    if first in FIND_WORDS and len(words) > 1:
        # FIND <name> <number>: the rest is read like any request.
        _request(inbound, text.strip()[len(words[0]) :].strip(), FIND_WORDS[first])
        return
    if bridge_reply(inbound.sender, text) == Reply.RELAYED:
        _thank(inbound, _language(text))
        return
    _request(inbound, text)


def _checkin(inbound: TextReceived, checkin: Checkin) -> None:
    """Safe check-in: every open request for this number is answered at once.

    Only a received SMS from a phone number gets here (never an alphanumeric sender,
    never the API). The answer, in the language of the check-in, gives the number of
    requests answered (a case may have several requesters), never who asked.
    """
    with translation.override(checkin.language):
        try:
            rate_limit_hit(
                scope="checkin:sms",
                source=inbound.sender_key,
                limit=Limit.parse(settings.BAILANYS_CHECKIN_LIMIT_PER_NUMBER),
            )
        except Throttled:
            _say(inbound, 0, _("Too many messages from this number. Try again later."))
            return
        answered = 0
        # "SAFE 4821 all fine": the 4-8 digit word is the requester's PIN, not a reply.
        for case_id in cases_open_for_number(inbound.sender):
            attempt = case_close_by_sms(
                case_id=case_id,
                reply=checkin.rest,
                resolution=Resolution.SELF_REPORTED,
                via=Attempt.Via.SMS_CHECKIN,
                pin=checkin.pin,
            )
            if attempt is not None:
                answered += attempt.requests_told
        if answered:
            _say(
                inbound,
                0,
                _("Thank you. Everyone who asked about you has been told you are safe.")
                + " "
                + _("Requests answered: %(n)d.") % {"n": answered},
            )
        else:
            _say(inbound, 0, _("Thank you. Nobody is looking for you through Bailanys now."))


def _request(inbound: TextReceived, text: str, keyword_language: str | None = None) -> None:
    with translation.override(_language(text, keyword_language)):
        try:
            rate_limit_hit(
                scope="intake-contact:sms",
                source=inbound.sender_key,
                limit=Limit.parse(settings.BAILANYS_INTAKE_LIMIT_PER_CONTACT),
            )
        except Throttled:
            _say(inbound, 0, _("Too many requests from this number. Try again later."))
            return
        ingested = post_ingest(
            source="sms",
            external_id=str(inbound.message_id),
            text=text,
            contact=f"sms:{inbound.sender}",
        )
    # Answered in the language of their own words, not of the message they pass on.
    with translation.override(keyword_language or ingested.language):
        if ingested.outcome in ("created", "joined"):
            _say(
                inbound, 0, _("Received. A volunteer will call them. We will text you the answer.")
            )
        elif ingested.outcome == "review":
            _say(inbound, 0, _("Received. A volunteer will check it before calling."))
        elif ingested.outcome == "not_request":
            _say(inbound, 0, help_text())
