"""What the outbox needs of a channel, and the registry that channels fill at start-up.

The outbox knows no channel: each channel's AppConfig.ready registers its sender under
its code (``web``, ``telegram``, ``sms`` …), and the outbox looks the code up when a
message is due.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class ChannelError(Exception):
    """Sending failed. `permanent` means retrying cannot help (bad address, banned)."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


class ChannelBusy(ChannelError):
    """Not now: a rate limit says wait `retry_after` seconds. Not counted as a failed try."""

    def __init__(self, retry_after: float, reason: str = "rate limited"):
        super().__init__(reason)
        self.retry_after = max(0.0, float(retry_after))


class ContactUnreachable(ChannelError):
    """This contact cannot be reached on this channel any more (a blocked bot, a dead number).

    The outbox then falls back to another channel of the requester.
    """

    def __init__(self, reason: str):
        super().__init__(reason, permanent=True)


class UnknownChannel(LookupError):
    """No sender is registered under this code."""


@dataclass(frozen=True)
class OutboundMessage:
    outbox_id: int
    address: str
    body: str
    idempotency_key: str
    # Channel-specific, never personal data: buttons, the post to reply to.
    options: dict = field(default_factory=dict)
    # Its lane (bailanys.outbox.models.Lane): 0 is urgent; a channel with a budget (SMS)
    # gives the lanes behind it only a share.
    priority: int = 0


class Sender:
    """One way out. `send` returns the provider's id for the message or raises ChannelError."""

    code: str = ""

    def send(self, message: OutboundMessage) -> str:
        raise NotImplementedError

    def per_second(self) -> float | None:
        """The most messages a second the provider takes from us, or None for no limit:
        the outbox keeps about that times a round trip in flight (outbox_pump)."""
        return None


_waited = threading.local()


def waited(seconds: float) -> None:
    """A channel says its send spent `seconds` waiting for a rate limit, not on the
    provider: the outbox pump counts only the rest as the channel's round trip."""
    _waited.seconds = getattr(_waited, "seconds", 0.0) + seconds


def waited_take() -> float:
    """The seconds this thread's sends waited for limits since the last call."""
    seconds, _waited.seconds = getattr(_waited, "seconds", 0.0), 0.0
    return seconds


_SENDERS: dict[str, Callable[[], Sender]] = {}


def sender_register(code: str, factory: Callable[[], Sender]) -> None:
    """Called from a channel's AppConfig.ready; registering a code twice keeps the last."""
    _SENDERS[code] = factory


def sender_get(code: str) -> Sender:
    try:
        return _SENDERS[code]()
    except KeyError:
        raise UnknownChannel(code) from None


def sender_codes() -> list[str]:
    return sorted(_SENDERS)
