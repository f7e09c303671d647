"""A group the bot reads: posts that are requests become cases, chatter is ignored."""

from django.utils import translation
from django.utils.translation import gettext as _
from telegram import Update

from bailanys.conversations.telegram.turn import (
    COMMAND_RE,
    GROUP_SOURCE,
    LANGUAGE_NAMES,
    Turn,
    chat_for,
    status_url,
)
from bailanys.relay import services as relay
from bailanys.relay.models import Request
from bailanys.relay.services.posts import post_ingest


def group_post(update: Update) -> None:
    """A post in a group the bot reads: requests become cases, chatter is ignored."""
    message = update.message
    text = message.text or message.caption or ""
    if not text or COMMAND_RE.match(text.strip()):
        return
    user = message.from_user
    ingested = post_ingest(
        source=GROUP_SOURCE,
        external_id=f"{message.chat.id}:{message.message_id}",
        text=text,
        author=user.first_name or "",
        contact=f"tg:{user.id}",
    )
    if ingested.outcome in ("not_request", "skipped"):
        return
    chat = chat_for(message.chat.id, language_code=None, is_group=True)
    # The language of the writer's own words, not of the message they pass on.
    chat.language = ingested.language if ingested.language in LANGUAGE_NAMES else "ru"
    chat.save()
    turn = Turn(update.update_id, chat)
    with translation.override(chat.language):
        if ingested.outcome == "review":
            turn.say(
                _("Received. A volunteer will check it before calling."),
                reply_to=message.message_id,
            )
            return
        made = Request.objects.filter(
            idempotency_key__startswith=f"post:{GROUP_SOURCE}:{message.chat.id}:{message.message_id}:"
        )
        # Each request named: one post may ask about several relatives.
        lines = [
            f"• {relay.recipient_label(request)}: {status_url(token)}"
            for request in made.select_related("case", "origin_case").order_by("pk")
            if (token := relay.status_token_of(request))
        ]
        turn.say(
            "\n".join(
                [
                    _("Received. A volunteer will call. Follow it here:"),
                    *lines,
                    relay.never_money_line(),
                ]
            ),
            reply_to=message.message_id,
        )
