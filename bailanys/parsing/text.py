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
_SENT_END_RE = re.compile(r"[.!?…]+|\n+")
EMOJI_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\u2764]")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; ends at . ! ? … or a line break."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_END_RE.finditer(text):
        if m.group().startswith(".") and m.group() == ".":
            before = re.search(r"([^\W\d_][\w-]*)$", text[start : m.start()])
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
