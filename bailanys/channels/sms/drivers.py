"""The SMS driver base: what every kind of SMS gateway does, and the errors it raises.

A driver lives in a folder of its own (``smsgate/``, ``twilio/``, ``gammu/``) and is
registered for its gateway kind in ChannelsConfig.ready. The SMS channel
(``adapter.py``) spreads messages over gateways and calls ``driver_for(gateway).send``;
the worker's sweep calls ``poll_all`` on each driver, for gateways that must be asked
rather than calling us (a modem's spool).
"""

import base64
import json
import urllib.error
import urllib.request

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


def http_post(gateway, url: str, data: bytes, *, content_type: str, detail=None) -> dict:
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
