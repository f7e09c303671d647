"""Channel types by code. A channel registers itself by being listed here."""

from bailanys.channels.base import Channel
from bailanys.channels.log.adapter import LogChannel
from bailanys.channels.sms.adapter import SmsChannel
from bailanys.channels.telegram.adapter import TelegramChannel
from bailanys.channels.web.adapter import WebChannel

_CHANNELS: dict[str, type[Channel]] = {
    c.code: c for c in (WebChannel, LogChannel, TelegramChannel, SmsChannel)
}


class UnknownChannel(LookupError):
    pass


def channel_get(code: str) -> Channel:
    try:
        return _CHANNELS[code]()
    except KeyError:
        raise UnknownChannel(code) from None


def channel_codes() -> list[str]:
    return sorted(_CHANNELS)
