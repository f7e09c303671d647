"""What channels report, as typed events, and who listens.

A channel turns a provider's webhook (or a modem's spool, or a poll) into one of
these events and emits it. Conversations subscribe at start-up, in their
AppConfig.ready; a channel never knows who listens. Handlers run in the caller's
transaction, so an event and what it causes are stored together or not at all.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TextReceived:
    """A person's text, whole (the parts of a long SMS already joined)."""

    channel: str
    # Our own id for the received message: answers use it in their idempotency keys.
    message_id: int
    # E.164 when `is_phone`, else the sender's name as the network gave it (a bank).
    sender: str
    # A keyed blind index of the sender: finds them again without decrypting.
    sender_key: str
    is_phone: bool
    text: str
    received_at: datetime


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's final word on an outbox row: "delivered" or "failed"."""

    channel: str
    outbox_id: int
    state: str


@dataclass(frozen=True)
class DeliveryTried:
    """A provider's final word on one try of an outbox row, even one that is sent again:
    what the network did with it (the shutdown's state counts these, docs/status.md)."""

    channel: str
    outbox_id: int
    state: str


@dataclass(frozen=True)
class Heartbeat:
    """A gateway said it is alive; battery and network when it told them."""

    channel: str
    gateway_id: int
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateReceived:
    """One Telegram update, already checked and seen once; `update` is python-telegram-bot's.

    Returns, from its handler, what the webhook answers Telegram with (or None).
    """

    channel: str
    update: Any


Event = TextReceived | DeliveryReport | DeliveryTried | Heartbeat | UpdateReceived
_HANDLERS: dict[type, list[Callable[[Any], Any]]] = {}


def subscribe(event_type: type, handler: Callable[[Any], Any]) -> None:
    """Called from an AppConfig.ready; the same handler twice is kept once."""
    handlers = _HANDLERS.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type, handler: Callable[[Any], Any]) -> None:
    handlers = _HANDLERS.get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)


def emit(event: Event) -> Any:
    """Hand an event to every handler of its type; returns the last non-None answer."""
    answer = None
    for handler in _HANDLERS.get(type(event), []):
        result = handler(event)
        if result is not None:
            answer = result
    return answer
