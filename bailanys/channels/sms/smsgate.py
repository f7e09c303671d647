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

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from bailanys.channels.sms.models import SmsGateway

TIMEOUT = 10  # seconds: a phone that takes longer is treated as not answering


class GatewayDown(Exception):
    """No answer, or an answer that says the gateway cannot send now (5xx, 401)."""


class Refused(Exception):
    """The gateway refused this message (4xx other than 401/429): another try cannot help."""


class AlreadyAccepted(Refused):
    """409 Conflict: the gateway already holds a message with this id (an earlier try)."""


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
        answer = post(
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


def post(gateway: SmsGateway, url: str, data: bytes, *, content_type: str, detail=None) -> dict:
    """POST to a gateway with its basic auth and read the JSON answer (every HTTP gateway kind).

    GatewayDown when it cannot send now (no answer, 401/403/429, 5xx), so the next SIM is
    tried; Refused for any other 4xx: this message can never go. `detail(exc)` may add
    what the refusal says (never text that could quote a number).
    """
    if not url.startswith(("http://", "https://")):
        raise Refused("the gateway's address must start with http:// or https://")
    auth = base64.b64encode(f"{gateway.username}:{gateway.password}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310  the scheme is checked above
        url,
        data=data,
        headers={
            "Content-Type": content_type,
            "Accept": "application/json",
            "Authorization": f"Basic {auth}",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403, 429) or exc.code >= 500:
            raise GatewayDown(f"HTTP {exc.code}") from None
        if exc.code == 409:
            raise AlreadyAccepted("HTTP 409") from None
        raise Refused(f"HTTP {exc.code}{detail(exc) if detail else ''}") from None
    except (OSError, ValueError) as exc:  # refused, reset, timed out, not JSON
        raise GatewayDown(type(exc).__name__) from None
    return answer if isinstance(answer, dict) else {}


def signature_valid(key: str, body: bytes, signature: str, timestamp: str, max_age: int) -> bool:
    """X-Signature over body + X-Timestamp, and a timestamp no older (or newer) than max_age."""
    if not key or not signature or not timestamp.isdigit():
        return False
    if abs(time.time() - int(timestamp)) > max_age:
        return False
    expected = hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())
