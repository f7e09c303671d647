"""What the Telegram channel keeps: chats (and the step of each chat's conversation), seen updates.

Chat ids identify people, so they are sealed like every other contact; a
keyed blind index (`chat_key`) finds a chat again without decrypting.
"""

from django.conf import settings
from django.db import models

from bailanys.privacy.fields import SealedModel, SealedTextField


class TelegramChat(SealedModel):
    """One chat with the bot: a person (requester or volunteer) or a group."""

    chat_key = models.CharField(max_length=64, unique=True)
    chat_id = SealedTextField()
    is_group = models.BooleanField(default=False)
    language = models.CharField(max_length=5, default="en")
    # A volunteer who linked this chat to their account with a one-time code.
    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="telegram_chats",
    )
    # The conversation: which question comes next, and the answers so far (JSON).
    step = models.CharField(max_length=40, blank=True)
    draft = SealedTextField(blank=True)
    # Set when Telegram answered 403: the person blocked the bot.
    blocked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"telegram chat {self.pk}"


class TelegramUpdate(models.Model):
    """An update already handled: Telegram re-sends, and two bot processes may both see one."""

    update_id = models.BigIntegerField(unique=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"telegram update {self.update_id}"
