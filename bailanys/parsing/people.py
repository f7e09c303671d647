"""Who is who in a request: each target's name in its base form and the kinship word
written with it, and the writer's own name (no Django)."""

from __future__ import annotations

import re

from . import inflect, names
from .signature import find_signature
from .text import WORD_RE

_WORD_BEFORE_RE = re.compile(r"([^\W\d_]+)[ \t(]*$")
_WORD_AFTER_RE = re.compile(r"^[ \t(,]*([^\W\d_]+)")


def _before(text: str, pos: int) -> tuple[str, int] | None:
    m = _WORD_BEFORE_RE.search(text, max(0, pos - 40), pos)
    return (m.group(1), m.start(1)) if m else None


def about(
    text: str, name: str | None, span: tuple[int, int] | None, kin: tuple | None, language: str
) -> dict:
    """{"base": the name in its base form, "relation": the kinship word, in its base form}."""
    kin_word = text[kin[0] : kin[1]] if kin else None
    case = gender = ""
    if span is not None:
        prev = _before(text, span[0])
        if prev and (names.is_kin(prev[0]) or prev[0].lower() in inflect.KIN_FORMS):
            kin_word = kin_word or prev[0]
            case, gender = inflect.kin_hint(prev[0])
            if not case:
                verb = _before(text, prev[1])
                case = inflect.word_hint(verb[0]) if verb else ""
        elif prev:
            case = inflect.word_hint(prev[0])
        if kin_word is None:
            nxt = _WORD_AFTER_RE.match(text[span[1] : span[1] + 30])
            if nxt and names.is_kin(nxt.group(1)):
                kin_word = nxt.group(1)
    kazakh = language == "kk" or bool(inflect._KK_LETTERS.search(text.lower()))
    base = inflect.name_base(name, case, gender, kazakh) if name else None
    return {"base": base, "relation": inflect.relation_base(kin_word) if kin_word else None}


def signature_of(text: str, avoid: list[tuple[int, int]], unnamed_ends: list[int]) -> str | None:
    """The writer's name, or None. `unnamed_ends`: where numbers of targets with neither a
    name nor a kinship word end: a name on the next line may be theirs, not a signature."""
    found = find_signature(text, avoid)
    if found is None:
        return None
    name, start, _end = found
    line_start = text.rfind("\n", 0, start)
    if line_start > 0 and not text[line_start:start].strip(" \t\n—–-"):
        prev = text[:line_start].rstrip(" \t.,;)")
        if len(prev) in unnamed_ends:
            return None
    if not WORD_RE.search(name):
        return None
    return name
