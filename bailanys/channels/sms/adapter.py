"""The SMS channel behind the channel interface: spread over the SIM pool, within limits."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from bailanys import phones
from bailanys.channels.base import (
    Channel,
    ChannelBusy,
    ChannelError,
    ContactUnreachable,
    OutboundMessage,
)
from bailanys.channels.ratelimit import send_slot
from bailanys.channels.sms.drivers import GatewayDown, Refused, driver_for
from bailanys.channels.sms.gateways import gateway_failed, gateways_configured, send_order
from bailanys.channels.sms.models import SmsContact, SmsDelivery, SmsGateway
from bailanys.channels.sms.resend import failed_gateways
from bailanys.channels.sms.segments import segments
from bailanys.outbox.models import Lane
from bailanys.privacy.crypto import blind_index

MAX_WAIT = 2.0  # seconds a worker waits for a SIM's next slot before putting the message back
STALE_WAIT = 60.0  # seconds a message waits when every gateway is stale, before it looks again
# Seconds a bulk message waits when every SIM has spent its bulk share of today's cap: it
# looks again then (a SIM may have been added or its cap raised), or at local midnight,
# when the day's counts start again, if that is sooner.
BULK_WAIT = 15 * 60.0


def bulk_wait(now=None) -> float:
    """Seconds until a bulk message over the share looks again: BULK_WAIT or midnight."""
    now = timezone.localtime(now)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return min(BULK_WAIT, (midnight - now).total_seconds() + 1)


def number_key(e164: str) -> str:
    """The keyed index of a number on the SMS channel: STOP lists, replies, duplicates."""
    return blind_index(f"sms:{e164}")


def sms_stop(key: str) -> None:
    """The number (by its number_key) texted STOP: nothing more is sent to it."""
    SmsContact.objects.get_or_create(number_key=key, defaults={"stopped_at": timezone.now()})


def sms_start(key: str) -> None:
    """The number texted START: it may be sent SMS again."""
    SmsContact.objects.filter(number_key=key).delete()


class SmsChannel(Channel):
    code = "sms"

    def send(self, message: OutboundMessage) -> str:
        # Every address was judged where it came in: a recipient or a contact by the
        # rule on callable kinds, a sender we answer by none.
        try:
            to = phones.normalize(message.address, any_type=True)
        except phones.InvalidPhone:
            raise ContactUnreachable("not a phone number") from None
        key = number_key(to)
        stopped = SmsContact.objects.filter(number_key=key).exists()
        if stopped and not (message.options or {}).get("stop_confirmation"):
            raise ContactUnreachable("the number texted STOP")
        parts = segments(message.body)
        # A message sent again after a failure report: other SIMs first, and a new id at
        # the gateway (a phone keeps the ids it has seen, a second SIM of it too).
        avoid = failed_gateways(message.outbox_id)
        idempotency_key = message.idempotency_key
        if avoid:
            failures = SmsDelivery.objects.filter(
                outbox_id=message.outbox_id, state=SmsDelivery.State.FAILED
            ).count()
            idempotency_key = f"{idempotency_key}:again:{failures}"
        # A message behind the urgent lane (a proxy answer, a bulletin) may fill only a share
        # of each SIM's daily cap; urgent ones may use all of it.
        bulk = message.priority > Lane.URGENT
        share = settings.BAILANYS_SMS_BULK_SHARE if bulk else 100
        tiers, stale_left_out = send_order(to, parts, avoid=avoid, share=share)
        order = [gateway for tier in tiers for gateway in tier]
        if not order and stale_left_out:
            # Nothing is sent to a stale SIM: the message waits until one is heard from.
            raise ChannelBusy(STALE_WAIT, "every SMS gateway with capacity is stale")
        if not order and bulk:
            # Bulk waits for budget rather than failing: its share comes back at midnight.
            # Only a message no SIM's share could ever hold (or a pool with none) fails.
            pool = gateways_configured()
            if any(parts * 100 <= gateway.daily_cap * share for gateway in pool):
                raise ChannelBusy(bulk_wait(), "the bulk share of every SMS gateway is spent")
        if not order:
            raise ChannelError("no SMS gateway configured with capacity left today")
        soonest = None
        for gateway in _sims_as_they_come_free(tiers, parts):
            if isinstance(gateway, float):
                soonest = min(soonest or gateway, gateway)  # busy past MAX_WAIT
                continue
            driver = driver_for(gateway)
            try:
                provider_id = driver.send(
                    gateway, to, message.body, idempotency_key=idempotency_key
                )
            except GatewayDown:
                gateway_failed(gateway)
                continue  # fail over to the next SIM at once
            except Refused as exc:
                raise ChannelError(
                    f"the gateway refused the message ({exc})", permanent=True
                ) from None
            if gateway.stale_since is not None and driver.up_when_it_takes_a_message:
                SmsGateway.objects.filter(pk=gateway.pk).update(stale_since=None)
            SmsDelivery.objects.create(
                outbox_id=message.outbox_id,
                gateway=gateway,
                provider_id=provider_id,
                to_key=key,
                segments=parts,
            )
            return f"sms-{provider_id}"[:200]
        if soonest is not None:
            # Busy SIMs are waited for; a stale one is never the way round them.
            raise ChannelBusy(soonest, "every SIM is at its rate limit")
        raise ChannelError("no SMS gateway answered")

    def per_second(self) -> float:
        # The pool's parts a second, each SIM at its limit.
        return sum(gateway.per_minute for gateway in gateways_configured()) / 60


def _sims_as_they_come_free(tiers: list[list[SmsGateway]], parts: int):
    """Each SIM whose send slot this message has taken, best tier first; a float for a
    SIM busy for longer than MAX_WAIT (how long).

    Within a tier (SIMs equally good for this number) a SIM free now goes first, with no
    wait: waiting up to MAX_WAIT for the first in order while another was free held the
    SMS share of a fan-out at 1.14 times its bound (issue 22). Only when none of the tier
    is free is the one free soonest waited for."""
    for tier in tiers:
        busy: list[tuple[float, int, SmsGateway]] = []
        for n, gateway in enumerate(tier):
            try:
                send_slot([_slot(gateway)], max_wait=0, weight=parts)
            except ChannelBusy as exc:
                busy.append((exc.retry_after, n, gateway))
                continue
            yield gateway
        for _wait, _n, gateway in sorted(busy):
            try:
                send_slot([_slot(gateway)], max_wait=MAX_WAIT, weight=parts)
            except ChannelBusy as exc:
                yield exc.retry_after
                continue
            yield gateway


def _slot(gateway: SmsGateway) -> tuple[str, float]:
    # A SIM's per-minute limit counts parts: a send keeps the SIM an interval a part.
    return f"sms:gateway:{gateway.pk}", 60.0 / gateway.per_minute
