"""An SMS that did not go: sent again through another SIM, then later, or given up on.

A gateway's failure report (``sms:failed``, Twilio's ``undelivered`` or ``failed``, a modem's
``error/`` folder), or the timeout on a stale phone (``deliveries_expire``), marks one
SmsDelivery failed. What happens to its outbox row then:

- An SMS that tells a requester something (the row answers a request: an outcome, a notice)
  is sent again, up to BAILANYS_SMS_RESENDS times: at once when another SIM that has not
  failed this message can take it, else after the outbox's back-off (``retry_delay``). After
  the last, the row is failed, and coordinators see the requester was not told.
- Any other SMS (the bridge's message to a recipient, the answer to a command) is failed at
  once: the bridge puts its case in the call queue instead, and whoever sent a command can
  send it again.

Only a final failure is emitted as a DeliveryReport.
"""

from django.conf import settings
from django.utils import timezone

from bailanys.channels.sms.gateways import gateways_configured, usable
from bailanys.channels.sms.models import SmsDelivery
from bailanys.outbox.models import OutboxMessage
from bailanys.outbox.services import outbox_fail, outbox_retry, retry_delay

REPORTED = "sms: the gateway reported it failed"
TIMED_OUT = "sms: no report from a stale gateway"


def failed_gateways(outbox_id: int) -> set[int]:
    """The gateways that failed this outbox row already: a resend avoids them."""
    return set(
        SmsDelivery.objects.filter(outbox_id=outbox_id, state=SmsDelivery.State.FAILED)
        .values_list("gateway_id", flat=True)
        .distinct()
    )


def delivery_failed(delivery: SmsDelivery, *, reason: str = REPORTED) -> bool:
    """The delivery (already marked failed) lost its SMS. True when the SMS goes again, so
    the failure is not the last word on its outbox row."""
    if not delivery.outbox_id:
        return False
    row = OutboxMessage.objects.filter(pk=delivery.outbox_id).first()
    if row is None:
        return False
    failures = SmsDelivery.objects.filter(outbox_id=row.pk, state=SmsDelivery.State.FAILED).count()
    if row.request_id is None or failures > settings.BAILANYS_SMS_RESENDS:
        outbox_fail(outbox_id=row.pk, reason=f"{reason} ({failures}x)")
        return False
    avoid = failed_gateways(row.pk)
    elsewhere = any(g.pk not in avoid and usable(g) for g in gateways_configured())
    now = timezone.now()
    due = now if elsewhere else now + retry_delay(failures)
    if outbox_retry(outbox_id=row.pk, due=due, reason=f"{reason} ({failures}x); sent again"):
        return True
    # Not sent or sending: another report put it back in line already, or it failed.
    return OutboxMessage.objects.filter(
        pk=row.pk, state__in=(OutboxMessage.State.PENDING, OutboxMessage.State.SENDING)
    ).exists()
