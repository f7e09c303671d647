"""The Telegram channel behind the channel interface: send at Telegram's limits."""

import hmac
import re

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from bailanys.channels.base import (
    Channel,
    ChannelBusy,
    ChannelError,
    ContactUnreachable,
    OutboundMessage,
)
from bailanys.channels.ratelimit import hold, send_slot
from bailanys.channels.telegram import client as api
from bailanys.privacy.crypto import blind_index

# A worker waits this long for room in the bot's overall limit; beyond it the message is
# put back. A busy chat is not waited for at all (send_slot's not_waited_for).
MAX_WAIT = 2.0
OVERALL = "telegram"
CHANNEL_NAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{4,31}$")


def chat_key(chat_id: int | str) -> str:
    """The keyed index of a chat id: finds a chat (or its rate bucket) without storing the id."""
    return blind_index(f"telegram:{chat_id}")


def _chat_bucket(chat_id: int | str) -> tuple[str, float]:
    # Group and channel ids are negative, a public channel's name starts with "@";
    # groups get 20 messages a minute.
    ms = (
        settings.BAILANYS_TELEGRAM_GROUP_INTERVAL_MS
        if isinstance(chat_id, str) or chat_id < 0
        else settings.BAILANYS_TELEGRAM_CHAT_INTERVAL_MS
    )
    return f"telegram:chat:{chat_key(chat_id)[:40]}", ms / 1000


def _link_buttons(body: str, options: dict) -> tuple[str, list | None]:
    """The text and buttons to send. With options["link_buttons"] (labels), the body's
    lines that are http(s) links leave the text and become URL buttons, one a row, before
    the other buttons: the links are personal-grade secrets (proxies), kept in the sealed
    body and never in the options, which are stored in clear."""
    buttons = options.get("buttons")
    labels = options.get("link_buttons")
    if not labels:
        return body, buttons
    lines = body.split("\n")
    links = [line for line in lines if line.startswith(("https://", "http://"))]
    if len(links) != len(labels):
        return body, buttons  # not what was meant: send the links as text
    text = "\n".join(line for line in lines if line not in links)
    return text or body, [[(label, link)] for label, link in zip(labels, links, strict=True)] + (
        buttons or []
    )


def _chat_id(address: str) -> int | str:
    """A chat id, or a public channel's "@username" (the Bot API takes both: the status
    posts go to a channel by its name, docs/status.md)."""
    if CHANNEL_NAME.match(address):
        return address
    try:
        return int(address)
    except ValueError:
        raise ContactUnreachable("not a Telegram chat id") from None


class TelegramChannel(Channel):
    code = "telegram"

    def send(self, message: OutboundMessage) -> str:
        chat_id = _chat_id(message.address)
        chat_bucket = _chat_bucket(chat_id)
        send_slot(
            [(OVERALL, 1.0 / settings.BAILANYS_TELEGRAM_PER_SECOND), chat_bucket],
            max_wait=MAX_WAIT,
            not_waited_for=chat_bucket[0],
        )
        options = message.options or {}
        text, buttons = _link_buttons(message.body, options)
        try:
            sent = api.client().send_message(
                chat_id,
                text,
                buttons=buttons,
                reply_to=options.get("reply_to"),
            )
        except api.TooFast as exc:
            hold(chat_bucket[0], exc.retry_after)
            raise ChannelBusy(exc.retry_after, "Telegram answered 429") from None
        except (api.Blocked, api.ChatGone) as exc:
            from bailanys.channels.telegram.models import TelegramChat

            TelegramChat.objects.filter(chat_key=chat_key(chat_id)).update(
                blocked_at=timezone.now()
            )
            raise ContactUnreachable(type(exc).__name__) from None
        except (api.CallFailed, api.NotConfigured) as exc:
            raise ChannelError(str(exc)[:200]) from None
        return f"tg-{sent}"

    def per_second(self) -> float:
        return float(settings.BAILANYS_TELEGRAM_PER_SECOND)

    def verify_webhook(self, request: HttpRequest) -> bool:
        secret = settings.BAILANYS_TELEGRAM_WEBHOOK_SECRET
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())
