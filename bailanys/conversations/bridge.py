"""The SMS bridge: a message goes to the recipient by SMS; their SMS answer comes back.

When a case of a bridged kind (BAILANYS_SMS_BRIDGE_KINDS, by default deliver_message)
opens and an SMS gateway is configured, the message is sent to the recipient from a local
SIM, in their language, signed with a short reference. The case stays out of the call
queue for BAILANYS_SMS_BRIDGE_MINUTES. Their SMS answer (from the number we wrote to, or
quoting the reference) closes the case; its words go to the requester the SMS named
(the first), and the others learn only that she answered. A failed delivery
puts the case in the call queue at once; no answer in time, when the wait ends.
Requesters hear "delivered" only from a delivery report, never from "sent".
"""

import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bailanys.channels.events import DeliveryReport
from bailanys.channels.sms.adapter import number_key
from bailanys.channels.sms.gateways import gateways_configured
from bailanys.channels.sms.models import SmsDelivery
from bailanys.conversations.models import ChannelSetting, SmsBridge
from bailanys.outbox.models import OutboxMessage
from bailanys.outbox.services import outbox_add
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.relay.models import Attempt, Kind, Request, Resolution
from bailanys.relay.services import (
    case_close_by_sms,
    case_hold,
    case_lock_waiting,
    recipient_label,
    requesters_tell,
)

REF_RE = re.compile(r"\bB(\d{1,9})\b", re.IGNORECASE)
OPEN = (SmsBridge.State.WAITING, SmsBridge.State.DELIVERED, SmsBridge.State.EXPIRED)
ANSWER_DAYS = 7  # an answer this late still reaches the requesters


BRIDGE_KINDS = "sms.bridge_kinds"


def bridge_kinds() -> list[str]:
    """The case kinds sent by SMS first: the coordinators' choice, else the environment's."""
    chosen = ChannelSetting.objects.filter(key=BRIDGE_KINDS).first()
    return list(chosen.value) if chosen else list(settings.BAILANYS_SMS_BRIDGE_KINDS)


def bridge_kinds_set(kinds: list[str], *, by) -> None:
    kinds = [k for k in Kind.values if k in kinds]
    ChannelSetting.objects.update_or_create(key=BRIDGE_KINDS, defaults={"value": kinds})
    audit_record(
        actor=actor_label(by),
        action="sms.bridge.kinds",
        object_type="setting",
        object_id=0,
        detail=",".join(kinds)[:100],
    )


def on_case_opened(*, case_id: int, kind: str) -> None:
    """The relay's case_opened hook (registered in ConversationsConfig.ready)."""
    if kind not in bridge_kinds() or not gateways_configured():
        return
    bridge_start(case_id=case_id)


def bridge_start(*, case_id: int) -> SmsBridge | None:
    now = timezone.now()
    with transaction.atomic():
        case = case_lock_waiting(case_id=case_id)
        if case is None or SmsBridge.objects.filter(case=case).exists():
            return None
        first = case.requests.select_related("requester").order_by("created_at").first()
        if first is None:
            return None
        ref = f"B{case.pk}"
        values = {"message": first.message, "sender": first.requester.name, "ref": ref}
        with translation.override(case.recipient_language):
            if first.message:
                body = (
                    _(
                        "%(message)s\n— %(sender)s, via Bailanys volunteers. Reply to this SMS to "
                        "answer. %(ref)s"
                    )
                    % values
                )
            else:
                body = (
                    _(
                        "%(sender)s asks, via Bailanys volunteers, whether you are safe. Reply to "
                        "this SMS to answer. %(ref)s"
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


def bridge_reply(sender_e164: str, text: str) -> bool:
    """An SMS that answers a bridge message: relayed to the requesters. False if it is not one."""
    since = timezone.now() - timedelta(days=ANSWER_DAYS)
    bridges = SmsBridge.objects.filter(
        to_key=number_key(sender_e164), state__in=OPEN, created_at__gte=since
    )
    ref = REF_RE.search(text)
    bridge = None
    if ref:
        bridge = bridges.filter(ref=f"B{ref.group(1)}").first()
    bridge = bridge or bridges.order_by("-created_at").first()
    if bridge is None:
        return False
    answer = REF_RE.sub("", text).strip() if ref else text.strip()
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
            via=Attempt.Via.SMS_BRIDGE,
            known_request=named,  # the SMS named its requester: she answered them
        )
    return True


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
