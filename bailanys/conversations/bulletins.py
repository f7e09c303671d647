"""Subscribing to verified bulletins and checking a code: SUB / CHECK by SMS, /subscribe,
/unsubscribe and /check in the bot (issue 19, docs/bulletins.md).

bailanys.bulletins.services decides (who is subscribed, what a code is); this reads the
words and writes the answer, in the language of the keyword (SUB: English, ПОДПИСКА:
Russian, ЖАЗЫЛУ: Kazakh) or of the chat. STOP leaving the bulletins is in
bailanys.conversations.sms (`sms_unsubscribe`), with the other STOP. Every answer goes in
the urgent lane: it answers what someone just sent.
"""

import re
import unicodedata

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from bailanys.bulletins.models import Bulletin
from bailanys.bulletins.services import (
    bulletin_by_code,
    bulletin_current,
    code_normal,
    first_words,
    subscribe,
    text_for,
    unsubscribe,
)
from bailanys.channels.sms.adapter import sms_start
from bailanys.channels.sms.segments import segments
from bailanys.outbox.services import outbox_add
from bailanys.parsing.cities import city_named
from bailanys.privacy.ratelimit import Limit, Throttled, rate_limit_hit

# The first word, folded (`_word`), and the language to answer in.
SUB_WORDS = {
    "sub": "en",
    "subscribe": "en",
    "подписка": "ru",
    "podpiska": "ru",
    "жазылу": "kk",
    "jazylu": "kk",
    "zhazylu": "kk",
}
CHECK_WORDS = {
    "check": "en",
    "проверка": "ru",
    "proverka": "ru",
    "тексеру": "kk",
    "tekseru": "kk",
}
# A city written in the answer's own script: an example of how to write one.
EXAMPLE_CITY = {"en": "ALMATY", "ru": "АЛМАТЫ", "kk": "АЛМАТЫ"}
_EDGE_PUNCTUATION = ".,!?:;\"'«»()"
# A code as it reads once normal ("B7K2"): what may stand before more words after CHECK.
_CODE = re.compile(r"^B[0-9A-Z]{3}$")
SMS_PARTS = 2  # a CHECK answer is at most this many SMS


def _word(word: str) -> str:
    return unicodedata.normalize("NFC", word).strip(_EDGE_PUNCTUATION).casefold()


def bulletin_keyword(text: str) -> tuple[str, str, str, str] | None:
    """("sub" or "check", the language, the keyword as typed, the rest of the SMS) when
    the SMS starts with one of the bulletin words; else None."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return None
    word = _word(words[0])
    rest = words[1].strip().strip(_EDGE_PUNCTUATION).strip() if len(words) > 1 else ""
    if word in SUB_WORDS:
        return "sub", SUB_WORDS[word], words[0].strip(_EDGE_PUNCTUATION), rest
    if word in CHECK_WORDS:
        # "CHECK B7K2 please" is a CHECK; "Проверка связи, позвоните маме 8701…" a request.
        after = rest.split()
        if len(after) > 1 and _CODE.match(code_normal(after[0])):
            rest = after[0]
        if len(rest.split()) <= 1:
            return "check", CHECK_WORDS[word], words[0].strip(_EDGE_PUNCTUATION), rest
    return None


# --- What we say -------------------------------------------------------------------


def subscribed_line(region: str) -> str:
    if region:
        return _("Subscribed to Bailanys bulletins for %(region)s and all of Kazakhstan.") % {
            "region": region
        }
    return _("Subscribed to Bailanys bulletins for all of Kazakhstan.")


def unknown_city_line(name: str, example: str) -> str:
    return _('We do not know the city "%(name)s". Write it like this: %(example)s') % {
        "name": name[:25],
        "example": example,
    }


def _quote(words: str) -> str:
    return f'"{words}"'


def check_answer(code: str, *, parts: int | None = SMS_PARTS) -> str:
    """What a code is, in the active language: ours and current, expired, withdrawn,
    corrected (by which code) or not ours at all; with its first words and its source.
    With `parts`, the first words and the source are cut to fit that many SMS."""
    bulletin = bulletin_by_code(code)
    shown = code_normal(code)[:8]
    if bulletin is None:
        return _("%(code)s is not a Bailanys bulletin. Do not trust it.") % {"code": shown}
    correction = None
    if bulletin_current(bulletin):
        status = _("%(code)s is a current Bailanys bulletin.")
    elif bulletin.state == Bulletin.State.ISSUED:
        status = _("%(code)s was a Bailanys bulletin; it has expired.")
    elif bulletin.state == Bulletin.State.WITHDRAWN:
        status = _("%(code)s was withdrawn by Bailanys: do not rely on it.")
    else:
        correction = (
            bulletin.corrections.exclude(state__in=(Bulletin.State.DRAFT, Bulletin.State.REJECTED))
            .order_by("-issued_at", "-pk")
            .first()
        )
        status = _("%(code)s was corrected by Bailanys: read %(new)s instead.")
    status = status % {"code": bulletin.code, "new": correction.code if correction else "?"}
    _lang, text = text_for(bulletin, translation.get_language() or "ru")
    for words_limit, source_limit in ((60, 60), (45, 40), (35, 25), (25, 15), (15, 0)):
        answer = _compose(bulletin, status, text, words_limit, source_limit)
        if parts is None or segments(answer) <= parts:
            break
    return answer


def _compose(bulletin: Bulletin, status: str, text: str, words_limit: int, source_limit: int):
    words = first_words(text, words_limit)
    answer = f"{status} {_quote(words)}"
    if source_limit:
        source = first_words(bulletin.source, source_limit)
        if bulletin.official:
            answer += " " + _("Official, relayed as received: %(source)s") % {"source": source}
        else:
            answer += " " + _("Source: %(source)s") % {"source": source}
    if translation.get_language() == "en":
        answer = answer.replace("…", "...")  # an English answer stays in GSM-7
    return answer


def _check_allowed(scope: str, source: str) -> bool:
    try:
        rate_limit_hit(
            scope=scope,
            source=source,
            limit=Limit.parse(settings.BAILANYS_BULLETIN_CHECK_LIMIT_PER_NUMBER),
        )
    except Throttled:
        return False
    return True


# --- SMS ----------------------------------------------------------------------------


def bulletin_sms(inbound, text: str) -> bool:
    """Answer an SMS that is SUB [city] or CHECK <code> in any of their forms; False when
    it is neither. A re-delivered SMS has the same id, so its answer the same outbox key."""
    found = bulletin_keyword(text)
    if found is None:
        return False
    what, language, typed, rest = found
    with translation.override(language):
        if what == "sub":
            body = _sms_subscribe(inbound, language, typed, rest)
        elif not rest:
            body = _("Send %(word)s and the code, for example: %(word)s B7K2") % {
                "word": typed.upper()
            }
        elif not _check_allowed("bulletin-check:sms", inbound.sender_key):
            body = _("Too many messages from this number. Try again later.")
        else:
            body = check_answer(rest)
    outbox_add(
        channel="sms",
        address=inbound.sender,
        body=body,
        idempotency_key=f"sms-in:{inbound.message_id}:0",
    )
    return True


def _sms_subscribe(inbound, language: str, typed: str, rest: str) -> str:
    region, shown = "", ""
    if rest:
        place = city_named(rest)
        if place is None:
            example = f"{typed.upper()} {EXAMPLE_CITY[language]}"
            return unknown_city_line(rest, example) + " " + _("Nothing was subscribed.")
        region = place.canonical
        shown = rest.title() if language == "en" and rest.isascii() else region
    # Asking for bulletins by SMS is asking for SMS again, after a STOP too.
    sms_start(inbound.sender_key)
    subscribe(channel="sms", address=inbound.sender, language=language, region=region)
    return subscribed_line(shown) + " " + _("Send STOP to leave.")


def sms_unsubscribe(sender: str) -> bool:
    """STOP: no bulletin more, not even one being sent now."""
    return unsubscribe(channel="sms", address=sender)


# --- Telegram -----------------------------------------------------------------------


def cmd_subscribe(turn, arg: str, message) -> None:
    """/subscribe [city], in the chat's language (the caller set it)."""
    chat = turn.chat
    language = chat.language
    region, shown = "", ""
    arg = arg.strip().strip(_EDGE_PUNCTUATION).strip()
    if arg:
        place = city_named(arg)
        if place is None:
            turn.say(unknown_city_line(arg, f"/subscribe {EXAMPLE_CITY[language].title()}"))
            return
        region = place.canonical
        shown = arg.title() if language == "en" and arg.isascii() else region
    subscribe(channel="telegram", address=str(chat.chat_id), language=language, region=region)
    turn.say(subscribed_line(shown) + "\n" + _("Send /unsubscribe to stop them."))


def cmd_unsubscribe(turn, arg: str, message) -> None:
    if unsubscribe(channel="telegram", address=str(turn.chat.chat_id)):
        turn.say(_("You will get no more Bailanys bulletins."))
    else:
        turn.say(_("You are not subscribed to Bailanys bulletins."))


def cmd_check(turn, arg: str, message) -> None:
    code = arg.strip()
    if not code or len(code.split()) > 1:
        turn.say(_("Send %(word)s and the code, for example: %(word)s B7K2") % {"word": "/check"})
        return
    if not _check_allowed("bulletin-check:telegram", turn.chat.chat_key):
        turn.say(_("Too many messages from this chat. Try again later."))
        return
    turn.say(check_answer(code, parts=None))
