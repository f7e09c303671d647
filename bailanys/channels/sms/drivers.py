"""The SMS driver base: what every kind of SMS gateway does, and the errors it raises.

A driver lives in a folder of its own (``smsgate/``, ``twilio/``, ``gammu/``) and is
registered for its gateway kind in ChannelsConfig.ready. The SMS channel
(``adapter.py``) spreads messages over gateways and calls ``driver_for(gateway).send``;
the worker's sweep calls ``poll_all`` on each driver, for gateways that must be asked
rather than calling us (a modem's spool).
"""

import base64
import json
import threading

import httpx

TIMEOUT = 10  # seconds: a gateway that takes longer is treated as not answering


class GatewayDown(Exception):
    """No answer, or an answer that says the gateway cannot send now (5xx, 401): the next
    gateway is tried."""


class Refused(Exception):
    """The gateway refused this message (4xx other than 401/429): another try cannot help."""


class AlreadyAccepted(Refused):
    """409 Conflict: the gateway already holds a message with this id (an earlier try)."""


class SmsDriver:
    """One kind of SMS gateway."""

    kind: str = ""
    # A provider that takes a message is up. A phone that takes one may still have lost
    # its SIM: only its heartbeat or its reports say it is alive.
    up_when_it_takes_a_message: bool = False

    def send(self, gateway, to_e164: str, text: str, *, idempotency_key: str) -> str:
        """Hand one SMS to the gateway; returns its id for the message.

        Raises GatewayDown (try another gateway) or Refused (this message cannot go)."""
        raise NotImplementedError

    def poll_all(self) -> None:
        """Ask this kind's gateways what happened; most kinds call us instead."""


_DRIVERS: dict[str, SmsDriver] = {}


def driver_register(driver: SmsDriver) -> None:
    _DRIVERS[driver.kind] = driver


def driver_for(gateway) -> SmsDriver:
    return _DRIVERS[gateway.kind]


def drivers() -> list[SmsDriver]:
    return list(_DRIVERS.values())


_pool: httpx.Client | None = None
_pool_lock = threading.Lock()


def _http() -> httpx.Client:
    """The process's keep-alive connections to gateways, shared by every sender thread."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = httpx.Client(
                timeout=TIMEOUT, limits=httpx.Limits(max_connections=64), follow_redirects=False
            )
        return _pool


def http_post(gateway, url: str, data: bytes, *, content_type: str, detail=None) -> dict:
    """POST to a gateway with its basic auth and read the JSON answer (every HTTP gateway kind).

    GatewayDown when it cannot send now (no answer, 401/403/429, 5xx, a redirect), so the
    next SIM is tried; Refused for any other 4xx: this message can never go. `detail(body)`
    may add what the refusal's body says (never text that could quote a number).
    """
    if not url.startswith(("http://", "https://")):
        raise Refused("the gateway's address must start with http:// or https://")
    auth = base64.b64encode(f"{gateway.username}:{gateway.password}".encode()).decode()
    headers = {
        "Content-Type": content_type,
        "Accept": "application/json",
        "Authorization": f"Basic {auth}",
    }
    try:
        response = _http().post(url, content=data, headers=headers)
    except (httpx.HTTPError, OSError, ValueError) as exc:  # refused, reset, timed out, bad URL
        raise GatewayDown(type(exc).__name__) from None
    code = response.status_code
    if code in (401, 403, 429) or code >= 500 or 300 <= code < 400:
        raise GatewayDown(f"HTTP {code}")
    if code == 409:
        raise AlreadyAccepted("HTTP 409")
    if code >= 400:
        raise Refused(f"HTTP {code}{detail(response.content) if detail else ''}")
    try:
        answer = json.loads(response.content or b"{}")
    except ValueError:  # not JSON
        raise GatewayDown("ValueError") from None
    return answer if isinstance(answer, dict) else {}
