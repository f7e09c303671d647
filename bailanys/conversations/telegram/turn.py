"""One update's answers, and what every part of the bot shares: the chat, its step and
draft, the language, the status link."""

import json
import re
from dataclasses import dataclass, field

from django.conf import settings

from bailanys.channels.models import TelegramChat
from bailanys.channels.telegram.adapter import chat_key
from bailanys.outbox.services import outbox_add
from bailanys.relay.models import Outcome

CHANNEL = "telegram"
GROUP_SOURCE = "telegram-group"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "kk": "Қазақша"}
COMMAND_RE = re.compile(r"^/([A-Za-z_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
SKIP = {"-", "\u2014", "\u2013"}  # a hyphen or a dash: "I do not know"
# Outcomes after which the volunteer is asked what the recipient said.
ASK_REPLY = {Outcome.REACHED, Outcome.DELIVERED}


def language_for(code: str | None) -> str:
    """Telegram's language_code (IETF, e.g. "ru", "kk", "en-GB") to en/ru/kk."""
    base = (code or "").split("-")[0].lower()
    return base if base in LANGUAGE_NAMES else "en"


def status_url(token: str) -> str:
    from django.urls import reverse

    path = reverse("relay:status", args=[token])
    base = settings.BAILANYS_PUBLIC_URL
    return f"{base}{path}" if base else path


@dataclass
class Turn:
    """Answers to one update, written to the outbox in order."""

    update_id: int
    chat: TelegramChat
    answers: int = 0
    instant: dict = field(default_factory=dict)  # the webhook's own reply (answerCallbackQuery)

    def say(self, text: str, *, buttons=None, reply_to: int | None = None) -> None:
        options = {}
        if buttons:
            options["buttons"] = buttons
        if reply_to:
            options["reply_to"] = reply_to
        outbox_add(
            channel=CHANNEL,
            address=self.chat.chat_id,
            body=text[:4096],
            idempotency_key=f"tg:{self.update_id}:{self.answers}",
            options=options,
        )
        self.answers += 1


def chat_for(chat_id: int, *, language_code: str | None, is_group: bool) -> TelegramChat:
    key = chat_key(chat_id)
    chat = TelegramChat.objects.select_for_update().filter(chat_key=key).first()
    if chat is None:
        chat, _created = TelegramChat.objects.get_or_create(
            chat_key=key,
            defaults={
                "chat_id": str(chat_id),
                "is_group": is_group,
                "language": language_for(language_code),
            },
        )
    if chat.blocked_at is not None:
        chat.blocked_at = None  # they wrote to us again: they unblocked the bot
        chat.save(update_fields=["blocked_at"])
    return chat


def draft_of(chat: TelegramChat) -> dict:
    try:
        return json.loads(chat.draft) if chat.draft else {}
    except ValueError:
        return {}


def step_set(chat: TelegramChat, step: str, draft: dict | None = None) -> None:
    chat.step = step
    chat.draft = json.dumps(draft, ensure_ascii=False) if draft else ""
