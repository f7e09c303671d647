"""What every kind of SMS gateway tells us, after its own webhook or spool was read:
received SMS and delivery reports, as typed events.

A gateway's driver authenticates what it hears (``smsgate/webhook.py``,
``twilio/views.py``, the modem's spool in ``gammu/``) and hands it here. A gateway may hand
over one SMS twice (sms-gate.app re-delivers it under a new event id; a modem's file may be
read again after a crash); a person may also send the same words twice (NEXT, HELP), and
that is two SMS. They are told apart by the gateway's own id for the message (sms-gate.app's
``messageId``, made from the sender, the SIM, the text and the time the phone received it;
Twilio's MessageSid; the modem's file name) or, without one, by the time the phone received
it: the same id (or the same text at the same phone time) from the same number through the
same gateway is one SMS, whenever it comes. Only a gateway that gives neither falls back on
the same text within BAILANYS_SMS_DUPLICATE_SECONDS of our own clock. Parts of a long SMS
that arrive one by one are joined before anything reads them. What a text means is not
decided here: the whole text is emitted as a TextReceived event (bailanys.channels.events)
and conversations act on it.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bailanys import phones
from bailanys.channels.events import DeliveryReport, DeliveryTried, TextReceived, emit
from bailanys.channels.sms import segments as sms_segments
from bailanys.channels.sms.adapter import number_key
from bailanys.channels.sms.models import (
    SmsDelivery,
    SmsEvent,
    SmsGateway,
    SmsInbound,
)
from bailanys.channels.sms.resend import TIMED_OUT, delivery_failed
from bailanys.privacy.crypto import blind_index

logger = logging.getLogger("bailanys.sms")

FINAL = {SmsDelivery.State.DELIVERED, SmsDelivery.State.FAILED}


def _repeat_key(gateway, sender: str, text: str, provider_id: str, received_at) -> str:
    if provider_id:
        return blind_index(f"sms-in:{gateway.pk}:{sender}:id:{provider_id}")
    if received_at is not None:
        stamp = received_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        return blind_index(f"sms-in:{gateway.pk}:{sender}:at:{stamp}:{text}")
    return blind_index(f"sms-in:{gateway.pk}:{sender}:{text}")


def inbound_accept(
    gateway: SmsGateway,
    raw_sender: str,
    text: str,
    *,
    provider_id: str = "",
    received_at: datetime | None = None,
) -> str:
    """Take one received SMS from any gateway kind: "received" or "duplicate".

    `provider_id` is the gateway's own id for the message and `received_at` the time the
    phone (or modem) received it, with its offset; either tells a re-delivery of one SMS
    from a person sending the same words again. The sender may come without a country code
    (KZ is assumed) or be alphanumeric (a bank, the operator), which is kept but never
    answered.
    """
    raw_sender = raw_sender.strip()[:40]
    # Whoever texts us is heard, from a satellite phone too: the rule on the kind of
    # number is for numbers we are asked to call (bailanys/phones.py).
    try:
        sender, is_phone = phones.normalize(raw_sender, any_type=True), True
    except phones.InvalidPhone:
        sender, is_phone = raw_sender, False
    text = text.replace("\x00", "")[:2000]
    provider_id = (provider_id or "").strip()[:100]
    if received_at is not None and received_at.tzinfo is None:
        received_at = None  # a time without its offset says nothing certain
    now = timezone.now()
    repeat_key = _repeat_key(gateway, sender, text, provider_id, received_at)
    seen = SmsInbound.objects.filter(repeat_key=repeat_key)
    if not provider_id and received_at is None:
        seen = seen.filter(
            received_at__gte=now - timedelta(seconds=settings.BAILANYS_SMS_DUPLICATE_SECONDS)
        )
    else:
        # The key names one SMS: a unique row makes two deliveries racing each other one.
        try:
            with transaction.atomic():
                SmsEvent.objects.create(event_id=f"in:{repeat_key}"[:100])
        except IntegrityError:
            return "duplicate"
    if seen.exists():
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

    Returns what the report did: the new state, "unchanged" when it changed nothing (reports
    are idempotent: "sent" moves only a queued SMS, a final state only one that has none
    yet) or "unknown" when no SMS of ours has this id at this gateway. A failure sends an
    SMS to a requester again (resend.py); a final state is emitted as a DeliveryReport for
    the outbox row when it is the last word on it, and as a DeliveryTried for every try.
    """
    deliveries = SmsDelivery.objects.filter(gateway=gateway, provider_id=provider_id)
    if not provider_id or not deliveries.exists():
        return "unknown"
    if state == SmsDelivery.State.SENT:
        deliveries = deliveries.filter(state=SmsDelivery.State.QUEUED)
    else:
        deliveries = deliveries.exclude(state__in=FINAL)
    changed = list(deliveries)
    if not changed:
        return "unchanged"
    SmsDelivery.objects.filter(pk__in=[d.pk for d in changed]).update(
        state=state, reported_at=timezone.now()
    )
    if state in FINAL:
        for delivery in changed:
            if delivery.outbox_id:  # every try, the ones sent again too
                emit(DeliveryTried(channel="sms", outbox_id=delivery.outbox_id, state=state))
            if state == SmsDelivery.State.FAILED and delivery_failed(delivery):
                continue  # sent again: not the last word on it
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
    """SMS with no report for BAILANYS_SMS_REPORT_MINUTES: "unknown", never delivered.

    One a phone or modem took but never reported sent, while that gateway is stale (not
    heard from), is failed instead, and handled as a failure report (sent again elsewhere,
    or given up on). An HTTP provider that took a message sends it whatever happens to our
    connection to it, so its messages only become unknown.
    """
    now = timezone.now()
    cutoff = now - timedelta(minutes=settings.BAILANYS_SMS_REPORT_MINUTES)
    old = SmsDelivery.objects.filter(
        state__in=(SmsDelivery.State.QUEUED, SmsDelivery.State.SENT), created_at__lt=cutoff
    )
    lost = old.filter(state=SmsDelivery.State.QUEUED, gateway__stale_since__isnull=False).exclude(
        gateway__kind=SmsGateway.Kind.HTTP
    )
    for delivery in lost:
        with transaction.atomic():
            if not SmsDelivery.objects.filter(
                pk=delivery.pk, state=SmsDelivery.State.QUEUED
            ).update(state=SmsDelivery.State.FAILED, reported_at=now):
                continue
            delivery.state = SmsDelivery.State.FAILED
            if delivery.outbox_id and not delivery_failed(delivery, reason=TIMED_OUT):
                emit(
                    DeliveryReport(
                        channel="sms", outbox_id=delivery.outbox_id, state=SmsDelivery.State.FAILED
                    )
                )
    return old.update(state=SmsDelivery.State.UNKNOWN)
