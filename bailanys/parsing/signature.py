"""Who wrote the request: a name signed at its end, or given as "меня зовут …" (no Django).

"… аманмын деп айтыңыз. Ерлан", "…\nАйдос", "Ваш сын Айдос", "— Ерлан", "Алия, Варшава",
"From Anna in Hamburg": the last line or sentence is only a name (with "your son",
"from", a thank-you or a city around it). The name of a person to call is never the
signature: the caller passes the spans of the targets' names and numbers to avoid.
"""

from __future__ import annotations

import re

from . import inflect, names
from .text import EMOJI_RE, WORD_RE

# The last boundary before a signature: a line break, a sentence end, a dash, an ellipsis.
_BOUNDARY_RE = re.compile(r"\n|[.!?]\s|…|\.\.\.|\s[—–-]+\s?|^[—–-]+\s?")
_THANKS = {
    "спасибо",
    "рахмет",
    "рақмет",
    "thanks",
    "thank",
    "you",
    "заранее",
    "целую",
    "обнимаю",
    "love",
    "сау",
    "болыңыз",
    "с",
    "уважением",
    "regards",
    "cheers",
}
_POSSESSIVE = {"ваш", "ваша", "твой", "твоя", "your", "сіздің", "сенің", "ваш,", "мой", "my"}
_FROM = {"от", "from", "из", "in", "ot"}
# verbs that look like names at a sentence's start: "Уайымдамасын.", "Аманмын."
_VERB_END_RE = re.compile(
    r"(?:сын|сін|мын|мін|мыз|міз|пын|пін|быз|біз|ңыз|ңіз|ңдар|ңдер|шы|ші|йды|йді|уда|уде|"
    r"ите|йте|ешь|ишь)$"
)
_INTRO_RE = re.compile(
    r"(?:меня\s+зовут|менің\s+атым|my\s+name\s+is|мені\s+(?:\w+\s+)?деп\s+атайды)\s+",
    re.IGNORECASE,
)


def _tail(text: str) -> tuple[int, int] | None:
    end = len(text)
    while end > 0 and (
        text[end - 1].isspace() or text[end - 1] in ".!)»\"'" or EMOJI_RE.match(text[end - 1])
    ):
        end -= 1
    if end == 0:
        return None
    start = 0
    for m in _BOUNDARY_RE.finditer(text, 0, end):
        start = m.end()
    if start == 0 or end - start > 60:
        return None
    return start, end


def _signed(text: str, s: int, e: int, avoid: list[tuple[int, int]]) -> tuple[str, int, int] | None:
    ws = [(m.group(), m.start() + s, m.end() + s) for m in WORD_RE.finditer(text[s:e])]
    if not ws or re.search(r"\d", text[s:e]):
        return None
    i = 0
    while i < len(ws) and ws[i][0].lower() in _THANKS:
        i += 1
    if i < len(ws) and ws[i][0].lower() in _POSSESSIVE:
        i += 1
    if i < len(ws) and names.is_kin(ws[i][0].lower()):
        i += 1
    if i < len(ws) and ws[i][0].lower() in ("от", "from", "ot"):
        i += 1
    if i >= len(ws) or not names.is_name_word(ws[i][0]):
        return None
    if _VERB_END_RE.search(ws[i][0].lower()) and inflect.GENDER.get(ws[i][0].lower()) is None:
        return None
    first = i
    last = i
    if last + 1 < len(ws) and names.is_name_word(ws[last + 1][0]):
        gap = text[ws[last][2] : ws[last + 1][1]]
        if gap.strip() == "":
            last += 1
    rest = ws[last + 1 :]
    # what may follow the name: ", Варшава", "in Hamburg", "из Москвы"
    if rest:
        gap = text[ws[last][2] : rest[0][1]].strip()
        if len(rest) > 2 or not (
            (gap == "," and len(rest) == 1 and rest[0][0][:1].isupper())
            or (gap == "" and rest[0][0].lower() in _FROM and len(rest) == 2)
        ):
            return None
    a, b = ws[first][1], ws[last][2]
    if any(x < b and a < y for x, y in avoid):
        return None
    return text[a:b], a, b


def find_signature(text: str, avoid: list[tuple[int, int]]) -> tuple[str, int, int] | None:
    """(name in its base form, start, end) of the writer's name, or None.

    `avoid`: spans of the targets' names and numbers, which are never the signature.
    """
    tail = _tail(text)
    if tail is not None:
        found = _signed(text, tail[0], tail[1], avoid)
        if found is not None:
            name, a, b = found
            # "от Оли", "from Anna": genitive after "от"
            before = text[max(0, a - 4) : a].lower().strip()
            base = inflect.name_base(name, "gen" if before.endswith("от") else "")
            return base, a, b
    intro = _INTRO_RE.search(text)
    if intro:
        m = WORD_RE.match(text, intro.end())
        if m and names.is_name_word(m.group()):
            a, b = m.span()
            if not any(x < b and a < y for x, y in avoid):
                return m.group(), a, b
    return None
