"""Our own sensors of the shutdown's state (docs/status.md): what the channels see of
the networks, passed to bailanys.outages. Only an operator's name, a result and a time
are kept: never a number, a name or a text.

- An SMS delivery report counts for the operator of the number it went to: each try's,
  a failed one that is sent again through another SIM included (the network failed it).
  A stale phone's timeout does not count: our phone failed, not the network.
- A gateway's heartbeat, and a Telegram requester writing to the bot, say that the
  gateway, and Telegram, reach us: shown as evidence, not a state.
"""

from bailanys.channels.events import DeliveryTried, Heartbeat
from bailanys.outages.services import heard, sms_report


def delivery_sensed(report: DeliveryTried) -> None:
    if report.channel == "sms":
        sms_report(outbox_id=report.outbox_id, state=report.state)


def heartbeat_sensed(beat: Heartbeat) -> None:
    heard("gateway")


def telegram_sensed() -> None:
    heard("telegram")
