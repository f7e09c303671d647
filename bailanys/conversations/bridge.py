"""The SMS bridge: a message goes to the recipient by SMS; their SMS answer comes back.

When a case of a bridged kind (BAILANYS_SMS_BRIDGE_KINDS, by default deliver_message)
opens and an SMS gateway is configured, the message is sent to the recipient from a local
SIM, in their language, signed with a short reference. The case stays out of the call
queue for BAILANYS_SMS_BRIDGE_MINUTES. Their SMS answer (from the number we wrote to, or
quoting the reference) closes the case; its words go to the requester the SMS named
(the first), and the others learn only that she answered. A failed delivery
puts the case in the call queue at once; no answer in time, when the wait ends. While SMS
to the recipient's operator are failing (the shutdown's state, docs/status.md), no SMS is
tried: the case waits for a call from the start.
Requesters hear "delivered" only from a delivery report, never from "sent".
"""

import re
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bailanys.channels.events import DeliveryReport
from bailanys.channels.sms.adapter import number_key
from bailanys.channels.sms.gateways import GATEWAYS_KNOWN_SECONDS, gateways_any
from bailanys.channels.sms.models import SmsDelivery
from bailanys.conversations.models import ChannelSetting, SmsBridge
from bailanys.outages.services import sms_failing_for
from bailanys.outbox.models import OutboxMessage
from bailanys.outbox.services import outbox_add
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.privacy.ratelimit import Limit, Throttled, rate_limit_hit
from bailanys.relay.models import Attempt, Kind, Request, Resolution
from bailanys.relay.services import (
    case_close_by_sms,
    case_hold,
    case_lock_waiting,
    recipient_label,
    requesters_tell,
)
from bailanys.relay.services.posts import UNNAMED

OPEN = (SmsBridge.State.WAITING, SmsBridge.State.DELIVERED, SmsBridge.State.EXPIRED)
ANSWER_DAYS = 7  # an answer this late still reaches the requesters


BRIDGE_KINDS = "sms.bridge_kinds"


def bridge_kinds() -> list[str]:
    """The case kinds sent by SMS first: the coordinators' choice, else the environment's."""
    chosen = ChannelSetting.objects.filter(key=BRIDGE_KINDS).first()
    return list(chosen.value) if chosen else list(settings.BAILANYS_SMS_BRIDGE_KINDS)


# Asked on every new case: remembered for a few seconds per process, like gateways_any().
_kinds_known: tuple[float, frozenset[str]] | None = None


def _bridged(kind: str) -> bool:
    global _kinds_known
    now = time.monotonic()
    if _kinds_known is None or now - _kinds_known[0] >= GATEWAYS_KNOWN_SECONDS:
        _kinds_known = (now, frozenset(bridge_kinds()))
    return kind in _kinds_known[1]


def bridge_kinds_forget(**_signal) -> None:
    global _kinds_known
    _kinds_known = None


def bridge_kinds_set(kinds: list[str], *, by) -> None:
    kinds = [k for k in Kind.values if k in kinds]
    ChannelSetting.objects.update_or_create(key=BRIDGE_KINDS, defaults={"value": kinds})
    bridge_kinds_forget()
    audit_record(
        actor=actor_label(by),
        action="sms.bridge.kinds",
        object_type="setting",
        object_id=0,
        detail=",".join(kinds)[:100],
    )


def on_case_opened(*, case_id: int, kind: str) -> None:
    """The relay's case_opened hook (registered in ConversationsConfig.ready), inside the
    transaction that opens the case: when its kind is bridged and a gateway is on, a task
    row for the worker, which starts the bridge. One row that commits with the case (a
    crash cannot lose it in between), not the bridge's own transaction (issue 22); the
    case is in the queue meanwhile, and a volunteer who takes it first simply calls."""
    if not _bridged(kind) or not gateways_any():
        return
    from bailanys.conversations.tasks import bridge_start_task

    bridge_start_task.enqueue(case_id)


def _named(sender: str) -> bool:
    """A name the requester gave, not the mark of a post that gave none."""
    return bool(sender) and sender != UNNAMED and sender not in _OLD_STAND_INS


# What posts without a name were signed with before: never a name.
_OLD_STAND_INS = {"Group member", "Участник группы", "Топ мүшесі"}


def bridge_start(*, case_id: int) -> SmsBridge | None:
    now = timezone.now()
    with transaction.atomic():
        case = case_lock_waiting(case_id=case_id)
        if case is None or SmsBridge.objects.filter(case=case).exists():
            return None
        first = case.requests.select_related("requester").order_by("created_at").first()
        if first is None:
            return None
        failing = sms_failing_for(case.recipient_phone)
        if failing is not None:
            # SMS to this number's operator are failing now (the shutdown's state): the
            # case stays in the call queue, where a volunteer calls at once.
            audit_record(
                actor="sms:bridge",
                action="case.bridge.skipped",
                object_type="case",
                object_id=case.pk,
                detail=f"sms {failing.state}: {case.recipient_operator}"[:100],
            )
            return None
        ref = f"B{case.pk}"
        sender = first.requester.name.strip()
        values = {"message": first.message, "sender": sender, "ref": ref}
        with translation.override(case.recipient_language):
            # Signed with the name the requester gave; with none, no stand-in that reads
            # like a name ("Group member"): the recipient must not guess who wrote.
            if first.message and _named(sender):
                body = (
                    _(
                        "%(message)s\n- %(sender)s, via Bailanys volunteers. Reply to this SMS to "
                        "answer. %(ref)s"
                    )
                    % values
                )
            elif first.message:
                body = (
                    _(
                        "%(message)s\n- sent via Bailanys volunteers. Reply to this SMS to "
                        "answer. %(ref)s"
                    )
                    % values
                )
            elif _named(sender):
                body = (
                    _(
                        "%(sender)s asks, via Bailanys volunteers, whether you are safe. Reply to "
                        "this SMS to answer. %(ref)s"
                    )
                    % values
                )
            else:
                body = (
                    _(
                        "Someone close to you asks, via Bailanys volunteers, whether you are "
                        "safe. Reply to this SMS to answer. %(ref)s"
                    )
                    % values
                )
        expires = now + timedelta(minutes=settings.BAILANYS_SMS_BRIDGE_MINUTES)
        case_hold(case_id=case.pk, until=expires)
        outbox = outbox_add(
            channel="sms",
            address=case.recipient_phone,
            body=body,
            idempotency_key=f"bridge:{case.pk}",
        )
        bridge = SmsBridge.objects.create(
            case=case,
            request=first,
            ref=ref,
            to_key=number_key(case.recipient_phone),
            outbox=outbox,
            expires_at=expires,
        )
        audit_record(
            actor="sms:bridge", action="case.bridge", object_type="case", object_id=case.pk
        )
    return bridge


def _to_call_queue(bridge: SmsBridge) -> None:
    case_hold(case_id=bridge.case_id, until=None)


def bridge_report(report: DeliveryReport) -> None:
    """A delivery report on a bridge SMS: tell requesters it arrived, or call instead."""
    bridge = SmsBridge.objects.filter(
        outbox_id=report.outbox_id, state=SmsBridge.State.WAITING
    ).first()
    if bridge is None:
        return
    if report.state == SmsDelivery.State.FAILED:
        SmsBridge.objects.filter(pk=bridge.pk).update(state=SmsBridge.State.FAILED)
        _to_call_queue(bridge)
        return
    if report.state != SmsDelivery.State.DELIVERED:
        return
    SmsBridge.objects.filter(pk=bridge.pk).update(state=SmsBridge.State.DELIVERED)
    requesters_tell(
        lambda request: (
            _(
                "%(name)s: your message was delivered by SMS. If they answer, you will read it "
                "here; if not, a volunteer will call."
            )
            % {"name": recipient_label(request)}
        ),
        key=f"bridge-delivered:{bridge.pk}",
        case_id=bridge.case_id,
    )


# A reference is the first or the last word of the SMS: "B2 бәрі жақсы", "Живы, B2". People
# on a Russian keyboard type a Cyrillic Ve (U+0412) for the Latin B.
REFERENCE_RE = re.compile(
    r"^\s*[B\u0412](\d{1,9})\b[\s,.:;!-]*|[\s,.:;!-]*\b[B\u0412](\d{1,9})[\s.!]*$", re.I
)

PHONE_RE = re.compile(r"\+?\d[\d\s()-]{7,}\d")


class Reply:
    """What bridge_reply made of an SMS."""

    NONE = ""  # not an answer to a bridge SMS
    RELAYED = "relayed"  # from the number we wrote to: passed on
    OTHER_NUMBER = "other_number"  # quoting the reference from another number: passed on
    REFUSED = "refused"  # a reference we cannot take (unknown, closed, or too many guesses)


def reference(text: str) -> tuple[str, str] | None:
    """("B12", the text without it) when the SMS starts or ends with a bridge reference."""
    found = REFERENCE_RE.search(text)
    if found is None:
        return None
    number = found.group(1) or found.group(2)
    rest = (text[: found.start()] + " " + text[found.end() :]).strip()
    if PHONE_RE.search(rest):
        return None  # "… 8 701 234 56 78, корпус B5": a request, not an answer
    return f"B{number}", rest


def _other_number_bridge(sender_key: str, ref: str) -> SmsBridge | None:
    """The open bridge `ref` names, sent to another number than the sender's; None when
    there is none or the sender has sent too many references (each one counts)."""
    try:
        rate_limit_hit(
            scope="bridge-ref:sms",
            source=sender_key,
            limit=Limit.parse(settings.BAILANYS_BRIDGE_REF_LIMIT_PER_NUMBER),
        )
    except Throttled:
        return None
    since = timezone.now() - timedelta(days=ANSWER_DAYS)
    return (
        SmsBridge.objects.filter(ref=ref, state__in=OPEN, created_at__gte=since)
        .exclude(to_key=sender_key)
        .first()
    )


def bridge_reply(sender_e164: str, text: str) -> str:
    """An SMS that answers a bridge message: relayed to the requester it named.

    From the number we wrote to, any SMS is an answer (to the bridge its reference names,
    else the latest; a reference to another number's open bridge answers that one). From
    another number (a neighbour's phone), only one quoting the
    reference of an open bridge, and every such reference counts against a per-number
    limit (BAILANYS_BRIDGE_REF_LIMIT_PER_NUMBER): references are short and sequential, and
    guessing them must not let a stranger answer for someone. Such an answer is trusted no
    more than the recipient's own: its words go to the request the bridge SMS named, and
    its attempt says it came from another number (Attempt.Via.SMS_BRIDGE_OTHER).
    Returns a Reply value.
    """
    since = timezone.now() - timedelta(days=ANSWER_DAYS)
    open_bridges = SmsBridge.objects.filter(state__in=OPEN, created_at__gte=since)
    sender_key = number_key(sender_e164)
    mine = open_bridges.filter(to_key=sender_key)
    quoted = reference(text)
    answer = quoted[1] if quoted else text.strip()
    bridge = mine.filter(ref=quoted[0]).first() if quoted else None
    via = Attempt.Via.SMS_BRIDGE
    if bridge is None and quoted:
        other = _other_number_bridge(sender_key, quoted[0]) if answer else None
        if other is not None:
            bridge, via = other, Attempt.Via.SMS_BRIDGE_OTHER
        elif not mine.exists():
            return Reply.REFUSED
    bridge = bridge or mine.order_by("-created_at").first()
    if bridge is None:
        return Reply.NONE
    named = bridge.request_id or (
        Request.objects.filter(case_id=bridge.case_id, created_at__lte=bridge.created_at)
        .order_by("created_at")
        .values_list("pk", flat=True)
        .first()
    )
    with transaction.atomic():
        SmsBridge.objects.filter(pk=bridge.pk).update(state=SmsBridge.State.REPLIED)
        case_close_by_sms(
            case_id=bridge.case_id,
            reply=answer,
            resolution=Resolution.REACHED,
            via=via,
            known_request=named,  # the SMS named its requester: she answered them
        )
    if via == Attempt.Via.SMS_BRIDGE_OTHER:
        audit_record(
            actor="sms:bridge",
            action="case.bridge.other",
            object_type="case",
            object_id=bridge.case_id,
        )
    return Reply.OTHER_NUMBER if via == Attempt.Via.SMS_BRIDGE_OTHER else Reply.RELAYED


def bridges_sweep() -> None:
    """Bridges whose SMS could not be sent go to the call queue; waits that ran out end."""
    for bridge in SmsBridge.objects.filter(
        state=SmsBridge.State.WAITING, outbox__state=OutboxMessage.State.FAILED
    ):
        SmsBridge.objects.filter(pk=bridge.pk).update(state=SmsBridge.State.FAILED)
        _to_call_queue(bridge)
    SmsBridge.objects.filter(
        state__in=(SmsBridge.State.WAITING, SmsBridge.State.DELIVERED),
        expires_at__lt=timezone.now(),
    ).update(state=SmsBridge.State.EXPIRED)
