import logging

from bailanys.channels.base import Channel, OutboundMessage

logger = logging.getLogger("bailanys.channels.log")


class LogChannel(Channel):
    """For operators trying things out: logs that a message went, never what it said."""

    code = "log"

    def send(self, message: OutboundMessage) -> str:
        logger.info("outbox %s sent (%d characters)", message.outbox_id, len(message.body))
        return f"log-{message.outbox_id}"
