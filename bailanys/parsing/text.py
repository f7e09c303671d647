"""Small text helpers shared by the rule modules (no Django)."""

from __future__ import annotations

import re

WORD_RE = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# Abbreviations whose full stop does not end a sentence.
_ABBREV = {
    "dr",
    "mr",
    "mrs",
    "ms",
    "st",
    "г",
    "ул",
    "мкр",
    "тел",
    "дом",
    "р-н",
    "д",
    "кв",
    "пр",
    "им",
    "т",
    "обл",
    "р",
    "св",
    "no",
    "nr",
    "approx",
    "y.o",
    "o",
}
_LAST_WORD_RE = re.compile(r"([^\W\d_][\w-]*)$")
_SENT_END_RE = re.compile(r"[.!?…]+|\n+")
EMOJI_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\u2764]")


def fold(text: str) -> str:
    """Lower-case `text` keeping every index in place.

    The rule patterns are written in lower case and matched against this
    instead of using re.IGNORECASE, which makes Python's re several times
    slower on Cyrillic. str.lower() only ever lengthens ("İ" -> "i̇"), so a
    text of unchanged length has every character where it was.
    """
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def lower_re(pattern: str) -> re.Pattern[str]:
    """Compile a lower-case keyword pattern that is matched against fold(text).

    Python's re skips quickly through a text only when every alternative of a
    pattern starts with a literal character; a leading \\b defeats that and
    made these patterns five times slower. `\\bword` is compiled as
    `w(?<=\\bw)ord`, which matches exactly the same text.
    """
    return re.compile(re.sub(r"\\b([^\W\d_])", r"\1(?<=\\b\1)", pattern))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; ends at . ! ? … or a line break."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_END_RE.finditer(text):
        if m.group().startswith(".") and m.group() == ".":
            before = _LAST_WORD_RE.search(text[max(start, m.start() - 12) : m.start()])
            nxt = text[m.end() : m.end() + 2]
            if before and before.group(1).lower() in _ABBREV:
                continue
            # "8 701 ... 05.12" or "1.5": a dot between digits is not an end.
            if m.start() > 0 and text[m.start() - 1].isdigit() and nxt[:1].isdigit():
                continue
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def sentence_of(spans: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    for s, e in spans:
        if s <= pos < e:
            return s, e
    return (0, 0) if not spans else spans[-1]


def words(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start() + offset, m.end() + offset) for m in WORD_RE.finditer(text)]


def is_capitalized(word: str) -> bool:
    return bool(word) and word[0].isupper()
