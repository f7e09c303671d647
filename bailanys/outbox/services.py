"""The outbox: rows written with the change that causes them, sent by workers."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bailanys.outbox.models import Lane, OutboxMessage
from bailanys.outbox.senders import (
    ChannelBusy,
    ChannelError,
    ContactUnreachable,
    OutboundMessage,
    UnknownChannel,
    sender_get,
)
from bailanys.privacy.crypto import DecryptionError

logger = logging.getLogger("bailanys.outbox")

# How long the worker's sweep goes on sending due messages before it moves on.
SWEEP_SECONDS = 20.0

# How long one send may take before another worker may try the message again.
SEND_LEASE = timedelta(minutes=2)

# Where a demo row may go: the status page (it stays on this machine) and the log.
DEMO_CHANNELS = ("web", "log")

# Functions (request_id) -> bool that say a request is made-up demo data; the relay fills
# it at start-up. A row for such a request is a demo row even if its writer forgot to say.
_DEMO_REQUEST_CHECKS: list = []


def demo_request_check_register(check) -> None:
    if check not in _DEMO_REQUEST_CHECKS:
        _DEMO_REQUEST_CHECKS.append(check)


def _is_demo_request(request_id: int | None) -> bool:
    return request_id is not None and any(check(request_id) for check in _DEMO_REQUEST_CHECKS)


def outbox_add(
    *,
    channel: str,
    address: str,
    body: str,
    idempotency_key: str,
    request_id: int | None = None,
    options: dict | None = None,
    demo: bool = False,
    priority: int = Lane.URGENT,
) -> OutboxMessage:
    """Write an outbound message; call inside the transaction that causes it.

    Writing the same idempotency key twice returns the first row. `options["again"]`: a
    line put before the body when it is sent again after a worker died mid-send (it may
    arrive twice), in the reader's language. `demo`: the message is
    about made-up demo data (so is any message for a demo request): outbox_send sends it to
    the log instead of a gateway or a bot. `priority`: its Lane; urgent messages are sent
    before bulk ones (proxy answers, bulletins), which get only a share of an SMS budget.
    """
    message, _created = OutboxMessage.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "channel": channel,
            "address": address,
            "body": body,
            "request_id": request_id,
            "options": options or {},
            "demo": demo or _is_demo_request(request_id),
            "priority": priority,
            "next_try_at": timezone.now(),
        },
    )
    return message


def retry_delay(tries: int) -> timedelta:
    """Backoff after the n-th failed try: 30 s, 1 min, 2 min … at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(tries - 1, 0), 3600))


def _take() -> dict:
    return {
        "state": OutboxMessage.State.SENDING,
        "next_try_at": timezone.now() + SEND_LEASE,
        "tries": F("tries") + 1,
    }


def outbox_send(*, outbox_id: int) -> OutboxMessage.State | None:
    """Try to send one message now, if it is due and nobody else is sending it.

    The row is taken with a compare-and-set, so two workers never send the
    same message at once; the network call happens outside any transaction.
    Returns the message's new state, or None when it was not ours to send.
    """
    due = OutboxMessage.objects.filter(pk=outbox_id, next_try_at__lte=timezone.now())
    if not due.filter(state=OutboxMessage.State.PENDING).update(**_take()):
        # Still "sending" when its lease ran out: the worker sending it died, maybe after
        # the provider took it. This send may be a second copy (docs/benchmark-notes.md).
        taken = due.filter(state=OutboxMessage.State.SENDING).update(**_take(), maybe_sent=True)
        if not taken:
            return None
    message = OutboxMessage.objects.get(pk=outbox_id)
    return outbox_deliver_taken(message, again=message.maybe_sent)


def outbox_claim(*, channel: str, limit: int) -> list[tuple[OutboxMessage, bool]]:
    """Take up to `limit` due messages of `channel` to send, urgent lanes first, oldest
    first: each with whether it is sent again (its lease ran out: its sender died).

    One transaction of two statements for the whole batch: the due rows read with
    SKIP LOCKED (on PostgreSQL another worker's batch is passed over, not waited for;
    SQLite takes the database's write lock, so batches never overlap there), then marked
    "sending" with their lease. No task row per message: the pump asks again as sends
    finish (issue 22, point 3).
    """
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(
                channel=channel,
                state__in=(OutboxMessage.State.PENDING, OutboxMessage.State.SENDING),
                next_try_at__lte=timezone.now(),
            )
            .order_by("priority", "next_try_at", "pk")[:limit]
        )
        if rows:
            OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).update(**_take())
        lapsed = [row.pk for row in rows if row.state == OutboxMessage.State.SENDING]
        if lapsed:
            OutboxMessage.objects.filter(pk__in=lapsed).update(maybe_sent=True)
    taken = []
    for row in rows:
        again = row.maybe_sent or row.pk in lapsed
        row.tries += 1
        row.state = OutboxMessage.State.SENDING
        taken.append((row, again))
    return taken


def outbox_deliver_taken(message: OutboxMessage, *, again: bool) -> OutboxMessage.State:
    """Send a message this worker has taken (outbox_send, outbox_claim) and record how it
    went; the network call happens outside any transaction."""
    try:
        body = message.body
        if again and (message.options or {}).get("again"):
            body = f"{message.options['again']}\n{body}"  # the reader knows why it came twice
        outbound = OutboundMessage(
            outbox_id=message.pk,
            address=message.address,
            body=body,
            idempotency_key=message.idempotency_key,
            options=message.options or {},
            priority=message.priority,
        )
    except DecryptionError:
        # Sealed under a key that is gone: it can never be sent, and must not stop the
        # sweep from sending the messages behind it.
        outbox_fail(outbox_id=message.pk, reason="unreadable: sealed under a key that is gone")
        logger.warning("outbox %s is unreadable (its key is gone): failed", message.pk)
        return OutboxMessage.State.FAILED
    channel = message.channel
    if message.demo and channel not in DEMO_CHANNELS:
        # Made-up data, maybe a stranger's real number: never through a gateway or a bot.
        logger.info("outbox %s is demo data: to the log, not to %s", message.pk, channel)
        channel = "log"
    try:
        provider_id = sender_get(channel).send(outbound)
    except ChannelBusy as exc:
        # A rate limit, not a failure: back in line when the limit allows, try not counted.
        due = timezone.now() + timedelta(seconds=exc.retry_after)
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=OutboxMessage.State.PENDING, next_try_at=due, tries=F("tries") - 1
        )
        return OutboxMessage.State.PENDING
    except (ChannelError, UnknownChannel) as exc:
        permanent = isinstance(exc, UnknownChannel) or exc.permanent
        gave_up = permanent or message.tries >= settings.BAILANYS_OUTBOX_MAX_TRIES
        state = OutboxMessage.State.FAILED if gave_up else OutboxMessage.State.PENDING
        reason = f"{type(exc).__name__}: {exc}"[:300]
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=state, last_error=reason, next_try_at=timezone.now() + retry_delay(message.tries)
        )
        logger.warning("outbox %s try %s failed (%s)", message.pk, message.tries, reason)
        if isinstance(exc, ContactUnreachable):
            _fall_back(message)
        return state
    # Only a send still ours is marked sent: a failure reported while the provider's answer
    # was on its way may already have put the message back in line (outbox_retry).
    OutboxMessage.objects.filter(pk=message.pk, state=OutboxMessage.State.SENDING).update(
        state=OutboxMessage.State.SENT, provider_id=provider_id[:200], sent_at=timezone.now()
    )
    return OutboxMessage.State.SENT


def outbox_retry(*, outbox_id: int, due, reason: str) -> bool:
    """A message a channel handed over was reported lost: send it again at `due`.

    Only a message sent (or being sent) goes back in line; returns whether it did. The
    caller holds the transaction; a worker's pump takes the message when it is due.
    `reason` is stored as the last error: never personal data.
    """
    moved = OutboxMessage.objects.filter(
        pk=outbox_id, state__in=(OutboxMessage.State.SENDING, OutboxMessage.State.SENT)
    ).update(state=OutboxMessage.State.PENDING, next_try_at=due, last_error=reason[:300])
    return bool(moved)


def outbox_fail(*, outbox_id: int, reason: str) -> bool:
    """A message a channel handed over was reported lost for good: it failed."""
    return bool(
        OutboxMessage.objects.filter(pk=outbox_id)
        .exclude(state=OutboxMessage.State.FAILED)
        .update(state=OutboxMessage.State.FAILED, last_error=reason[:300])
    )


def _fall_back(message: OutboxMessage) -> None:
    """The contact cannot be reached on its channel: the status page still tells the requester."""
    if message.request_id is None or message.channel == "web":
        return
    with transaction.atomic():
        outbox_add(
            channel="web",
            address="",
            body=message.body,
            idempotency_key=f"{message.idempotency_key}:fallback"[:200],
            request_id=message.request_id,
            demo=message.demo,
            priority=message.priority,
        )


def outbox_send_due(*, limit: int = 500, seconds: float | None = None) -> int:
    """Send what is due: messages whose enqueue was lost, retries, abandoned sends.

    Urgent lanes first, then the longest waiting: a backlog of bulk messages (proxy
    answers, bulletins) never holds back a relay notification. No new send starts after
    `seconds`: a bulletin's backlog on SIMs at 30 a minute (each send may wait for its
    slot) would otherwise hold the sweep, and the lease and bridge checks behind it, for
    many minutes; what is left is sent by its task or the next sweep.
    """
    started = time.monotonic()
    seconds = SWEEP_SECONDS if seconds is None else seconds
    due = (
        OutboxMessage.objects.filter(
            state__in=(OutboxMessage.State.PENDING, OutboxMessage.State.SENDING),
            next_try_at__lte=timezone.now(),
        )
        .order_by("priority", "next_try_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for pk in list(due):
        if time.monotonic() - started >= seconds:
            break
        sent += outbox_send(outbox_id=pk) == OutboxMessage.State.SENT
    return sent
