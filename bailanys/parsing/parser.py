"""Parse one free-text request into the relay's structured form (no Django).

parse(text) -> {"lang", "kind", "urgent",
                "targets": [{"name", "phone", "city", "base", "relation"}],
                "callback": [E.164...], "message": str | None, "confidence": float,
                "signature": str | None}

"name" and "message" are verbatim (the corpus's contract); "base" is the name in its base
form ("Гульнаре" -> "Гульнара", "Күләшке" -> "Күләш"), "relation" the kinship word written
with the target in its base form ("маме" -> "мама", "әжем"), "signature" the writer's own
name as they signed it ("… Ерлан", "Ваш сын Айдос").
"""

from __future__ import annotations

import re

from . import cities, kinds, lang, names, phones
from .message import find_message, outside_targets
from .people import about, signature_of
from .text import WORD_RE, sentence_spans

MAX_CHARS = 10_000
_HONORIFIC = {"ата", "ага", "аға", "апа", "апай", "әже", "ata", "aga", "apa", "ana", "ага."}
_NAME_INTRO = {"аты", "зовут", "имя", "name", "is", "это", "this", "by", "named"}
_SELF_RE = re.compile(
    r"(?:\b(?:я|мы|i'?m|i\s+am|we\s+are|we'?re|мен|біз)\s+(?:сейчас\s+|now\s+)?(?:в|во|in|at)?\s*$|"
    r"\b(?:из|from|с|со)\s+$)",
    re.IGNORECASE,
)


def _empty(lang_: str, kind: str = "not_a_request") -> dict:
    return {
        "lang": lang_,
        "kind": kind,
        "urgent": False,
        "targets": [],
        "callback": [],
        "message": None,
        "confidence": 0.5,
        "signature": None,
    }


def _city_mentions(
    text: str, places: list[cities.Mention], msg: tuple[int, int] | None
) -> list[cities.Mention]:
    out = []
    for m in places:
        if msg and msg[0] <= m.start < msg[1]:
            continue
        if _SELF_RE.search(text[max(0, m.start - 16) : m.start]):
            continue
        out.append(m)
    return out


def _city_for(f, mentions, sents) -> str | None:
    city_m = [m for m in mentions if m.place.kind == "city"]
    if not city_m:
        return None
    s0, s1 = next(((s, e) for s, e in sents if s <= f.start < e), (0, 0))
    same = [m for m in city_m if s0 <= m.start < s1]
    if same:
        return min(same, key=lambda m: min(abs(m.start - f.end), abs(f.start - m.end))).text
    return city_m[0].text


def _scan_right(text, f, limit, caps, mentions, nxt) -> tuple[str | None, tuple | None]:
    """The name written after the number; also a kinship word met there (its span)."""
    pos = f.end
    in_paren = False
    kin = None
    for _ in range(5):
        m = WORD_RE.search(text, pos, limit)
        if not m:
            break
        gap = text[pos : m.start()]
        if "\n" in gap or re.search(r"[^\s,()\-–—:]", gap):
            break
        if (
            pos == f.end
            and re.search(r"[,;]", gap)
            and limit == nxt
            and _runs_into_next(text, m, nxt)
        ):
            # "87011234567, папа Серік 87017654321": the words lead up to the next number
            break
        in_paren = in_paren or "(" in gap
        if ")" in gap:
            in_paren = False
        w = m.group()
        if any(c.start <= m.start() < c.end for c in mentions):
            pos = next(c.end for c in mentions if c.start <= m.start() < c.end)
            continue
        low = w.lower()
        if low in _NAME_INTRO:
            pos = m.end()
            continue
        if names.is_kin(low):
            kin = (m.start(), m.end())
            if in_paren or text[pos : m.start()].strip(" ,") in ("—", "-", "–"):
                pos = m.end()
                continue
            break
        if names.is_name_word(w, all_caps_text=caps):
            ws = names.name_words(text, m.start(), min(limit, m.start() + 80))
            s, e = names.join_name(ws, 0, text, caps)
            pair = re.match(r"\s+(?:и|and|және)\s+([^\W\d_]+)\s+([^\W\d_]+)", text[e:limit])
            if pair and names.FAMILY_RE.match(pair.group(2)) and names.is_name_word(pair.group(1)):
                e += pair.end()
            return text[s:e], kin
        break
    return None, kin


def _runs_into_next(text: str, m, nxt: int) -> bool:
    """The words from `m` on reach the next number with no comma or line break between."""
    return not re.search(r"[,;\n.!?]", text[m.start() : nxt])


def _scan_left(text, f, lo, caps, mentions, max_words) -> tuple[str | None, tuple | None]:
    ws = names.name_words(text, lo, f.start)
    count = 0
    for i in range(len(ws) - 1, -1, -1):
        w, s, _e = ws[i]
        count += 1
        if count > max_words:
            break
        if any(c.start <= s < c.end for c in mentions):
            count -= 1
            continue
        low = w.lower()
        if names.is_kin(low):
            if low in _HONORIFIC and i > 0 and names.is_name_word(ws[i - 1][0], all_caps_text=caps):
                a, b = names.join_name(ws, i - 1, text, caps)
                return text[a:b], None
            if (
                i > 0
                and text[ws[i - 1][2] : s].strip() == "("
                and names.is_name_word(ws[i - 1][0], all_caps_text=caps)
            ):  # "Жанибек (брат) +7 701 …"
                a, b = names.join_name(ws, i - 1, text, caps)
                return text[a:b], (s, _e)
            return None, (s, _e)
        if names.is_name_word(w, all_caps_text=caps):
            first_in_sentence = s == lo or text[lo:s].strip(" \t\n\"'«(-–—•*0123456789).") == ""
            if first_in_sentence and count > 2 and not re.match(r"\s*[,(]", text[_e : _e + 2]):
                continue
            a, b = names.join_name(ws, i, text, caps)
            return text[a:b], None
    return None, None


def _trim_to(text: str, s: int, e: int) -> tuple[int, int] | None:
    while e > s and (text[e - 1].isspace() or text[e - 1] in ".,!?:;—–-…"):
        e -= 1
    return (s, e) if e - s >= 2 else None


def _kin_pair_name(text: str, lo: int, hi: int, caps: bool) -> str | None:
    ws = names.name_words(text, lo, hi)
    found = None
    for i in range(len(ws) - 1):
        if names.is_kin(ws[i][0].lower()) and names.is_name_word(ws[i + 1][0], all_caps_text=caps):
            a, b = names.join_name(ws, i + 1, text, caps)
            found = text[a:b]
    return found


def _parse(text: str) -> dict:
    text = text[:MAX_CHARS]
    language = lang.detect(text)
    sents = sentence_spans(text)
    places = cities.find_places(text)
    codes = [(m.start, m.place.area_code) for m in places if m.place.area_code]
    numbers = phones.find_numbers(text, codes)
    kz_numbers = [f for f in numbers if f.is_kz]
    if not kinds.is_request(text, len(kz_numbers)):
        out = _empty(language)
        out["confidence"] = 0.8 if not numbers else 0.6
        return out

    skip = [(f.start, f.end) for f in numbers] + [(m.start, m.end) for m in places]
    letters = sum(map(str.isalpha, text))
    caps = letters > 0 and sum(map(str.isupper, text)) / letters > 0.7
    # name words right after a number are skipped before a message starts
    for f in numbers:
        m = WORD_RE.search(text, f.end, min(len(text), f.end + 40))
        if (
            m
            and re.fullmatch(r"[\s,()\-–—]*", text[f.end : m.start()])
            and names.is_name_word(m.group(), all_caps_text=caps)
        ):
            skip.append((m.start(), m.end()))
    msg_span = find_message(text, skip, sents)
    message = text[msg_span[0] : msg_span[1]] if msg_span else None
    kind = kinds.classify(text, len(kz_numbers), message, request=True)
    targets, callbacks = phones.classify(text, numbers, sents, kind, msg_span)
    mentions = _city_mentions(text, places, msg_span)
    family = names.FAMILY_RE.search(text)

    out_targets = []
    name_spans: list[tuple[int, int]] = []
    prev_end = 0
    prev_name = None
    for idx, f in enumerate(targets):
        s0, s1 = next(((s, e) for s, e in sents if s <= f.start < e), (0, len(text)))
        nxt = next((g.start for g in numbers if g.start >= f.end), len(text))
        lo = max(s0, prev_end)
        max_left = 3 if kind in ("find_relatives", "medical") else 12
        name, bare_kin = _scan_right(text, f, min(s1, nxt), caps, mentions, nxt)
        span = (text.find(name, f.end), 0) if name else None
        if name is None and not bare_kin:
            name, bare_kin = _scan_left(text, f, lo, caps, mentions, max_left)
            span = (text.rfind(name, lo, f.start), 0) if name else None
        if span is not None:
            span = (span[0], span[0] + len(name)) if span[0] >= 0 else None
        if name is None and not bare_kin and idx > 0 and prev_name:
            between = text[targets[idx - 1].end : f.start].lower()
            if re.fullmatch(
                r"[\s,/;.()\-–—]*(?:(?:или|or|немесе|және|and|дом|дом\.|сотовый|мобильный|"
                r"ұялы|үйдің телефоны|городской|home|mobile|cell|landline|"
                r"[\s,/;.()\-–—])*)",
                between,
            ):
                name = prev_name
        if name is None and not bare_kin and kind in ("welfare_check", "deliver_message"):
            name = _kin_pair_name(text, prev_end, f.start, caps)
            if name is None:
                after = next(((s, e) for s, e in sents if s >= s1), None)
                if after and not any(after[0] <= g.start < after[1] for g in numbers):
                    name = _kin_pair_name(text, after[0], min(after[1], after[0] + 40), caps)
        if name is None and family and not bare_kin:
            name = family.group(1)
        target = {"name": name, "phone": f.e164, "city": _city_for(f, mentions, sents)}
        target.update(about(text, name, span, bare_kin, language))
        out_targets.append(target)
        if span is not None:
            name_spans.append(span)
        prev_end = f.end
        prev_name = name

    target_spans = [(f.start, f.end) for f in targets]
    # the words to pass on never hold the number to call ("… 8707… хабарласыңызшы, аманмын")
    msg_span = outside_targets(text, msg_span, target_spans, skip)
    unnamed = [
        f.end
        for f, t in zip(targets, out_targets, strict=True)
        if not t["name"] and not t["relation"]
    ]
    place_spans = [(m.start, m.end) for m in places]  # "… я жив. Шымкент" is no name
    signature = signature_of(text, target_spans + name_spans + place_spans, unnamed)
    if signature and msg_span:
        sig_at = text.rfind(signature)
        if msg_span[0] <= sig_at < msg_span[1]:
            msg_span = _trim_to(text, msg_span[0], sig_at)
    message = text[msg_span[0] : msg_span[1]] if msg_span else None
    if kind == "not_a_request":
        out_targets, callbacks, message, signature = [], [], None, None
    conf = 0.4
    if out_targets:
        conf += 0.3
    if message or kind != "deliver_message":
        conf += 0.1
    if all(t["city"] for t in out_targets) and out_targets:
        conf += 0.1
    seen = set()
    cb = []
    for f in callbacks:
        if f.e164 not in seen and f.e164 not in {t["phone"] for t in out_targets}:
            seen.add(f.e164)
            cb.append(f.e164)
    dedup = []
    tseen = set()
    for t in out_targets:
        if t["phone"] not in tseen:
            tseen.add(t["phone"])
            dedup.append(t)
    return {
        "lang": language,
        "kind": kind,
        "urgent": kinds.is_urgent(text, kind),
        "targets": dedup,
        "callback": cb,
        "message": message,
        "confidence": round(min(conf, 1.0), 2),
        "signature": signature,
    }


def clear_caches() -> None:
    """Forget memoised words and numbers (benchmarks measure from cold with this)."""
    lang._classify.cache_clear()
    phones._valid.cache_clear()


def parse(text: str, *, ner: bool = True) -> dict:
    """Parse a request. Never raises; on internal failure returns an empty result.

    `ner` is accepted for API stability: names come from rules; no NER model is
    shipped (see docs/parsing.md), so ner=True and ner=False give the same result.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    try:
        return _parse(text)
    except Exception:  # a parser bug must not take down the relay
        out = _empty(
            "ru" if re.search(r"[а-яё]", text[:MAX_CHARS].lower()) else "en", "welfare_check"
        )
        out["confidence"] = 0.0
        return out
