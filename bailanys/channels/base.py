"""The channel interface: send an outbox row, verify a webhook, report what came in.

A channel is transport only. It sends what the outbox hands it (as a
`bailanys.outbox.senders.Sender`), checks that a webhook really comes from its
provider, and turns what the provider tells it into typed events
(`bailanys.channels.events`). What a text *means* is decided above it, by the
conversations that subscribe to those events.
"""

from django.http import HttpRequest

from bailanys.outbox.senders import (
    ChannelBusy,
    ChannelError,
    ContactUnreachable,
    OutboundMessage,
    Sender,
)

__all__ = [
    "Channel",
    "ChannelBusy",
    "ChannelError",
    "ContactUnreachable",
    "OutboundMessage",
]


class Channel(Sender):
    """One kind of channel. Subclasses live in a folder of their own."""

    code: str = ""

    def send(self, message: OutboundMessage) -> str:
        """Send and return the provider's id for the message, or raise ChannelError."""
        raise NotImplementedError

    def verify_webhook(self, request: HttpRequest) -> bool:
        """True when an inbound request really comes from the provider.

        For a channel with one webhook (Telegram). SMS gateways each sign their own way,
        so each SMS driver checks its webhook (smsgate/webhook.py, twilio/views.py).
        """
        return False
