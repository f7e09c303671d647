"""A small local fake of SMS Gateway for Android (sms-gate.app), for tests.

It listens on 127.0.0.1 over a real socket and answers like the app's Local Server API
(https://docs.sms-gate.app/getting-started/local-server/, source: github.com/capcom6/
android-sms-gateway, modules/localserver): ``POST /message`` with basic auth queues a text and
answers 202 with its id and ``Pending`` state, ``GET /message/{id}`` gives the current state. The
plural ``/messages`` and the cloud paths ``/3rdparty/v1/message(s)`` are accepted too.

It also plays the phone's side of webhooks (https://docs.sms-gate.app/features/webhooks/): events
``{"id", "webhookId", "event", "deviceId", "payload"}`` posted as JSON and signed with
``X-Signature`` = hex HMAC-SHA256(signing key, raw body + ``X-Timestamp``), ``X-Timestamp`` =
Unix seconds. ``build_*`` return the signed request without sending it, for the Django test
client; ``receive``, ``report`` and ``ping`` send it to the URL set with ``deliver_to``.

Failures can be injected: ``fail_next`` (an error status, or 0 to drop the connection), ``silent``
(hang without answering) and ``delay``. Standard library only.
"""

import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.fakes.base import FakeHttpService, basic_auth_matches, read_json

USERNAME = "bailanys"
PASSWORD = "gate-pass"
SIGNING_KEY = "test-signing-key"
HANG_TIMEOUT = 30.0
# The phone's local time: receivedAt/sentAt/... carry the device's offset (Kazakhstan, UTC+5).
DEVICE_TZ = timezone(timedelta(hours=5))
MESSAGE_PATHS = ("/message", "/messages", "/3rdparty/v1/message", "/3rdparty/v1/messages")
# report(state) -> (webhook event, payload time field, message state)
REPORTS = {
    "sent": ("sms:sent", "sentAt", "Sent"),
    "delivered": ("sms:delivered", "deliveredAt", "Delivered"),
    "failed": ("sms:failed", "failedAt", "Failed"),
}
STATES = ("Pending", "Processed", "Sent", "Delivered", "Failed")
# Health check connection:transport flags (docs/features/health.md).
NETWORKS = {"none": 0, "unknown": 1, "cellular": 2, "wifi": 4, "ethernet": 8}
_NANOID = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def nanoid() -> str:
    """A 21-character id like the app's (jnanoid), e.g. ``Ey6ECgOkVVFjz3CL48B8C``."""
    return "".join(secrets.choice(_NANOID) for _ in range(21))


def device_time(when: datetime | str | None = None) -> str:
    """An ISO 8601 time with milliseconds and the device's offset, as the app sends it."""
    if isinstance(when, str):
        return when
    return (when or datetime.now(DEVICE_TZ)).astimezone(DEVICE_TZ).isoformat("T", "milliseconds")


def _java_hash(text: str) -> int:
    """Java's String.hashCode (over UTF-16 code units), as a signed 32-bit int."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i : i + 2], "big")) & 0xFFFFFFFF
    return h


def received_message_id(phone: str, received_at: str, sim: int | None, text: str) -> str:
    """The ``messageId`` the app gives a received SMS: ``InboxMessage.Text.hashCode()`` as an
    unsigned hex number (modules/receiver/ReceiverService.kt), over the sender's address, the
    time received (Date.hashCode of its milliseconds), the subscription (the SIM here) and
    the text. Not unique in general, but the same for one SMS delivered twice."""
    millis = int(datetime.fromisoformat(received_at).timestamp() * 1000)
    date_hash = (millis ^ (millis >> 32)) & 0xFFFFFFFF
    h = _java_hash(phone)
    h = (31 * h + date_hash) & 0xFFFFFFFF
    h = (31 * h + (sim or 0)) & 0xFFFFFFFF
    h = (31 * h + _java_hash(text)) & 0xFFFFFFFF
    return format(h, "x")


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "smsgate"


def fixture(name: str) -> dict:
    """A recorded webhook body from tests/fixtures/smsgate/ (``name`` without ``.json``)."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def sign(key: str, body: bytes, timestamp: str) -> str:
    """The ``X-Signature`` the app sends: hex HMAC-SHA256 of the raw body then the timestamp."""
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def _aggregate(states: list[str]) -> str:
    """A message's state from its recipients' (docs/features/status-tracking.md)."""
    for state in ("Pending", "Processed"):
        if state in states:
            return state
    for state in ("Delivered", "Failed"):
        if all(s == state for s in states):
            return state
    return "Sent"


class FakeSmsGate(FakeHttpService):
    """A fake SMS Gateway for Android local server at ``url`` (no trailing slash).

    ``outbox`` lists accepted messages (id, text, phoneNumbers, simNumber, withDeliveryReport,
    body, t); ``calls`` every request (method, path, body, status, t), in order of ``t``, the
    ``time.monotonic()`` of its arrival; ``webhooks`` every event sent with ``receive``,
    ``report``, ``ping`` or ``post_raw``. ``sims`` is the number of SIM cards: a message asking
    for a higher ``simNumber`` is accepted, as by the app, then fails.
    """

    def __init__(
        self,
        username: str = USERNAME,
        password: str = PASSWORD,
        *,
        device_id: str = "dev-1",
        sims: int = 1,
    ):
        super().__init__()
        self.username = username
        self.password = password
        self.device_id = device_id
        self.sims = sims
        self.webhook_url = ""
        self.signing_key: str | None = SIGNING_KEY
        self.delay = 0.0
        self.outbox: list[dict] = []
        self.webhooks: list[dict] = []
        self.messages: dict[str, dict] = {}
        self._silent = False
        self._released = threading.Event()
        self._released.set()
        self._stopped = False
        self._sim_numbers: dict[str, int | None] = {}

    def stop(self) -> None:
        self._stopped = True
        self._released.set()  # hanging requests end without an answer
        super().stop()

    # Failure modes

    @property
    def silent(self) -> bool:
        """While True, requests are read but not answered: the phone hangs.

        A hanging request is answered as usual (a slow phone) once ``silent`` is set back to
        False; after ``HANG_TIMEOUT`` seconds, or at ``stop()``, its connection is closed without
        an answer and the message is not queued.
        """
        return self._silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self._silent = bool(value)
        if value:
            self._released.clear()
        else:
            self._released.set()

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        message: str | None = None,
        retry_after: int | None = None,
        method: str | None = "POST",
    ) -> None:
        """The next ``count`` authorized requests (``POST`` by default; any if ``method`` is
        None) fail with ``status`` and ``{"message": ...}``; status 0 closes the connection
        without an answer. Nothing is queued."""
        self._add_failure(
            {
                "status": status,
                "count": count,
                "message": message or f"Error {status}",
                "retry_after": retry_after,
                "method": method.upper() if method else None,
            }
        )

    # What tests look at

    def wait_for_outbox(self, n: int = 1, timeout: float = 5.0) -> list[dict]:
        """The outbox once it holds at least ``n`` messages (or as it is after ``timeout``)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.outbox) >= n, timeout)
            return list(self.outbox)

    def message(self, message_id: str) -> dict | None:
        """The message as ``GET /message/{id}`` answers it, or None."""
        with self._cond:
            stored = self.messages.get(message_id)
            return json.loads(json.dumps(stored)) if stored else None

    def set_state(
        self, message_id: str, state: str, *, phone: str | None = None, error: str | None = None
    ) -> dict:
        """Move recipient ``phone`` (all recipients if None) of a queued message to ``state``
        (``Pending``, ``Processed``, ``Sent``, ``Delivered`` or ``Failed``); the message's state
        follows. Returns the message. No webhook is sent."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        with self._cond:
            stored = self.messages.get(message_id)
            if stored is None:
                raise KeyError(message_id)
            recipients = [
                r for r in stored["recipients"] if phone is None or r["phoneNumber"] == phone
            ]
            if not recipients:
                raise KeyError(phone)
            for recipient in recipients:
                recipient["state"], recipient["error"] = state, error
            stored["state"] = _aggregate([r["state"] for r in stored["recipients"]])
            stored["states"].setdefault(stored["state"], device_time())
            return json.loads(json.dumps(stored))

    # Webhooks: what the phone sends

    def deliver_to(self, url: str, signing_key: str | None = SIGNING_KEY) -> None:
        """Send events to ``url``, signed with ``signing_key`` (unsigned if None)."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the webhook URL must be http(s)")
        self.webhook_url = url
        self.signing_key = signing_key

    def build_event(
        self,
        event: str,
        payload: dict,
        *,
        event_id: str | None = None,
        timestamp: int | str | None = None,
    ) -> tuple[bytes, dict]:
        """The raw body and headers of a webhook request, signed unless ``signing_key`` is None.

        The body is compact UTF-8 JSON (as the app's Gson writes it; non-ASCII not escaped).
        ``timestamp`` (Unix seconds) overrides the current time, for staleness tests. The
        headers hold no Content-Type: pass ``content_type="application/json"`` to the Django
        test client.
        """
        body = {
            "id": event_id or nanoid(),
            "webhookId": f"wh-{event.replace(':', '-')}",
            "event": event,
            "deviceId": self.device_id,
            "payload": payload,
        }
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {}
        if self.signing_key is not None:
            stamp = str(int(time.time()) if timestamp is None else timestamp)
            headers = {"X-Signature": sign(self.signing_key, raw, stamp), "X-Timestamp": stamp}
        return raw, headers

    def build_received(
        self,
        phone: str,
        text: str,
        *,
        sim: int | None = 1,
        event_id: str | None = None,
        received_at: datetime | str | None = None,
        message_id: str | None = None,
        timestamp: int | str | None = None,
    ) -> tuple[bytes, dict]:
        """An ``sms:received`` event: ``phone`` sent ``text`` to this phone's SIM ``sim``.

        Its ``messageId`` is made as the app makes it (``received_message_id``): from the
        sender, the time the phone received the SMS, the SIM and the text. The app re-delivering
        one SMS sends the same id and ``receivedAt`` again (pass both to play it); the same words
        sent again by a person come at another time, so with another id.
        """
        if sim is not None and not 1 <= sim <= self.sims:
            raise ValueError(f"sim must be between 1 and {self.sims}")
        when = device_time(received_at)
        payload = {
            "messageId": message_id or received_message_id(phone, when, sim, text),
            "message": text,
            "sender": phone,
            "recipient": None,  # the SIM's own number: null when the app can't read it
            "phoneNumber": phone,
            "simNumber": sim,
            "receivedAt": when,
        }
        return self.build_event("sms:received", payload, event_id=event_id, timestamp=timestamp)

    def build_report(
        self,
        message_id: str,
        state: str,
        *,
        phone: str | None = None,
        event_id: str | None = None,
        reason: str = "Send result: RESULT_ERROR_GENERIC_FAILURE",
        at: datetime | str | None = None,
        timestamp: int | str | None = None,
    ) -> tuple[bytes, dict]:
        """An ``sms:sent``, ``sms:delivered`` or ``sms:failed`` event (``state`` "sent",
        "delivered" or "failed") for recipient ``phone`` of a message.

        If the fake queued the message, the recipient's state changes too (``phone`` may then
        be omitted when there is one recipient), as on the phone before it sends the event.
        """
        if state not in REPORTS:
            raise ValueError(f"state must be one of {sorted(REPORTS)}")
        event, time_field, new_state = REPORTS[state]
        with self._cond:
            stored = self.messages.get(message_id)
            numbers = [r["phoneNumber"] for r in stored["recipients"]] if stored else []
            sim = self._sim_numbers.get(message_id)
        if phone is None:
            if len(numbers) != 1:
                raise ValueError("phone is needed unless the message has exactly one recipient")
            phone = numbers[0]
        if stored:
            self.set_state(
                message_id, new_state, phone=phone, error=reason if state == "failed" else None
            )
        payload = {
            "messageId": message_id,
            "sender": None,  # this phone's own number: null when the app can't read it
            "recipient": phone,
            "phoneNumber": phone,
            "simNumber": sim,
            time_field: device_time(at),
        }
        if state == "failed":
            payload["reason"] = reason
        return self.build_event(event, payload, event_id=event_id, timestamp=timestamp)

    def build_fixture(
        self,
        name: str,
        *,
        event_id: str | None = None,
        timestamp: int | str | None = None,
        **payload,
    ) -> tuple[bytes, dict]:
        """A recorded event (tests/fixtures/smsgate/``name``.json) replayed from this phone:
        its payload fields updated with ``payload`` (``messageId``, ``sender``…), a new
        event id unless given, signed now. A received SMS whose sender, text, time or SIM
        changed gets the ``messageId`` the app would give it, unless one is given."""
        body = fixture(name)
        changed = dict(payload)
        merged = {**body["payload"], **changed}
        if body["event"] == "sms:received" and "messageId" not in changed and changed:
            merged["messageId"] = received_message_id(
                merged.get("sender") or merged["phoneNumber"],
                merged["receivedAt"],
                merged.get("simNumber"),
                merged["message"],
            )
        # The deprecated phoneNumber is the other party: the sender of a received SMS, the
        # recipient of a sent one.
        other = "sender" if body["event"] == "sms:received" else "recipient"
        if other in changed and "phoneNumber" not in changed:
            merged["phoneNumber"] = changed[other]
        return self.build_event(
            body["event"],
            merged,
            event_id=event_id or nanoid(),
            timestamp=timestamp,
        )

    def replay(self, name: str, **kwargs) -> dict:
        """Send a recorded event (see ``build_fixture``); returns ``{"status", "body",
        "event"}``."""
        return self._send(self.build_fixture(name, **kwargs))

    def build_ping(
        self,
        battery: int = 80,
        charging: bool | int = False,
        network: str = "wifi",
        *,
        event_id: str | None = None,
        timestamp: int | str | None = None,
    ) -> tuple[bytes, dict]:
        """A ``system:ping`` event: ``{"health": <the /health answer>}``."""
        payload = {"health": self.health(battery, charging, network)}
        return self.build_event("system:ping", payload, event_id=event_id, timestamp=timestamp)

    def health(self, battery: int = 80, charging: bool | int = False, network: str = "wifi"):
        """The phone's health report (docs/features/health.md, Local mode).

        ``charging`` is True/False or the documented flags (1 charging, 2 AC, 4 USB); True means
        charging on AC (3). ``network`` is none, unknown, cellular, wifi or ethernet.
        """
        flags = (3 if charging else 0) if isinstance(charging, bool) else charging
        transport = NETWORKS[network]
        with self._cond:
            hour_ago = time.monotonic() - 3600
            recent = [m for m in self.outbox if m["t"] >= hour_ago]
            failed = sum(self.messages[m["id"]]["state"] == "Failed" for m in recent)
        checks = {
            "messages:failed": self._check(
                "Failed messages for last hour",
                "messages",
                failed,
                "fail" if failed and failed == len(recent) else "warn" if failed else "pass",
            ),
            "connection:status": self._check(
                "Internet connection status",
                "Yes/No",
                int(transport != 0),
                "pass" if transport else "fail",
            ),
            "connection:transport": self._check(
                "Network transport type", "flags", transport, "pass"
            ),
            "connection:cellular": self._check(
                "Cellular network type", "index", 4 if transport == 2 else 0, "pass"
            ),
            "battery:level": self._check(
                "Battery level in percent",
                "percent",
                battery,
                "fail" if battery < 10 else "warn" if battery < 25 else "pass",
            ),
            "battery:charging": self._check("Is the phone charging?", "flags", flags, "pass"),
        }
        statuses = {c["status"] for c in checks.values()}
        status = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
        return {"checks": checks, "releaseId": 1, "status": status, "version": "1.0.0"}

    @staticmethod
    def _check(description, unit, value, status):
        return {
            "description": description,
            "observedUnit": unit,
            "observedValue": value,
            "status": status,
        }

    def post_raw(self, body: bytes, headers: dict | None = None) -> dict:
        """POST ``body`` with ``headers`` to the ``deliver_to`` URL, as the phone would (for
        forged or replayed requests). Returns ``{"status", "body"}``; a connection error
        raises ``urllib.error.URLError``."""
        if not self.webhook_url:
            raise RuntimeError("call deliver_to(url, signing_key) first")
        headers = {"Content-Type": "application/json", **(headers or {})}
        request = urllib.request.Request(self.webhook_url, body, headers)  # noqa: S310  http(s)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status, text = response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
        with self._cond:
            self.webhooks.append({"body": body, "status": status, "t": time.monotonic()})
        return {"status": status, "body": text}

    def _send(self, built: tuple[bytes, dict]) -> dict:
        body, headers = built
        return {**self.post_raw(body, headers), "event": json.loads(body)}

    def receive(self, phone: str, text: str, *, sim: int | None = 1, **kwargs) -> dict:
        """Send an ``sms:received`` event (see ``build_received``); returns ``{"status",
        "body", "event"}``."""
        return self._send(self.build_received(phone, text, sim=sim, **kwargs))

    def report(self, message_id: str, state: str, *, phone: str | None = None, **kwargs) -> dict:
        """Send an ``sms:sent``/``sms:delivered``/``sms:failed`` event (see ``build_report``);
        returns ``{"status", "body", "event"}``."""
        return self._send(self.build_report(message_id, state, phone=phone, **kwargs))

    def ping(
        self, battery: int = 80, charging: bool | int = False, network: str = "wifi", **kwargs
    ) -> dict:
        """Send a ``system:ping`` event (see ``build_ping``); returns ``{"status", "body",
        "event"}``."""
        return self._send(self.build_ping(battery, charging, network, **kwargs))

    # The server side

    def handle(self, method, target, headers, raw, received):
        path = unquote(urlsplit(target).path).rstrip("/") or "/"
        body = read_json(raw)
        call = {"method": method, "path": path, "body": body, "status": None, "t": received}
        self._record(call)
        if not self._released.is_set() and (not self._released.wait(HANG_TIMEOUT) or self._stopped):
            return None
        if self.delay:
            time.sleep(self.delay)
        answer = self._route(method, path, headers, raw, received)
        with self._cond:
            call["status"] = answer[0] if answer else None
        return answer

    def _route(self, method, path, headers, raw, received):
        if method == "GET" and path == "/health":
            return 200, self.health(), {}
        base, _, message_id = path.rpartition("/")
        if path not in MESSAGE_PATHS and base not in MESSAGE_PATHS:
            return 404, {"message": "Not Found"}, {}
        if not basic_auth_matches(headers, self.username, self.password):
            realm = {"WWW-Authenticate": 'Basic realm="Access to SMS Gateway", charset=UTF-8'}
            return 401, {"message": "Unauthorized"}, realm
        failure = self._take_failure(lambda rule: rule["method"] in (None, method))
        if failure:
            if failure["status"] == 0:
                return None
            extra = {"Retry-After": str(failure["retry_after"])} if failure["retry_after"] else {}
            return failure["status"], {"message": failure["message"]}, extra
        if method == "POST" and path in MESSAGE_PATHS:
            return self._post_message(raw, received)
        if method == "GET" and base in MESSAGE_PATHS:
            stored = self.message(message_id)
            return (200, stored, {}) if stored else (404, {"message": "Message not found"}, {})
        return 405, {"message": "Method Not Allowed"}, {}

    def _post_message(self, raw, received):
        def bad(message):
            return 400, {"message": message}, {}

        try:
            request = json.loads(raw)
        except ValueError as error:
            return bad(f"Failed to convert request body: {error}")
        if not isinstance(request, dict):
            return bad("Failed to convert request body: expected an object")
        kinds = [k for k in ("textMessage", "dataMessage", "mmsMessage", "message") if k in request]
        if not kinds:
            return bad(
                "Must specify exactly one of: textMessage, dataMessage, mmsMessage, or message"
            )
        if len(kinds) > 1:
            return bad("Cannot specify multiple message types simultaneously")
        if kinds[0] in ("dataMessage", "mmsMessage"):
            return bad(f"{kinds[0]} is not supported by the fake")
        content = request["message"] if kinds[0] == "message" else request["textMessage"]
        text = content.get("text") if isinstance(content, dict) else content
        if not isinstance(text, str) or not text:
            return bad("Text message is empty")
        numbers = request.get("phoneNumbers")
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
            return bad("Failed to convert request body: phoneNumbers must be a list of strings")
        if not numbers:
            return bad("phoneNumbers is empty")
        sim = request.get("simNumber")
        if sim is not None and (not isinstance(sim, int) or isinstance(sim, bool)):
            return bad("Failed to convert request body: simNumber must be an integer")
        if sim is not None and sim < 1:
            return bad("simNumber must be >= 1")
        message_id = request.get("id") or nanoid()
        if not isinstance(message_id, str):
            return bad("Failed to convert request body: id must be a string")
        now = device_time()
        stored = {
            "id": message_id,
            "deviceId": self.device_id,
            "state": "Pending",
            "isHashed": False,
            "isEncrypted": bool(request.get("isEncrypted", False)),
            "recipients": [{"phoneNumber": n, "state": "Pending", "error": None} for n in numbers],
            "states": {"Pending": now},
        }
        with self._cond:
            if message_id in self.messages:
                return 409, {"message": f"Message with id {message_id} already exists"}, {}
            self.messages[message_id] = json.loads(json.dumps(stored))
            self._sim_numbers[message_id] = sim
            self.outbox.append(
                {
                    "id": message_id,
                    "text": text,
                    "phoneNumbers": list(numbers),
                    "simNumber": sim,
                    "withDeliveryReport": request.get("withDeliveryReport", True),
                    "body": request,
                    "t": received,
                }
            )
            self._cond.notify_all()
        if sim is not None and sim > self.sims:
            self.set_state(message_id, "Failed", error=f"Can't send message: SIM {sim} not found")
        return 202, stored, {}


def phone_by_hand(port: int, webhook: str) -> None:
    """An SMS phone for trying Bailanys by hand (docs/sms.md, "Without a phone").

    Type "+77012345678 text" to receive an SMS from that number (or just "text" to send from
    the last number used); ":delivered ID" reports an SMS as delivered; ":quit" ends. The SMS
    Bailanys sends are printed as "phone -> NUMBER [ID]: text".
    """
    fake = FakeSmsGate().start(port)
    fake.deliver_to(webhook, SIGNING_KEY)
    print(f"Fake sms-gate.app phone at {fake.url}. Start Bailanys with:")
    print(f"  export BAILANYS_SMSGATE_URL={fake.url} BAILANYS_SMSGATE_USERNAME={fake.username}")
    print(f"  export BAILANYS_SMSGATE_PASSWORD={fake.password}")
    print(f"  export BAILANYS_SMSGATE_SIGNING_KEY={SIGNING_KEY}")
    print(f"  bailanys up --port {urlsplit(webhook).port or 80}")
    sender = "+77010000001"
    shown = 0

    def show():
        nonlocal shown
        while True:
            for message in fake.outbox[shown:]:
                to = ", ".join(message["phoneNumbers"])
                print(f"\nphone -> {to} [{message['id']}]: {message['text']}")
            shown = len(fake.outbox)
            time.sleep(0.3)

    threading.Thread(target=show, daemon=True).start()
    try:
        while True:
            line = input(f"{sender}> ").strip()
            if line == ":quit":
                break
            if line.startswith(":delivered "):
                print(fake.report(line.split()[1], "delivered")["status"])
                continue
            first, _, rest = line.partition(" ")
            if first.startswith("+") and first[1:].isdigit():
                sender, line = first, rest
            if line:
                answer = fake.receive(sender, line)
                if answer["status"] != 200:
                    print(f"the webhook answered {answer['status']}: is Bailanys running?")
    except (EOFError, KeyboardInterrupt):
        pass
    fake.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=phone_by_hand.__doc__)
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument(
        "--webhook",
        default="http://127.0.0.1:8000/channels/smsgate/webhook",
        help="Bailanys' webhook",
    )
    args = parser.parse_args()
    phone_by_hand(args.port, args.webhook)
