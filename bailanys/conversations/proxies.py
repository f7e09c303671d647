# ruff: noqa: RUF001, RUF002, RUF003  (Russian and Kazakh keywords: Cyrillic letters are intended)
"""Asking for proxies and saying they do not work: PROXY / NOWORK by SMS, /proxy and its
"Doesn't work" button in the bot (issue 18, docs/proxies.md).

What to answer is decided by bailanys.proxies.services (buckets, the 3-hour window,
reports); this only reads the words and writes the answer: by SMS one message per link
(a tg://proxy link fits one GSM-7 SMS) and one short line saying what to press; in the
bot one message with the links as buttons. Every answer goes through `_queue`, the one
place that writes a proxy answer to the outbox (proxy answers go behind relay notices).
"""

import re
import unicodedata
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bailanys.outbox.models import Lane
from bailanys.outbox.services import outbox_add
from bailanys.proxies.services import (
    Answer,
    Outcome,
    key_for_number,
    key_for_telegram,
    proxies_ask,
    proxies_report,
)

# The whole SMS, once folded (`_folded`), and the language to answer in. ПРОКСИ is
# Russian and Kazakh alike: Russian. PROKSI is Kazakh in the Latin alphabet.
ASK_WORDS = {"proxy": "en", "прокси": "ru", "proksi": "kk"}
REPORT_WORDS = {
    "nowork": "en",
    "notwork": "en",
    "неработает": "ru",
    "nerabotaet": "ru",
    "истемейди": "kk",  # ІСТЕМЕЙДІ, and ИСТЕМЕЙДИ typed without Kazakh letters
    "istemeidi": "kk",
    "istemeydi": "kk",
}
# A word may have punctuation and spaces around and inside it ("NO WORK!", " Прокси? ").
_NOT_A_LETTER = re.compile(r"[\W_]+")
# Kazakh і read as и: ІСТЕМЕЙДІ = ИСТЕМЕЙДИ.
_KAZAKH_I = str.maketrans({"і": "и"})
# Latin letters that look Cyrillic, typed among Cyrillic ones ("ПPOKCИ", "IСТЕМЕЙДI").
_LOOKALIKES = str.maketrans(dict(zip("aceopxkyihmtb", "асеорхкуинмтв", strict=True)))
BUTTON_NOWORK = "proxy:nowork"


def _folded(text: str) -> str:
    """The SMS as one lowercase run of letters: "  Не работает! " -> "неработает"."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = _NOT_A_LETTER.sub("", text)
    if re.search(r"[а-яёәғқңөұүһі]", text):
        text = text.translate(_LOOKALIKES)
    return text.translate(_KAZAKH_I)


def proxy_keyword(text: str) -> tuple[str, str] | None:
    """("ask" or "report", the language to answer in) when the whole SMS is one of the
    proxy words, else None."""
    if len(text) > 40:
        return None
    word = _folded(text)
    if word in ASK_WORDS:
        return "ask", ASK_WORDS[word]
    if word in REPORT_WORDS:
        return "report", REPORT_WORDS[word]
    return None


def _queue(*, channel: str, address: str, body: str, key: str, options=None) -> None:
    """The one place a proxy answer is written: the outbox's bulk lane, behind relay
    notifications and check-in replies, within each SIM's bulk share of its daily cap."""
    outbox_add(
        channel=channel,
        address=address,
        body=body,
        idempotency_key=key,
        options=options,
        priority=Lane.BULK,
    )


# --- What we say -------------------------------------------------------------------


def press_line() -> str:
    """The line that goes with the links (en <= 160 GSM-7, ru/kk <= 70 characters)."""
    return _("Press a link to add the proxy to Telegram. If none works, send NOWORK.")


def _clock(since: datetime) -> str:
    """A time of today ("10:40") or a day ("05.01"), in the relay's time zone."""
    local = timezone.localtime(since)
    return local.strftime("%H:%M" if timezone.now() - since < timedelta(hours=20) else "%d.%m")


def outcome_line(outcome: Outcome, *, since: datetime | None = None) -> str:
    """The short answer for everything but LINKS and SILENT (one SMS part each)."""
    hours = settings.BAILANYS_PROXY_ANSWER_HOURS
    if outcome == Outcome.NO_DATA:
        if since is None:
            return _("Mobile internet is down everywhere: a proxy cannot help.")
        return _("Mobile internet is down since %(time)s: a proxy cannot help.") % {
            "time": _clock(since)
        }
    if outcome == Outcome.TOO_SOON:
        return ngettext(
            "One answer per hour. Ask again later.",
            "One answer per %(hours)d hours. Ask again later.",
            hours,
        ) % {"hours": hours}
    if outcome == Outcome.SHUTDOWN:
        return _(
            "The internet is cut everywhere: a proxy cannot help now. Calls and SMS still work."
        )
    if outcome == Outcome.NONE_LEFT:
        return ngettext(
            "No proxy is free now. Ask again in an hour.",
            "No proxy is free now. Ask again in %(hours)d hours.",
            hours,
        ) % {"hours": hours}
    if outcome == Outcome.NO_MORE:
        return _("We cannot send more proxies to this number now.")
    if outcome == Outcome.NO_BUCKET:
        return _("Send PROXY first.")
    if outcome == Outcome.NOTED:
        return _("Thank you. When it is confirmed you get new proxies at once.")
    raise ValueError(outcome)


# --- SMS ----------------------------------------------------------------------------


def proxy_sms(inbound, text: str) -> bool:
    """Answer an SMS that is PROXY or NOWORK (in any of their forms); False when it is
    neither. A re-delivered SMS has the same id, so its answers the same outbox keys."""
    found = proxy_keyword(text)
    if found is None:
        return False
    what, language = found
    key = key_for_number(inbound.sender)
    if what == "ask":
        answer = proxies_ask(key, channel="sms")
    else:
        answer = proxies_report(key, channel="sms")
    with translation.override(language):
        bodies = _sms_bodies(answer)
    for n, body in enumerate(bodies):
        _queue(
            channel="sms",
            address=inbound.sender,
            body=body,
            key=f"sms-in:{inbound.message_id}:{n}",
        )
    return True


def _sms_bodies(answer: Answer) -> list[str]:
    if answer.outcome == Outcome.SILENT:
        return []
    if answer.outcome == Outcome.LINKS:
        return [link.tg_url() for link in answer.links] + [press_line()]
    return [outcome_line(answer.outcome, since=answer.since)]


# --- Telegram -----------------------------------------------------------------------


def proxy_telegram(turn, user_id: int, *, report: bool) -> None:
    """/proxy (report=False) or its "Doesn't work" button (report=True), in the chat's
    language (the caller sets it). The requester is the Telegram user, not the chat."""
    key = key_for_telegram(user_id)
    answer = (proxies_report if report else proxies_ask)(key, channel="telegram")
    if answer.outcome == Outcome.SILENT:
        return
    if answer.outcome != Outcome.LINKS:
        _telegram_say(turn, outcome_line(answer.outcome, since=answer.since))
        return
    # The links go in the text, sealed like every body; the Telegram channel turns them
    # into URL buttons (options hold no link: they are stored in clear).
    labels = [_("Proxy %(n)d") % {"n": n} for n in range(1, len(answer.links) + 1)]
    text = "\n".join(
        [_("Press a proxy to add it to Telegram."), *(link.tme_url() for link in answer.links)]
    )
    _telegram_say(
        turn,
        text,
        options={
            "link_buttons": labels,
            "buttons": [[(_("Doesn't work"), BUTTON_NOWORK)]],
        },
    )


def _telegram_say(turn, text: str, *, options=None) -> None:
    _queue(
        channel="telegram",
        address=turn.chat.chat_id,
        body=text[:4096],
        key=f"tg:{turn.update_id}:{turn.answers}",
        options=options,
    )
    turn.answers += 1
