"""Telegram updates in: each one recorded once, then emitted for the conversations."""

from django.db import IntegrityError, transaction
from telegram import Update

from bailanys.channels.events import UpdateReceived, emit
from bailanys.channels.models import TelegramUpdate


def update_receive(update: Update) -> dict | None:
    """Take one update once, from the webhook or long polling, in one transaction.

    The update id is recorded first: one Telegram re-sent, or that two bot processes
    both saw, does nothing. Returns what the webhook may answer Telegram with directly.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                TelegramUpdate.objects.create(update_id=update.update_id)
        except IntegrityError:
            return None
        return emit(UpdateReceived(channel="telegram", update=update))
