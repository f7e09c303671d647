# ruff: noqa: RUF001, RUF002, RUF003  (Russian and Kazakh keywords: Cyrillic letters are intended)
"""What works now, for whoever asks: STATUS / СТАТУС / ЖАҒДАЙ by SMS, and a line under
/status in the bot (issue 20, docs/status.md).

bailanys.outages.services decides the states (`summary_for`); this reads the word and
writes one SMS in the keyword's language: the sender's own operator (the carrier of the
number that wrote) and region (the city it subscribed to bulletins with, else the whole
country), then internet, messengers, SMS and calls.
"""

import re
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from bailanys import phones
from bailanys.bulletins.services import subscribed
from bailanys.outages.services import Summary, summary_for
from bailanys.outbox.services import outbox_add
from bailanys.privacy.ratelimit import Limit, Throttled, rate_limit_hit

# The whole SMS, folded (`_folded`), and the language to answer in. ЖАГДАЙ is ЖАҒДАЙ typed
# without Kazakh letters.
STATUS_WORDS = {
    "status": "en",
    "статус": "ru",
    "жағдай": "kk",
    "жагдай": "kk",
    "zhagdai": "kk",
    "zhagday": "kk",
    "jagdai": "kk",
    "jagday": "kk",
}
_NOT_A_LETTER = re.compile(r"[\W_\d]+")
# Latin letters that look Cyrillic, typed among Cyrillic ones ("CТАТУС").
_LOOKALIKES = str.maketrans(dict(zip("aceopxkyihmtb", "асеорхкуинмтв", strict=True)))


def _folded(text: str) -> str:
    text = _NOT_A_LETTER.sub("", unicodedata.normalize("NFC", text).casefold())
    if re.search(r"[а-яёәғқңөұүһі]", text):
        text = text.translate(_LOOKALIKES)
    return text


def status_keyword(text: str) -> str | None:
    """The language to answer in when the whole SMS is one of the status words."""
    if len(text) > 30:
        return None
    return STATUS_WORDS.get(_folded(text))


def _word(state: str) -> str:
    """A state in one short word (an SMS has room for little)."""
    words = {
        "up": pgettext("network state", "works"),
        "degraded": pgettext("network state", "partly"),
        "down": pgettext("network state", "down"),
        "blocked": pgettext("network state", "blocked"),
    }
    return words.get(state, "?")


def _clock(since) -> str:
    local = timezone.localtime(since)
    return local.strftime("%H:%M" if timezone.now() - since < timedelta(hours=20) else "%d.%m")


def summary_line(summary: Summary) -> str:
    """One SMS (en <= 160 GSM-7): where, then internet, messengers, SMS and calls."""
    where = ", ".join(w for w in (summary.operator, summary.region) if w) or _("Kazakhstan")
    if not summary.known:
        return _("%(where)s: we do not know yet what works.") % {"where": where}
    internet = _word(summary.internet.state)
    if summary.internet.state == "down" and summary.internet.since:
        internet = _("down since %(time)s") % {"time": _clock(summary.internet.since)}
    return _(
        "%(where)s: internet %(internet)s, messengers %(messengers)s, SMS %(sms)s, calls %(calls)s."
    ) % {
        "where": where,
        "internet": internet,
        "messengers": _word(summary.messengers.state),
        "sms": _word(summary.sms.state),
        "calls": _word(summary.voice.state),
    }


def _allowed(scope: str, source: str) -> bool:
    try:
        rate_limit_hit(
            scope=scope,
            source=source,
            limit=Limit.parse(settings.BAILANYS_STATUS_LIMIT_PER_NUMBER),
        )
    except Throttled:
        return False
    return True


def status_sms(inbound, text: str) -> bool:
    """Answer an SMS that is STATUS in any of its forms; False when it is not. A
    re-delivered SMS has the same id, so its answer the same outbox key."""
    language = status_keyword(text)
    if language is None:
        return False
    with translation.override(language):
        if not _allowed("network-status:sms", inbound.sender_key):
            body = _("Too many messages from this number. Try again later.")
        else:
            subscriber = subscribed(channel="sms", address=inbound.sender)
            summary = summary_for(
                carrier=phones.operator(inbound.sender),
                city=subscriber.region if subscriber else "",
            )
            body = summary_line(summary)
    outbox_add(
        channel="sms",
        address=inbound.sender,
        body=body,
        idempotency_key=f"sms-in:{inbound.message_id}:0",
    )
    return True


def status_telegram_line(chat) -> str:
    """What works in Kazakhstan now (or in the city the chat subscribed to), for the bot's
    /status; "" when nothing is known (no feed, no report yet)."""
    subscriber = subscribed(channel="telegram", address=str(chat.chat_id))
    summary = summary_for(city=subscriber.region if subscriber else "")
    return summary_line(summary) if summary.known else ""
