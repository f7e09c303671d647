"""sms-gate.app (SMS Gateway for Android): send through its local or cloud server, check
its webhook signatures.

Sending is POST {url}/message with basic auth and {"id", "textMessage": {"text"},
"phoneNumbers"}; in local mode {url} is the phone on the LAN (http://192.168.1.10:8080),
so nothing needs the internet. The id is ours, made from the outbox row's idempotency key:
when a worker dies after the phone took a message but before the row was marked sent,
the next try sends the same id, the app answers 409 Conflict ("message with the same ID
already exists") and the SMS is not sent twice. Webhooks carry X-Signature, the hex
HMAC-SHA256 of the raw body followed by the X-Timestamp value.
"""

import hashlib
import hmac
import json
import time

from bailanys.channels.sms.drivers import (
    AlreadyAccepted,
    GatewayDown,
    Refused,
    SmsDriver,
    http_post,
)
from bailanys.channels.sms.models import SmsGateway

__all__ = ["AlreadyAccepted", "GatewayDown", "Refused", "SmsGateDriver", "send", "signature_valid"]


def message_id(idempotency_key: str) -> str:
    """Our id for a message at the gateway: stable across tries, at most 36 characters
    (the app's limit), and saying nothing about the message or its recipient."""
    return "bl-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def send(gateway: SmsGateway, to_e164: str, text: str, *, idempotency_key: str) -> str:
    """Hand one SMS to the phone; returns the gateway's message id."""
    our_id = message_id(idempotency_key)
    body = {
        "id": our_id,
        "textMessage": {"text": text},
        "phoneNumbers": [to_e164],
        "withDeliveryReport": True,
    }
    if gateway.sim_number:
        body["simNumber"] = gateway.sim_number
    url = gateway.url.rstrip("/")
    try:
        answer = http_post(
            gateway,
            f"{url}/message",
            json.dumps(body, ensure_ascii=False).encode(),
            content_type="application/json",
        )
    except AlreadyAccepted:
        return our_id  # an earlier try reached the phone: it is sending that one
    given = answer.get("id")
    if not given:
        raise GatewayDown("no message id in the answer")
    return str(given)


def signature_valid(key: str, body: bytes, signature: str, timestamp: str, max_age: int) -> bool:
    """X-Signature over body + X-Timestamp, and a timestamp no older (or newer) than max_age."""
    if not key or not signature or not timestamp.isdigit():
        return False
    if abs(time.time() - int(timestamp)) > max_age:
        return False
    expected = hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


class SmsGateDriver(SmsDriver):
    """An Android phone running sms-gate.app, on the LAN or through its cloud server."""

    kind = SmsGateway.Kind.SMSGATE

    def send(self, gateway, to_e164: str, text: str, *, idempotency_key: str) -> str:
        return send(gateway, to_e164, text, idempotency_key=idempotency_key)
