"""Twilio-style HTTP SMS providers: send through the Messages API, take status callbacks and
incoming-message webhooks signed with X-Twilio-Signature.

A gateway of kind "http" keeps the provider's API base in `url` (https://api.twilio.com, or a
compatible provider's), the Account SID in `username`, the auth token in `password` and the
sending number in `from_number`.

Sending is ``POST {url}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``,
``From``, ``Body`` and ``StatusCallback``, with basic auth SID:token; the answer (201) is the
Message resource as JSON, whose ``sid`` we keep. The Messages API takes no idempotency key, so
a send whose answer is lost on the way back may go out twice, as with any such provider.

Twilio posts form-encoded webhooks and signs each with ``X-Twilio-Signature``: the base64
HMAC-SHA1, keyed with the auth token, of the full URL Twilio requested followed by every POST
parameter's name and value, sorted by name, with no delimiters. The URL must be the one Twilio
was given, so behind a reverse proxy (TLS terminated, another host name) set
BAILANYS_PUBLIC_URL: the URL checked is then BAILANYS_PUBLIC_URL + the request's path and
query, and it is also the base of the StatusCallback URL sent with every message. Without it
the URL is the one Django sees (``request.build_absolute_uri()``), right only when Twilio
reaches Django directly.

Point the number's "A message comes in" webhook (HTTP POST) at
``{BAILANYS_PUBLIC_URL}/channels/http-sms/<gateway name>/inbound``; status callbacks go to
``…/channels/http-sms/<gateway name>/status`` by themselves.
"""

import base64
import hashlib
import hmac
import json
import urllib.parse

from django.conf import settings
from django.http import QueryDict
from django.utils.encoding import escape_uri_path

from bailanys.channels.sms.drivers import GatewayDown, Refused, SmsDriver, http_post
from bailanys.channels.sms.models import SmsGateway

API_VERSION = "2010-04-01"
TIMEOUT = 10  # seconds: a provider that takes longer is treated as not answering
# Twilio's MessageStatus -> our delivery state; queued, sending, accepted, … say nothing new.
STATES = {"sent": "sent", "delivered": "delivered", "undelivered": "failed", "failed": "failed"}
# An empty TwiML answer: the message is taken, Twilio sends no reply of its own.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def callback_path(gateway_name: str, kind: str) -> str:
    """/channels/http-sms/<name>/<kind>, escaped as Django's request.get_full_path() gives it."""
    return escape_uri_path(f"/channels/http-sms/{gateway_name}/{kind}")


def send(gateway: SmsGateway, to_e164: str, text: str, *, idempotency_key: str) -> str:
    """Hand one SMS to the provider; returns its message sid (SM…)."""
    base = gateway.url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise Refused("the provider's address must start with http:// or https://")
    if not gateway.username or not gateway.from_number:
        raise Refused("the gateway needs an account SID (username) and a from number")
    form = {"To": to_e164, "From": gateway.from_number, "Body": text}
    if settings.BAILANYS_PUBLIC_URL:
        form["StatusCallback"] = settings.BAILANYS_PUBLIC_URL + callback_path(
            gateway.name, "status"
        )
    account = urllib.parse.quote(gateway.username, safe="")
    answer = http_post(
        gateway,
        f"{base}/{API_VERSION}/Accounts/{account}/Messages.json",
        urllib.parse.urlencode(form).encode(),
        content_type="application/x-www-form-urlencoded",
        detail=_error_code,
    )
    sid = answer.get("sid")
    if not isinstance(sid, str) or not sid:
        raise GatewayDown("no message sid in the answer")
    return sid


def _error_code(body: bytes) -> str:
    """Twilio's numeric error code (21211: not a valid 'To' number…), never its message, which
    may quote the number."""
    try:
        code = json.loads(body or b"{}").get("code")
    except (ValueError, AttributeError):
        return ""
    return f", error {code}" if isinstance(code, int) else ""


# --- Webhooks ----------------------------------------------------------------------


def _pairs(params: dict[str, list[str]] | QueryDict) -> list[tuple[str, list[str]]]:
    if isinstance(params, QueryDict):
        return list(params.lists())
    return [(name, value if isinstance(value, list) else [value]) for name, value in params.items()]


def compute_signature(token: str, url: str, params: dict[str, list[str]] | QueryDict) -> str:
    """X-Twilio-Signature for a request to `url` with these POST parameters.

    The URL, then each parameter name followed by its value, names sorted (a name sent more
    than once: its values sorted too, as Twilio's helper libraries do); HMAC-SHA1 keyed with
    the auth token, base64.
    """
    data = url
    for name, values in sorted(_pairs(params), key=lambda pair: pair[0]):
        for value in sorted(values):
            data += name + value
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    """The URL as given, without its port, and with it (the scheme's default when none).

    Twilio's helper libraries accept the last two, as Twilio has signed both forms.
    """
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # not a number
        return [url]
    if not parts.hostname:
        return [url]
    userinfo, at, host = parts.netloc.rpartition("@")
    bare = host[: host.index("]") + 1] if host.startswith("[") else host.partition(":")[0]
    without = parts._replace(netloc=f"{userinfo}{at}{bare}").geturl()
    with_port = parts._replace(netloc=f"{userinfo}{at}{bare}:{port}").geturl()
    return list(dict.fromkeys([url, without, with_port]))


def signature_valid(
    token: str, url: str, params: dict[str, list[str]] | QueryDict, signature: str
) -> bool:
    """Twilio signed this request (constant-time comparison)."""
    if not token or not signature:
        return False
    given = signature.strip().encode()
    valid = False
    for candidate in _port_variants(url):
        expected = compute_signature(token, candidate, params).encode()
        valid |= hmac.compare_digest(expected, given)
    return valid


class TwilioDriver(SmsDriver):
    """A Twilio-style HTTP SMS provider (kind "http")."""

    kind = SmsGateway.Kind.HTTP
    up_when_it_takes_a_message = True

    def send(self, gateway, to_e164: str, text: str, *, idempotency_key: str) -> str:
        return send(gateway, to_e164, text, idempotency_key=idempotency_key)
