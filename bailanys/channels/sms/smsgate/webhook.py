"""sms-gate.app's webhook events: received SMS, delivery reports and heartbeats.

Every webhook is authenticated first (the signature names the gateway), then
deduplicated on the event's own id, then turned into what every gateway kind reports
(inbound_accept, delivery_report, gateway_heard).
"""

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from bailanys.channels.sms.gateways import gateway_heard, gateways_configured
from bailanys.channels.sms.inbound import delivery_report, inbound_accept
from bailanys.channels.sms.models import SmsEvent, SmsGateway
from bailanys.channels.sms.smsgate import signature_valid
from bailanys.privacy.crypto import DecryptionError


def webhook_gateway(request: HttpRequest) -> SmsGateway | None:
    """The gateway whose signing key signed this request, or None (refuse it)."""
    signature = request.headers.get("X-Signature", "")
    timestamp = request.headers.get("X-Timestamp", "")
    for gateway in gateways_configured():
        try:
            key = gateway.signing_key
        except DecryptionError:
            continue  # sealed under a key that is gone: it signs nothing any more
        if signature_valid(
            key,
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
    return delivery_report(gateway, message_id, state)


def _received(gateway: SmsGateway, payload: dict) -> str:
    # Newer apps name the sender `sender` (and the SIM's own number `recipient`); older ones
    # `phoneNumber`, which newer ones still send.
    raw_sender = payload.get("sender") or payload.get("phoneNumber")
    text = payload.get("message")
    if not isinstance(raw_sender, str) or not isinstance(text, str):
        return "ignored"
    # The app makes messageId from the sender, the SIM, the text and the time the phone
    # received the SMS: a re-delivery carries the same, a person's repeat a new one.
    message_id = payload.get("messageId")
    return inbound_accept(
        gateway,
        raw_sender,
        text,
        provider_id=message_id if isinstance(message_id, str) else "",
        received_at=phone_time(payload.get("receivedAt")),
    )


def phone_time(value) -> datetime | None:
    """The app's ISO 8601 time with the phone's offset ("2024-06-22T15:46:11.000+07:00")."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
