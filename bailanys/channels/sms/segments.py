"""How many SMS a text costs, and the parts a phone would send it as.

A text is sent in the GSM 7-bit default alphabet (3GPP TS 23.038, section 6.2.1) when every
character is in its basic table or its extension table; otherwise the whole text is UCS-2.
Android sends characters outside the Basic Multilingual Plane (emoji) as UTF-16 surrogate pairs,
two code units each, so that is what is counted here. Cyrillic, and so Russian and Kazakh, is not
in the GSM alphabet: one such letter turns the whole text into UCS-2.

One SMS holds 160 septets or 70 UTF-16 code units. A longer text is concatenated and each part
loses room to the User Data Header: 153 septets or 67 code units per part. A part never ends
between the escape and the character of an extension-table character (it costs 2 septets), nor
inside a surrogate pair; such a part is one unit short. National language shift tables (TS 23.038
section 6.2.1.2, for Turkish, Indic scripts...) are not used: none exists for Kazakh or Russian.

The empty text counts as 1 part: sending it still costs one SMS.
"""

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The 127 characters of the basic table (the 128th code, 0x1B, is the escape), 1 septet each."""

GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")
"""The extension table: escape (0x1B) and a second septet, so 2 septets each."""

SINGLE = {"gsm7": 160, "ucs2": 70}
"""Room in a text sent as one SMS: septets (gsm7) or UTF-16 code units (ucs2)."""

MULTI = {"gsm7": 153, "ucs2": 67}
"""Room in each part of a concatenated SMS, after the 6-octet User Data Header."""


def encoding(text: str) -> str:
    """``"gsm7"`` if every character of ``text`` is in GSM 7-bit (basic or extended), else
    ``"ucs2"``."""
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENDED:
            return "ucs2"
    return "gsm7"


def _cost(char: str, enc: str) -> int:
    if enc == "gsm7":
        return 2 if char in GSM7_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1


def units(text: str, enc: str | None = None) -> int:
    """The size of ``text`` in ``enc`` (default: its own encoding): septets for ``"gsm7"``,
    UTF-16 code units for ``"ucs2"``."""
    enc = enc or encoding(text)
    return sum(_cost(char, enc) for char in text)


def split(text: str) -> list[str]:
    """The parts ``text`` is sent as, in order; ``"".join(split(text)) == text``.

    One part if the text fits in one SMS (160 septets or 70 code units), otherwise parts of at
    most 153 septets or 67 code units, filled greedily, never splitting an extension-table
    character or a surrogate pair. ``split("") == [""]``.
    """
    enc = encoding(text)
    costs = [_cost(char, enc) for char in text]
    if sum(costs) <= SINGLE[enc]:
        return [text]
    limit = MULTI[enc]
    parts, start, used = [], 0, 0
    for i, cost in enumerate(costs):
        if used + cost > limit:
            parts.append(text[start:i])
            start, used = i, 0
        used += cost
    parts.append(text[start:])
    return parts


def segments(text: str) -> int:
    """How many SMS ``text`` is sent as: ``len(split(text))``; 1 for the empty text."""
    return len(split(text))
