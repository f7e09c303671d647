"""The words to pass on: a verbatim span of the text, or None.

After a "tell/передайте/айтыңыз" trigger the message runs to the end of the
sentence (skipping the addressee's name, number and city, and "что/that/:"),
and goes on into the next sentence when that one starts with "пусть" or a
lower-case letter. Kazakh "... деп айтыңыз" puts the message before the verb.
Without a trigger, a "пусть .../…-сын" clause addressed to the target is used.
"""

from __future__ import annotations

import re

from .text import EMOJI_RE, fold, lower_re, sentence_spans

# Every pattern is lower case and meets fold(text): see text.fold.
TRIGGER_RE = lower_re(
    r"(?:\bпереда(?:йте|ть|й)\b|\bскажите\b|\bскажи\b|\bсообщите\b|\btell\b|\bsay\b|"
    r"\bskazhite\b|\bperedai?y?te\b|\bsoobshc?hite\b|"
    r"\bайт(?:ыңыз|ыңдар|ындар|ыңыз)\w*|\baityn\w*|\baitin\w*)",
)
_DEP_RE = lower_re(r"\s+(?:деп|dep)\s+(?:айт|aity|aiti)\w*|\s+де(?:ңіз|ңіздер|ңдер)\w*")
# matched at the trigger's end (no "^": with a start position "^" never matches there)
_SKIP_WORDS_RE = re.compile(
    r"(?:\s|[,:;—–\-()'\"«»“”‘’]|(?:пожалуйста|please|pls|им|ему|ей|him|her|them|что|that|"
    r"chto|pls|pozhaluista|whoever\s+answers|everyone|all|of\s+them|"
    r"от\s+\w+(?:\s+\w+)?(?=\s*(?:что|:))|from\s+\w+)(?!\w)|\+?\d[\d\s()\-]{5,}\d)+",
)
_JUSSIVE_RE = lower_re(
    r"(?:^|(?<=[\s,]))(?:(?:если|егер)\s[^.!?\n]*?,\s*)?(?:пусть|пускай)\s[^.!?\n]+"
)
# the "-сын/-сін" word that ends a clause; the clause is found by looking back
_KK_JUSSIVE_RE = re.compile(r"\b\w+(?:сын|сін|син|syn|sin)\b(?=\s*[.!?\n]|\s*$)")
_DIGIT_RE = re.compile(r"\d")
_QUE_RE = re.compile(r"(?:^|\s)(?:что|that|chto)\s|:\s|\s[—–]\s")
_QUE_WORD_RE = re.compile(r"(?<!\w)(?:что|that|chto)(?!\w)|:")
# before a "… деп айтыңыз" clause: a greeting and "to my mother" are not the words
_DEP_LEAD_RE = re.compile(
    r"(?:[\s,!.]|сәлеметсіз\s+бе|сәлеметсіздер\s+ме|сәлем|салем|здравствуйте|өтінемін|"
    r"(?:анам|әкем|апам|ағам|әжем|атам|інім|сіңлім|әпкем|досым|ұлым|қызым|әйелім|жеңгем|"
    r"немерем|бауырым|күйеуім)[аеa](?!\w))+"
)
_LET_RE = re.compile(r"(?:пусть|пускай)\b")
_KK_LET_RE = re.compile(r"^\w+(?:сын|сін)[.!?]*$")
_STOP_SENT_RE = re.compile(r"^\s*(?:спасибо|рахмет|рақмет|thank|thanks|заранее|from\s)")


def _trim(text: str, s: int, e: int) -> tuple[int, int] | None:
    seg = text[s:e]
    em = EMOJI_RE.search(seg)
    if em:
        e = s + em.start()
        seg = text[s:e]
    while s < e and (text[s].isspace() or text[s] in ",:;—–-'\"«»“”‘’("):
        s += 1
    while e > s and (text[e - 1].isspace() or text[e - 1] in ".,!?:;—–-'\"«»“”‘’)…"):
        e -= 1
    if e - s < 2 or not re.search(r"[^\W\d_]", text[s:e]):
        return None
    return s, e


def find_message(
    text: str, skip: list[tuple[int, int]], sents: list[tuple[int, int]] | None = None
) -> tuple[int, int] | None:
    """Span of the message. `skip`: spans of the target's phone/name/city to step over."""
    sents = sentence_spans(text) if sents is None else sents
    low = fold(text)
    for m in TRIGGER_RE.finditer(low):
        s_start, s_end = next(((s, e) for s, e in sents if s <= m.start() < e), (0, len(text)))
        dep = _DEP_RE.search(low, s_start, m.end())
        if dep is not None and dep.end() >= m.end() - 1:
            lead = _DEP_LEAD_RE.match(low, s_start, dep.start())
            span = _trim(text, lead.end() if lead else s_start, dep.start())
            if span:
                # the quoted part is the clause before "деп": drop a greeting clause
                return span
        pos = m.end()
        said_que = False  # "скажите что …": the words start here, whatever dash follows
        while True:
            moved = False
            sk = _SKIP_WORDS_RE.match(low, pos)
            if sk and sk.end() > pos:
                said_que = said_que or bool(_QUE_WORD_RE.search(low, pos, sk.end()))
                pos, moved = sk.end(), True
            for a, b in skip:
                if a <= pos + 2 and b > pos and a >= pos - 1:
                    pos, moved = b, True
            if not moved:
                break
        # "Передайте маме Жанар в Атырау что ..." : start after a nearby "что/that"
        head = low[pos : min(s_end, pos + 60)]
        que = None if said_que else _QUE_RE.search(head)
        if (
            que
            and len(re.findall(r"[^\W\d_]+", head[: que.start()])) <= 6
            and not re.search(r"[!?\n]", head[: que.start()])
        ):
            pos = pos + que.end()
        start = pos
        end = s_end
        if start >= end or not text[start:end].strip(" .,!?\n"):
            # the trigger sentence held only name/number/city: take the next one
            nxt = next(((s, e) for s, e in sents if s >= s_end), None)
            if nxt is None:
                continue
            start, end = nxt
        # continue into following sentences starting with "пусть"/lower case/-сын
        idx = next((i for i, (s, e) in enumerate(sents) if s <= end - 1 < e), None)
        while idx is not None and idx + 1 < len(sents):
            ns, ne = sents[idx + 1]
            nxt_text = low[ns:ne].lstrip(" \t")
            if "\n" in text[end - 1 : ns + (len(text[ns:ne]) - len(nxt_text))] or not nxt_text:
                break
            if _STOP_SENT_RE.match(nxt_text):
                break
            first = text[ns:ne].split()[0] if nxt_text.split() else ""
            if first[:1].islower() or _LET_RE.match(nxt_text) or _KK_LET_RE.match(nxt_text.strip()):
                end = ne
                idx += 1
                continue
            break
        span = _trim(text, start, end)
        if span:
            return span
    # no trigger: a "пусть ..." or Kazakh "-сын/-сін" clause
    for m in _JUSSIVE_RE.finditer(low):
        span = _trim(text, m.start(), m.end())
        if span:
            return span
    prev_end = 0
    for w in _KK_JUSSIVE_RE.finditer(low):
        # the clause that ends with the "-сын/-сін" word, from its last , . ! ? : or line break
        start = max(prev_end, max(low.rfind(c, prev_end, w.start()) for c in ",.!?\n:") + 1)
        prev_end = w.end()
        if _DIGIT_RE.search(low, start, w.end()):
            continue
        span = _trim(text, start, w.end())
        if span:
            return span
    return None


# what may stand between a target's number and the words to pass on
_LEAD_RE = re.compile(
    r"(?:[\s,:;—–\-()]|(?:хабарлас\w*|қоңырау\s+шал\w*|позвоните|позвонить|звоните|"
    r"pozvonite|habarlas\w*|call|please|пожалуйста|өтінемін)(?!\w))+",
    re.IGNORECASE,
)


def outside_targets(
    text: str, span: tuple[int, int] | None, targets: list[tuple[int, int]], skip: list
) -> tuple[int, int] | None:
    """The message span without the target's number and what leads up to it: "Күләшке
    87071112233 хабарласыңызшы, аманмын" -> "аманмын". None when nothing is left."""
    if span is None:
        return None
    s, e = span
    inside = [b for a, b in targets if s <= a < e]
    if not inside:
        return span
    pos = max(inside)
    while True:
        moved = False
        lead = _LEAD_RE.match(text, pos, e)
        if lead and lead.end() > pos:
            pos, moved = lead.end(), True
        for a, b in skip:
            if a <= pos + 1 and b > pos and a >= pos - 1:
                pos, moved = b, True
        if not moved:
            break
    return _trim(text, pos, e)
