"""What gateways tell us: received SMS, delivery reports, heartbeats.

Every webhook is authenticated first (the signature names the gateway), then
deduplicated on the event's own id. sms-gate.app also delivers the same SMS
twice with new event ids a few seconds apart, so the same text from the same
number through the same gateway within BAILANYS_SMS_DUPLICATE_SECONDS is one
SMS; a real repeat later is kept. Parts of a long SMS that arrive one by one
are joined before anything reads them.
"""

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.channels.services import outbox_add
from bailanys.channels.sms import segments as sms_segments
from bailanys.channels.sms.adapter import number_key
from bailanys.channels.sms.gateways import gateway_heard, gateways_configured
from bailanys.channels.sms.models import (
    SmsContact,
    SmsDelivery,
    SmsEvent,
    SmsGateway,
    SmsInbound,
)
from bailanys.channels.sms.smsgate import signature_valid
from bailanys.privacy.crypto import blind_index

logger = logging.getLogger("bailanys.sms")

HELP_WORDS = {"help": "en", "помощь": "ru", "помогите": "ru", "көмек": "kk", "komek": "kk"}
STOP_WORDS = {"stop": "en", "стоп": "ru", "тоқта": "kk"}
START_WORDS = {"start": "en", "старт": "ru"}
FIND_WORDS = {"find": "en", "найти": "ru", "найдите": "ru", "іздеу": "kk", "izdeu": "kk"}
SAFE_WORDS = {
    "safe": "en",
    "аман": "kk",
    "aman": "kk",
    "жив": "ru",
    "жива": "ru",
    "живы": "ru",
    "zhiv": "ru",
}
FINAL = {SmsDelivery.State.DELIVERED, SmsDelivery.State.FAILED}


def webhook_gateway(request: HttpRequest) -> SmsGateway | None:
    """The gateway whose signing key signed this request, or None (refuse it)."""
    signature = request.headers.get("X-Signature", "")
    timestamp = request.headers.get("X-Timestamp", "")
    for gateway in gateways_configured():
        if signature_valid(
            gateway.signing_key,
            request.body,
            signature,
            timestamp,
            settings.BAILANYS_SMS_WEBHOOK_MAX_AGE_SECONDS,
        ):
            return gateway
    return None


def event_handle(gateway: SmsGateway, event: dict) -> str:
    """Act on one webhook event once. Returns what happened, for the webhook's answer."""
    event_id = event.get("id")
    kind = event.get("event")
    payload = event.get("payload")
    if not isinstance(event_id, str) or not event_id or not isinstance(payload, dict):
        return "ignored"
    try:
        with transaction.atomic():
            SmsEvent.objects.create(event_id=f"{gateway.pk}:{event_id}"[:100])
            return _dispatch(gateway, event, kind, payload)
    except IntegrityError:
        return "duplicate"


def _dispatch(gateway: SmsGateway, event: dict, kind, payload: dict) -> str:
    device = event.get("deviceId")
    if isinstance(device, str) and device and not gateway.device_id:
        SmsGateway.objects.filter(pk=gateway.pk).update(device_id=device[:100])
    if kind == "system:ping":
        gateway_heard(gateway, **_health(payload))
        return "ping"
    gateway_heard(gateway)
    if kind in ("sms:sent", "sms:delivered", "sms:failed"):
        return _report(gateway, kind.split(":")[1], payload)
    if kind == "sms:received":
        return _received(gateway, payload)
    return "ignored"


def _health(payload: dict) -> dict:
    checks = (payload.get("health") or {}).get("checks") or {}
    out = {}
    battery = (checks.get("battery:level") or {}).get("observedValue")
    if isinstance(battery, int | float):
        out["battery"] = int(battery)
    transport = (checks.get("connection:transport") or {}).get("observedValue")
    if isinstance(transport, int):
        names = [
            name for bit, name in ((2, "cellular"), (4, "wifi"), (8, "ethernet")) if transport & bit
        ]
        out["network"] = "+".join(names) or "none"
    return out


def _report(gateway: SmsGateway, state: str, payload: dict) -> str:
    message_id = payload.get("messageId")
    if not isinstance(message_id, str):
        return "ignored"
    deliveries = SmsDelivery.objects.filter(gateway=gateway, provider_id=message_id)
    if state == SmsDelivery.State.SENT:
        deliveries = deliveries.filter(state=SmsDelivery.State.QUEUED)
    else:
        deliveries = deliveries.exclude(state__in=FINAL)
    changed = list(deliveries)
    deliveries.update(state=state, reported_at=timezone.now())
    if state in FINAL:
        from bailanys.channels.sms.bridge import bridge_report

        for delivery in changed:
            bridge_report(delivery, state)
    return state


def _received(gateway: SmsGateway, payload: dict) -> str:
    raw_sender = payload.get("phoneNumber") or payload.get("sender")
    text = payload.get("message")
    if not isinstance(raw_sender, str) or not isinstance(text, str):
        return "ignored"
    return inbound_accept(gateway, raw_sender, text)


def inbound_accept(gateway: SmsGateway, raw_sender: str, text: str) -> str:
    """Take one received SMS from any gateway kind: "received" or "duplicate".

    The sender may come without a country code (KZ is assumed) or be alphanumeric
    (a bank, the operator), which is kept but never answered.
    """
    raw_sender = raw_sender.strip()[:40]
    try:
        sender, is_phone = phones.normalize(raw_sender), True
    except phones.InvalidPhone:
        sender, is_phone = raw_sender, False
    text = text.replace("\x00", "")[:2000]
    now = timezone.now()
    repeat_key = blind_index(f"sms-in:{gateway.pk}:{sender}:{text}")
    window = now - timedelta(seconds=settings.BAILANYS_SMS_DUPLICATE_SECONDS)
    if SmsInbound.objects.filter(repeat_key=repeat_key, received_at__gte=window).exists():
        return "duplicate"
    inbound = SmsInbound.objects.create(
        gateway=gateway,
        sender=sender,
        sender_key=number_key(sender),
        is_phone=is_phone,
        text=text,
        repeat_key=repeat_key,
        received_at=now,
    )
    from bailanys.channels.sms.tasks import sms_inbound_handle

    run_after = now + timedelta(seconds=settings.BAILANYS_SMS_JOIN_SECONDS)
    transaction.on_commit(lambda: sms_inbound_handle.using(run_after=run_after).enqueue(inbound.pk))
    return "received"


def delivery_report(gateway: SmsGateway, provider_id: str, state: str) -> str:
    """A gateway's report on an SMS it sent (sent, delivered, failed), from any gateway kind."""
    return _report(gateway, state, {"messageId": provider_id})


# --- Acting on a received SMS -----------------------------------------------------


def _is_full_part(text: str) -> bool:
    """Exactly one full part of a concatenated SMS: a longer message goes on in the next."""
    enc = sms_segments.encoding(text)
    return sms_segments.units(text, enc) in (sms_segments.MULTI[enc], sms_segments.MULTI[enc] - 1)


def inbound_handle(inbound_id: int) -> str:
    """Join a received SMS with the parts that follow it, then act on the whole text."""
    window = timedelta(seconds=settings.BAILANYS_SMS_JOIN_SECONDS + 5)
    with transaction.atomic():
        inbound = SmsInbound.objects.select_for_update().filter(pk=inbound_id).first()
        if inbound is None or inbound.state != SmsInbound.State.PENDING:
            return "done"
        same_sender = SmsInbound.objects.filter(
            gateway_id=inbound.gateway_id,
            sender_key=inbound.sender_key,
            state=SmsInbound.State.PENDING,
        ).exclude(pk=inbound.pk)
        earlier = (
            same_sender.filter(
                received_at__lte=inbound.received_at, received_at__gte=inbound.received_at - window
            )
            .order_by("-received_at", "-pk")
            .first()
        )
        if earlier is not None and _is_full_part(earlier.text):
            return "waiting"  # a part of the earlier one: its handler joins this
        text = inbound.text
        last = inbound
        for part in same_sender.filter(received_at__gte=inbound.received_at).order_by(
            "received_at", "pk"
        ):
            if part.received_at - last.received_at > window or not _is_full_part(last.text):
                break
            text += part.text
            part.state = SmsInbound.State.JOINED
            part.text = ""
            part.save(update_fields=["state", "text"])
            last = part
        inbound.state = SmsInbound.State.HANDLED
        inbound.save(update_fields=["state"])
        if inbound.is_phone:
            _act(inbound, text)
    return "handled"


def _language(text: str, keyword_language: str | None = None) -> str:
    if keyword_language:
        return keyword_language
    from bailanys.parsing.lang import detect

    found = detect(text)
    return found if found in ("ru", "kk", "en") else "ru"


def _say(inbound: SmsInbound, n: int, text: str) -> None:
    outbox_add(
        channel="sms",
        address=inbound.sender,
        body=text,
        idempotency_key=f"sms-in:{inbound.pk}:{n}",
    )


def help_text() -> str:
    return _(
        "Bailanys: write who to call, their number and what to say. STOP: no more SMS. "
        "Volunteers never ask for money."
    )


def _act(inbound: SmsInbound, text: str) -> None:
    from bailanys.channels.sms.volunteers import volunteer_for, volunteer_sms

    volunteer = volunteer_for(inbound.sender)
    if volunteer is not None:
        answer = volunteer_sms(volunteer, text)
        if answer is not None:
            _say(inbound, 0, answer)
            return
    words = text.strip().split()
    first = words[0].strip(".,!?:;").casefold() if words else ""
    if first in STOP_WORDS and len(words) == 1:
        SmsContact.objects.get_or_create(
            number_key=inbound.sender_key, defaults={"stopped_at": timezone.now()}
        )
        with translation.override(STOP_WORDS[first]):
            # The last SMS this number gets: sent although it said STOP.
            outbox_add(
                channel="sms",
                address=inbound.sender,
                body=_("You will get no more SMS from Bailanys. Send START to undo."),
                idempotency_key=f"sms-in:{inbound.pk}:0",
                options={"stop_confirmation": True},
            )
        return
    if first in START_WORDS and len(words) == 1:
        SmsContact.objects.filter(number_key=inbound.sender_key).delete()
        with translation.override(START_WORDS[first]):
            _say(inbound, 0, help_text())
        return
    if first in HELP_WORDS or not words:
        from bailanys.relay.services import cases_reopen_after_help

        with translation.override(HELP_WORDS.get(first, "ru")):
            if cases_reopen_after_help(inbound.sender):
                _say(inbound, 0, _("Volunteers will call you soon."))
            else:
                _say(inbound, 0, help_text())
        return
    if first in SAFE_WORDS:
        from bailanys.channels.sms.bridge import bridge_reply
        from bailanys.relay.services import PIN_RE

        # "Живы, всё хорошо" from a number we texted answers our SMS: relay all of it.
        # "SAFE 4821" (with a PIN) is always a check-in.
        with_pin = len(words) > 1 and PIN_RE.fullmatch(words[1])
        if not with_pin and bridge_reply(inbound.sender, text):
            with translation.override(SAFE_WORDS[first]):
                _say(inbound, 0, _("Thank you. Your answer was passed on."))
            return
        _checkin(inbound, SAFE_WORDS[first], " ".join(words[1:]))
        return
    if first in FIND_WORDS and len(words) > 1:
        # FIND <name> <number>: the rest is read like any request.
        _request(inbound, text.strip()[len(words[0]) :].strip(), FIND_WORDS[first])
        return
    from bailanys.channels.sms.bridge import bridge_reply

    if bridge_reply(inbound.sender, text):
        with translation.override(_language(text)):
            _say(inbound, 0, _("Thank you. Your answer was passed on."))
        return
    _request(inbound, text)


def _checkin(inbound: SmsInbound, language: str, words: str) -> None:
    """Safe check-in: every open request for this number is answered at once.

    Only a received SMS from a phone number gets here (never an alphanumeric sender,
    never the API). The answer gives a count, never who asked.
    """
    from bailanys.privacy.ratelimit import Limit, Throttled, rate_limit_hit
    from bailanys.relay.models import Attempt, Resolution
    from bailanys.relay.services import case_close_by_sms, cases_open_for_number

    with translation.override(language):
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
        # "SAFE 4821 all fine": a leading 4-8 digit word is the requester's PIN, not a reply.
        pin, _sep, rest = words.partition(" ")
        if not re.fullmatch(r"\d{4,8}", pin):
            pin, rest = "", words
        for case_id in cases_open_for_number(inbound.sender):
            if case_close_by_sms(
                case_id=case_id,
                reply=rest,
                resolution=Resolution.SELF_REPORTED,
                via=Attempt.Via.SMS_CHECKIN,
                pin=pin,
            ):
                answered += 1
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


def _request(inbound: SmsInbound, text: str, language: str | None = None) -> None:
    from bailanys.parsing.services import post_ingest
    from bailanys.privacy.ratelimit import Limit, Throttled, rate_limit_hit

    language = _language(text, language)
    with translation.override(language):
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
            external_id=str(inbound.pk),
            text=text,
            contact=f"sms:{inbound.sender}",
        )
        if ingested.outcome in ("created", "joined"):
            _say(
                inbound, 0, _("Received. A volunteer will call them. We will text you the answer.")
            )
        elif ingested.outcome == "review":
            _say(inbound, 0, _("Received. A volunteer will check it before calling."))
        elif ingested.outcome == "not_request":
            _say(inbound, 0, help_text())


def deliveries_expire() -> int:
    """Sent SMS with no report for BAILANYS_SMS_REPORT_MINUTES become "unknown", not delivered."""
    cutoff = timezone.now() - timedelta(minutes=settings.BAILANYS_SMS_REPORT_MINUTES)
    return SmsDelivery.objects.filter(
        state__in=(SmsDelivery.State.QUEUED, SmsDelivery.State.SENT), created_at__lt=cutoff
    ).update(state=SmsDelivery.State.UNKNOWN)
