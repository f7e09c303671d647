"""The channel interface. The relay core talks to channels only through this."""

from dataclasses import dataclass, field

from django.http import HttpRequest


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


@dataclass(frozen=True)
class OutboundMessage:
    outbox_id: int
    address: str
    body: str
    idempotency_key: str
    # Channel-specific, never personal data: buttons, the post to reply to.
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InboundMessage:
    channel: str
    provider_id: str
    sender: str
    text: str
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RateLimit:
    """How fast a channel may send: `messages` per `seconds`; None means no limit."""

    messages: int | None
    seconds: float = 1.0


class Channel:
    """One kind of channel. Subclasses live in a folder of their own."""

    code: str = ""

    def send(self, message: OutboundMessage) -> str:
        """Send and return the provider's id for the message, or raise ChannelError."""
        raise NotImplementedError

    def rate_limit(self) -> RateLimit:
        return RateLimit(messages=None)

    def verify_webhook(self, request: HttpRequest) -> bool:
        """True when an inbound request really comes from the provider."""
        return False

    def parse_webhook(self, request: HttpRequest) -> list[InboundMessage]:
        return []
