"""The SMS channel's housekeeping, run by every worker's sweep."""

import logging

from django.db import transaction
from django.utils import timezone

from bailanys.channels.sms.drivers import drivers
from bailanys.channels.sms.gateways import gateways_mark_stale
from bailanys.channels.sms.inbound import deliveries_expire
from bailanys.channels.sms.models import SmsDelivery
from bailanys.outbox.models import OutboxMessage

logger = logging.getLogger("bailanys.sms")


def sms_sweep() -> None:
    """Modems' spools are read; stale gateways give their queued SMS to others; unreported
    SMS become "unknown"."""
    for driver in drivers():
        driver.poll_all()  # first: what a modem sent is recorded before the silence check
    for gateway in gateways_mark_stale():
        moved = queued_move(gateway_id=gateway.pk)
        # Coordinators watch this log (and the gateway list) for a phone that went quiet.
        logger.warning(
            "SMS gateway %s is silent: marked stale, %d queued SMS moved to other gateways",
            gateway.pk,
            moved,
        )
    deliveries_expire()


def queued_move(*, gateway_id: int) -> int:
    """Send again, through another gateway, what a silent gateway holds but never sent."""
    moved = 0
    stuck = SmsDelivery.objects.filter(gateway_id=gateway_id, state=SmsDelivery.State.QUEUED)
    for delivery in stuck.select_related("outbox"):
        with transaction.atomic():
            if not SmsDelivery.objects.filter(
                pk=delivery.pk, state=SmsDelivery.State.QUEUED
            ).update(state=SmsDelivery.State.FAILED, reported_at=timezone.now()):
                continue
            if delivery.outbox_id:
                OutboxMessage.objects.filter(pk=delivery.outbox_id).update(
                    state=OutboxMessage.State.PENDING, next_try_at=timezone.now()
                )
                moved += 1
    return moved
