from bailanys.channels.base import Channel, OutboundMessage


class WebChannel(Channel):
    """The requester's status page. Sending makes the message visible there."""

    code = "web"

    def send(self, message: OutboundMessage) -> str:
        return f"web-{message.outbox_id}"
