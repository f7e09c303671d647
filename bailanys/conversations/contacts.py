"""Which channels can reach a contact that a requester typed into the web form or the API.

- A phone number (`+44 7911 123456`, `8 701 234 56 78`): an SMS, when an SMS gateway
  is set up. A paid, satellite or service number (bailanys/phones.py) is not texted.
- A Telegram user id (`tg:123456789`, `telegram:123456789`; a person's private chat
  with the bot has the same id): a message from the bot, when the bot is set up.
  Telegram lets a bot write only to people who have pressed Start in it; to anyone
  else the send fails and the status page alone tells them.

Anything else (an e-mail address, a name) reaches nobody but the status page.
"""

import re

from django.conf import settings

from bailanys import phones
from bailanys.channels.sms.gateways import gateways_configured

TELEGRAM_RE = re.compile(r"(?:tg|telegram):\s*(\d{1,20})", re.IGNORECASE)


def contact_routes(contact: str) -> list[tuple[str, str]]:
    """[(channel, address)] for the contact; [] when no channel of ours can reach it."""
    contact = contact.strip()
    found = TELEGRAM_RE.fullmatch(contact)
    if found:
        return [("telegram", found.group(1))] if settings.BAILANYS_TELEGRAM_BOT_TOKEN else []
    try:
        number = phones.normalize(contact)
    except phones.InvalidPhone:
        return []
    return [("sms", number)] if gateways_configured() else []
