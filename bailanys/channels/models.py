from django.db import models


class RateBucket(models.Model):
    """When the next message may go through one rate limit, shared by every worker.

    `key` names the limit ("telegram", "telegram:chat:<blind index>"); the
    sender reserves a moment in every bucket a message passes through.
    """

    key = models.CharField(max_length=100, unique=True)
    next_at = models.FloatField(default=0.0)  # seconds since the epoch

    def __str__(self) -> str:
        return f"rate bucket {self.key}"


from bailanys.channels.sms.models import (  # noqa: E402  each channel's own tables
    SmsContact,
    SmsDelivery,
    SmsEvent,
    SmsGateway,
    SmsInbound,
)
from bailanys.channels.telegram.models import (  # noqa: E402
    TelegramChat,
    TelegramUpdate,
)

__all__ = [
    "RateBucket",
    "SmsContact",
    "SmsDelivery",
    "SmsEvent",
    "SmsGateway",
    "SmsInbound",
    "TelegramChat",
    "TelegramUpdate",
]
