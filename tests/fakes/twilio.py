"""A small local fake of Twilio's Programmable Messaging API, for tests.

It listens on 127.0.0.1 over a real socket and answers like the Messages resource
(https://www.twilio.com/docs/messaging/api/message-resource): ``POST
/2010-04-01/Accounts/{AccountSid}/Messages.json`` with basic auth (Account SID : auth token) and a
form-encoded ``To``, ``From``, ``Body`` (and optional ``StatusCallback``) creates a message and
answers 201 with the Message resource as JSON: ``sid`` is ``SM`` + 32 hex digits, ``status``
``queued``. Errors are Twilio's JSON ``{"code", "message", "more_info", "status"}``: 20003 for a
wrong login (401), 21604/21603/21602 for a missing To/From/Body, 21211 for a To that is not a
phone number, 21617 for a body over 1,600 characters (400). ``GET .../Messages/{sid}.json``
gives a message back.

It also plays Twilio's side of webhooks: ``build_status`` (a status callback,
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status) and ``build_inbound``
(the incoming message webhook, https://www.twilio.com/docs/messaging/guides/webhook-request)
return the form parameters and an ``X-Twilio-Signature`` header computed as Twilio documents
(https://www.twilio.com/docs/usage/webhooks/webhooks-security): base64 HMAC-SHA1, keyed with the
auth token, of the full URL followed by each parameter's name and value, sorted by name.

Failures can be injected with ``fail_next`` (an error status, or 0 to drop the connection) and
``delay``. Standard library only.
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.base import FakeHttpService, basic_auth_matches

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "token"
FROM_NUMBER = "+15005550006"
API = "/2010-04-01"
STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed")
# Twilio's error codes for the refusals the fake knows.
ERRORS = {
    20003: "Authenticate",
    20500: "Internal Server Error",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def new_sid(prefix: str = "SM") -> str:
    """A Twilio sid: two letters and 32 hex digits, e.g. ``SM2f8b…``."""
    return prefix + secrets.token_hex(16)


def sign(token: str, url: str, params: dict[str, str | list[str]]) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1(token, url + name1 + value1 + …), names sorted
    (and a repeated name's values sorted, as Twilio's helper libraries do)."""
    data = url
    for name in sorted(params):
        values = params[name] if isinstance(params[name], list) else [params[name]]
        for value in sorted(values):
            data += name + value
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _error(status: int, code: int, message: str | None = None) -> tuple[int, dict, dict]:
    return (
        status,
        {
            "code": code,
            "message": message or ERRORS.get(code, f"Error {code}"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        {},
    )


class FakeTwilio(FakeHttpService):
    """A fake Twilio Messages API at ``url`` (no trailing slash): use it as the gateway's url.

    ``outbox`` lists created messages (sid, to, from, body, status_callback, form, t); ``calls``
    every request (method, path, form, status, t), in order of ``t``, the ``time.monotonic()``
    of its arrival; ``messages`` the Message resources by sid.
    """

    content_type = "application/json; charset=utf-8"

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        from_number: str = FROM_NUMBER,
    ):
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.delay = 0.0
        self.outbox: list[dict] = []
        self.messages: dict[str, dict] = {}

    # Failure modes

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        code: int | None = None,
        message: str | None = None,
        method: str | None = "POST",
    ) -> None:
        """The next ``count`` authorized requests (``POST`` by default; any if ``method`` is
        None) fail with ``status`` and Twilio's error body (``code`` defaults to 20429 for 429,
        20003 for 401, 20500 otherwise); status 0 closes the connection without an answer.
        Nothing is created."""
        self._add_failure(
            {
                "status": status,
                "count": count,
                "code": code or {429: 20429, 401: 20003}.get(status, 20500),
                "message": message,
                "method": method.upper() if method else None,
            }
        )

    # What tests look at

    def wait_for_outbox(self, n: int = 1, timeout: float = 5.0) -> list[dict]:
        """The outbox once it holds at least ``n`` messages (or as it is after ``timeout``)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.outbox) >= n, timeout)
            return list(self.outbox)

    def bodies_to(self, number: str) -> list[str]:
        with self._cond:
            return [m["body"] for m in self.outbox if m["to"] == number]

    # Webhooks: what Twilio sends

    def build_status(
        self, url: str, sid: str, status: str, *, error_code: str | None = None
    ) -> tuple[dict[str, str], dict[str, str]]:
        """A status callback for message ``sid`` now in ``status`` (queued, sending, sent,
        delivered, undelivered, failed), signed for ``url``: ``(form parameters, headers)``.

        The parameters are those of Twilio's status callback for SMS: the standard request
        properties plus ``MessageStatus`` (and ``ErrorCode`` when undelivered or failed). If the
        fake created the message, its status changes too.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        with self._cond:
            stored = self.messages.get(sid)
            if stored:
                stored["status"] = status
        if status in ("undelivered", "failed") and error_code is None:
            error_code = "30003"  # Unreachable destination handset
        params = {
            "ApiVersion": API.strip("/"),
            "AccountSid": self.account_sid,
            "SmsSid": sid,
            "SmsStatus": status,
            "MessageSid": sid,
            "MessageStatus": status,
            "From": stored["from"] if stored else self.from_number,
            "To": stored["to"] if stored else "+15558675310",
        }
        if error_code:
            params["ErrorCode"] = error_code
        return params, {"X-Twilio-Signature": sign(self.auth_token, url, params)}

    def build_inbound(
        self, url: str, from_: str, body: str, sid: str | None = None
    ) -> tuple[dict[str, str], dict[str, str]]:
        """The incoming message webhook: ``from_`` texted ``body`` to this account's number,
        signed for ``url``: ``(form parameters, headers)``. A new ``sid`` unless given (pass the
        same one to play Twilio retrying the webhook)."""
        sid = sid or new_sid()
        params = {
            "ToCountry": "US",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "KZ" if from_.startswith("+7") else "",
            "To": self.from_number,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API.strip("/"),
        }
        return params, {"X-Twilio-Signature": sign(self.auth_token, url, params)}

    def build_fixture(
        self, name: str, url: str, **fields: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Recorded webhook parameters (tests/fixtures/twilio/``name``.json) replayed for
        ``url``: ``fields`` replace recorded ones (``MessageSid`` also sets ``SmsSid`` and, for
        an incoming message, ``SmsMessageSid``), signed with this account's token."""
        params = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        params["AccountSid"] = self.account_sid
        if "MessageSid" in fields:
            for twin in ("SmsSid", "SmsMessageSid"):
                if twin in params:
                    params[twin] = fields["MessageSid"]
        if "MessageStatus" in fields:
            params["SmsStatus"] = fields["MessageStatus"]
        params.update(fields)
        return params, {"X-Twilio-Signature": sign(self.auth_token, url, params)}

    # The server side

    def handle(self, method, target, headers, raw, received):
        path = unquote(urlsplit(target).path)
        pairs = parse_qs(raw.decode(errors="replace"), keep_blank_values=True)
        form = {name: values[-1] for name, values in pairs.items()}
        call = {"method": method, "path": path, "form": form, "status": None, "t": received}
        self._record(call)
        if self.delay:
            time.sleep(self.delay)
        answer = self._route(method, path, headers, form, received)
        with self._cond:
            call["status"] = answer[0] if answer else None
        return answer

    def _route(self, method, path, headers, form, received):
        prefix = f"{API}/Accounts/"
        if not path.startswith(prefix):
            return _error(404, 20404)
        if not basic_auth_matches(headers, self.account_sid, self.auth_token):
            return _error(401, 20003)
        account, _, rest = path[len(prefix) :].partition("/")
        if account != self.account_sid:
            return _error(404, 20404)
        failure = self._take_failure(lambda rule: rule["method"] in (None, method))
        if failure:
            if failure["status"] == 0:
                return None
            return _error(failure["status"], failure["code"], failure["message"])
        if method == "POST" and rest == "Messages.json":
            return self._create(form, received)
        found = re.fullmatch(r"Messages/(SM[0-9a-f]{32})\.json", rest)
        if method == "GET" and found:
            with self._cond:
                stored = self.messages.get(found.group(1))
                return (200, dict(stored), {}) if stored else _error(404, 20404)
        return _error(405, 20004, "Method not allowed")

    def _create(self, form, received):
        to, sender, body = form.get("To"), form.get("From"), form.get("Body")
        if not to:
            return _error(400, 21604)
        if not sender:
            return _error(400, 21603)
        if not body and not form.get("MediaUrl"):
            return _error(400, 21602)
        if not _E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if len(body) > 1600:
            return _error(400, 21617)
        sid = new_sid()
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        uri = f"{API}/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource = {
            "account_sid": self.account_sid,
            "api_version": API.strip("/"),
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }
        with self._cond:
            self.messages[sid] = resource
            self.outbox.append(
                {
                    "sid": sid,
                    "to": to,
                    "from": sender,
                    "body": body,
                    "status_callback": form.get("StatusCallback"),
                    "form": dict(form),
                    "t": received,
                }
            )
            self._cond.notify_all()
        return 201, dict(resource), {}
