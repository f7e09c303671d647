"""What every kind of SMS gateway tells us, after its own webhook or spool was read:
received SMS and delivery reports, as typed events.

A gateway's driver authenticates what it hears (``smsgate/webhook.py``,
``twilio/views.py``, the modem's spool in ``gammu/``) and hands it here. sms-gate.app
delivers the same SMS twice with new event ids a few seconds apart, so the same text from
the same number through the same gateway within BAILANYS_SMS_DUPLICATE_SECONDS is one
SMS; a real repeat later is kept. Parts of a long SMS that arrive one by one are joined
before anything reads them. What a text means is not decided here: the whole text is
emitted as a TextReceived event (bailanys.channels.events) and conversations act on it.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bailanys import phones
from bailanys.channels.events import DeliveryReport, TextReceived, emit
from bailanys.channels.sms import segments as sms_segments
from bailanys.channels.sms.adapter import number_key
from bailanys.channels.sms.models import (
    SmsDelivery,
    SmsGateway,
    SmsInbound,
)
from bailanys.privacy.crypto import blind_index

logger = logging.getLogger("bailanys.sms")

FINAL = {SmsDelivery.State.DELIVERED, SmsDelivery.State.FAILED}


def inbound_accept(gateway: SmsGateway, raw_sender: str, text: str) -> str:
    """Take one received SMS from any gateway kind: "received" or "duplicate".

    The sender may come without a country code (KZ is assumed) or be alphanumeric
    (a bank, the operator), which is kept but never answered.
    """
    raw_sender = raw_sender.strip()[:40]
    # Whoever texts us is heard, from a satellite phone too: the rule on the kind of
    # number is for numbers we are asked to call (bailanys/phones.py).
    try:
        sender, is_phone = phones.normalize(raw_sender, any_type=True), True
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
    """A gateway's report on an SMS it sent (sent, delivered, failed), from any gateway kind.

    Reports are idempotent: "sent" moves only a queued SMS, a final state only one that
    has none yet. A final state is emitted as a DeliveryReport for the outbox row.
    """
    deliveries = SmsDelivery.objects.filter(gateway=gateway, provider_id=provider_id)
    if state == SmsDelivery.State.SENT:
        deliveries = deliveries.filter(state=SmsDelivery.State.QUEUED)
    else:
        deliveries = deliveries.exclude(state__in=FINAL)
    changed = list(deliveries)
    deliveries.update(state=state, reported_at=timezone.now())
    if state in FINAL:
        for delivery in changed:
            if delivery.outbox_id:
                emit(DeliveryReport(channel="sms", outbox_id=delivery.outbox_id, state=state))
    return state


# --- Joining the parts of a long SMS ------------------------------------------------


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
            emit(
                TextReceived(
                    channel="sms",
                    message_id=inbound.pk,
                    sender=inbound.sender,
                    sender_key=inbound.sender_key,
                    is_phone=True,
                    text=text,
                    received_at=inbound.received_at,
                )
            )
    return "handled"


def deliveries_expire() -> int:
    """Sent SMS with no report for BAILANYS_SMS_REPORT_MINUTES become "unknown", not delivered."""
    cutoff = timezone.now() - timedelta(minutes=settings.BAILANYS_SMS_REPORT_MINUTES)
    return SmsDelivery.objects.filter(
        state__in=(SmsDelivery.State.QUEUED, SmsDelivery.State.SENT), created_at__lt=cutoff
    ).update(state=SmsDelivery.State.UNKNOWN)
