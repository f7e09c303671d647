"""Phone numbers in free text: find them, then sort targets from callbacks.

Finding first walks the runs of digits (with spaces, dashes, dots and
brackets between them) and validates them with `phonenumbers` and its KZ
metadata: this catches numbers split into odd groups, several numbers run
together, and 6-7 digit local numbers that get the area code of the city
named in the message. When digits are left unexplained, and only then,
`phonenumbers.PhoneNumberMatcher` (region KZ, leniency VALID) looks at the
whole text: its matcher costs about a third of the parse time, so it runs on
the few texts that need it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

from .text import fold, lower_re

REGION = "KZ"
_RUN_RE = re.compile(r"\+?\d(?:[ \t\u00a0().\-–]{0,3}\d)+")
_GROUP_RE = re.compile(r"\d+")
_TRUNK_RE = re.compile(r"(?:\+7|7|8)([1-9]\d{9})")
_NATIONAL_RE = re.compile(r"(7\d{9})")  # ten digits, no trunk prefix: 701 234 56 78


@dataclass
class Found:
    e164: str
    start: int
    end: int
    region: str | None
    local: bool = False  # completed with a city's area code

    @property
    def is_kz(self) -> bool:
        return self.region == "KZ"


def _e164(num: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(num, PhoneNumberFormat.E164)


def _desc_check(desc):
    """A PhoneNumberDesc of the metadata as a test, as phonenumbers applies it."""
    if desc is None or not desc.national_number_pattern:
        return None
    pattern = re.compile(f"(?:{desc.national_number_pattern})")
    lengths = set(desc.possible_length or ())
    return lambda national: (
        (not lengths or len(national) in lengths) and bool(pattern.fullmatch(national))
    )


_KZ = phonenumbers.PhoneMetadata.metadata_for_region(REGION)
_KZ_GENERAL = _desc_check(_KZ.general_desc)
_KZ_TYPES = [
    check
    for check in map(
        _desc_check,
        (_KZ.premium_rate, _KZ.toll_free, _KZ.shared_cost, _KZ.voip, _KZ.personal_number),
    )
    if check
]
_KZ_TYPES += [c for c in map(_desc_check, (_KZ.pager, _KZ.uan, _KZ.voicemail)) if c]
_KZ_TYPES += [c for c in map(_desc_check, (_KZ.fixed_line, _KZ.mobile)) if c]
_KZ_LEADING = re.compile(_KZ.leading_digits or "7")


def _kz_valid(national: str) -> bool:
    """phonenumbers.is_valid_number for +7 with KZ's leading digits, from KZ's own metadata.

    The same test phonenumbers makes (general pattern, then any number type), without its
    per-call overhead; tests/test_parsing_rules.py checks the two agree.
    """
    return _KZ_GENERAL(national) and any(check(national) for check in _KZ_TYPES)


@lru_cache(maxsize=16384)  # the same numbers come again and again: that is why cases exist
def _valid(raw: str) -> phonenumbers.PhoneNumber | None:
    trunk = _TRUNK_RE.fullmatch(raw) or _NATIONAL_RE.fullmatch(raw)
    if trunk and _KZ_LEADING.match(trunk.group(1)):
        national = trunk.group(1)
        return (
            phonenumbers.PhoneNumber(country_code=7, national_number=int(national))
            if _kz_valid(national)
            else None
        )
    if trunk and trunk.re is _TRUNK_RE:
        # 8 / 7 / +7 and ten digits: country code 7 without the cost of parse()
        num = phonenumbers.PhoneNumber(country_code=7, national_number=int(trunk.group(1)))
    else:
        try:
            num = phonenumbers.parse(raw, REGION)
        except phonenumbers.NumberParseException:
            return None
    return num if phonenumbers.is_valid_number(num) else None


def _segment(groups: list[tuple[str, int, int]], plus: bool) -> list[Found]:
    """Split digit groups into consecutive valid numbers (greedy, shortest first)."""
    out: list[Found] = []
    i = 0
    while i < len(groups):
        hit = None
        for j in range(i, min(len(groups), i + 7)):
            digits = "".join(g[0] for g in groups[i : j + 1])
            if len(digits) > 15:
                break
            if len(digits) < 10:
                continue
            lead = "+" if plus and i == 0 else ""
            num = _valid(lead + digits)
            if num is None and not lead and len(digits) == 10 and digits[0] == "7":
                num = _valid("8" + digits)
            if num is not None:
                hit = (j, num)
                break
        if hit is None:
            i += 1
            continue
        j, num = hit
        out.append(Found(_e164(num), groups[i][1], groups[j][2], _region(num)))
        i = j + 1
    return out


def _region(num: phonenumbers.PhoneNumber) -> str | None:
    if num.country_code == 7 and _KZ_LEADING.match(str(num.national_number)):
        return REGION
    return phonenumbers.region_code_for_number(num)


def _unexplained_digits(text: str, found: list[Found]) -> int:
    count = sum(map(str.isdigit, text))
    return count - sum(sum(map(str.isdigit, text[f.start : f.end])) for f in found)


def _matcher(text: str, found: list[Found]) -> list[Found]:
    """What phonenumbers' own matcher sees that the digit-run pass did not."""
    out = []
    try:
        for m in PhoneNumberMatcher(text, REGION, leniency=Leniency.VALID):
            if any(f.start < m.end and m.start < f.end for f in found):
                continue
            region = phonenumbers.region_code_for_number(m.number)
            out.append(Found(_e164(m.number), m.start, m.end, region))
    except Exception:  # the matcher is third-party code on hostile text
        return []
    return out


def find_numbers(text: str, area_codes: list[tuple[int, str]] | None = None) -> list[Found]:
    """Every valid phone number in `text`, in order, without overlaps.

    `area_codes` lists (position, code) of named cities: a bare 6-7 digit
    number takes the code of the nearest city if together they make 10 digits.
    """
    found: list[Found] = []
    for run in _RUN_RE.finditer(text):
        groups = [
            (g.group(), g.start() + run.start(), g.end() + run.start())
            for g in _GROUP_RE.finditer(run.group())
        ]
        digits = "".join(g[0] for g in groups)
        plus = run.group().startswith("+")
        if len(digits) >= 10:
            found.extend(_segment(groups, plus))
        elif area_codes and len(digits) in (6, 7) and not plus and len(groups) >= 2:
            code = min(area_codes, key=lambda pc: abs(pc[0] - run.start()))[1]
            if len(code) + len(digits) == 10:
                num = _valid("+7" + code + digits)
                if num is not None:
                    found.append(Found(_e164(num), run.start(), run.end(), "KZ", local=True))
    if _unexplained_digits(text, found) >= 7:
        found.extend(_matcher(text, found))
    found.sort(key=lambda f: f.start)
    out: list[Found] = []
    for f in found:
        if out and f.start < out[-1].end:
            continue
        out.append(f)
    return out


# --- classification -------------------------------------------------------

# The writer's own number: "мой номер", "my number", "менің нөмірім", "мне".
_OWN_RE = lower_re(
    r"(?:\bмо[йяё]\s*(?:(?:номер|тел\w*|сотовый|мобильный|whats\s?app|ватсап)\.?\s*)?[:\-–—]?\s*$|"
    r"\b(?:my|our|менің)\s+(?:\w+\s+)?(?:number|phone|whats\s?app|cell|mobile|нөмір\w*|телефон\w*)|"
    r"нөмірім|телефоным|nomirim|"
    r"(?:напиш\w+|позвон\w+|набер\w+|пиш\w+|звон\w+|ответь\w*|перезвон\w+|сообщ\w+)\s+мне|"
    r"\bмне\s+(?:на|сюда)\b|\b(?:call|text|reach|message|whatsapp)\s+me\b|\bme\s+(?:at|on)\b|"
    r"\bмаған\b|\bбізге\b|мына\s+нөмірге|ответить\s+на|\bmaga?n\b)",
)
# "whoever knows something, call N" at the end of a search for someone.
_WHO_KNOWS_RE = lower_re(
    r"(?:кто\s+(?:что[\s-]*нибудь\s+)?знает|кім\s+білсе|if\s+anyone\s+knows|"
    r"если\s+кто[\s-]*(?:то|нибудь)?\s+знает|кто\s+видел|кім\s+көрсе)",
)
_OLD_RE = lower_re(
    r"(?:стар(?:ый|ого|ому)|бывш|old|previous|former|ескі|не\s+работает|doesn'?t\s+work|"
    r"not\s+working|істемейді|неправильн|wrong|ошиб|қате)",
)
_CORRECTION_RE = lower_re(
    r"(?:\bошибся|\bошиблась|\bопечатка|\bисправлени|\bвернее\b|\bточнее\b|правильный\s+номер|"
    r"\bcorrect(?:ion|ed)?\b|\bsorry\b|\btypo\b|\bдұрысы\b|дұрыс\s+нөмір|\bне\s+тот\b|"
    r"\bой,?\s+нет\b|\bнет,?\s+(?:вот|правильн)|\bno,?\s+(?:it'?s|the\s+right))",
)
_CARD_RE = lower_re(r"(?:карт[аыуе]|card|kaspi|каспи|счет|счёт|iban|перевод|реквизит|голд|gold)")

_OLD_AFTER_RE = re.compile(r"\s*[\(\-–—,]?\s*(?:старый|old|ескі|бывший|не работает)")
_OLD_BEFORE_RE = re.compile(
    r"(?:стар\w*|old|ескі|бывш\w*|previous|former)\s+(?:номер\w*|number|нөмір\w*|тел\w*)"
    r"[^\d]{0,12}$"
)


def _before(text: str, pos: int, lo: int) -> str:
    return text[max(lo, pos - 60) : pos]


def classify(
    text: str,
    numbers: list[Found],
    sentences: list[tuple[int, int]],
    kind: str,
    message_span: tuple[int, int] | None,
) -> tuple[list[Found], list[Found]]:
    """Split numbers into (targets, callbacks); drop old, corrected and card numbers."""
    text = fold(text)  # every index stays; the patterns are lower case
    keep: list[Found] = []
    for idx, f in enumerate(numbers):
        digits = sum(map(str.isdigit, text[f.start : f.end]))
        after = text[f.end : f.end + 25]
        before = text[max(0, f.start - 30) : f.start]
        if digits >= 13 and _CARD_RE.search(text[max(0, f.start - 40) : f.start]):
            continue  # a bank card, not a phone
        if _OLD_AFTER_RE.match(after):
            continue
        if _OLD_BEFORE_RE.search(before):
            continue
        nxt = numbers[idx + 1] if idx + 1 < len(numbers) else None
        if nxt is not None:
            between = text[f.end : nxt.start]
            if len(between) < 60 and _CORRECTION_RE.search(between):
                continue  # the writer corrected this number with the next one
        keep.append(f)

    targets: list[Found] = []
    callbacks: list[Found] = []
    for f in keep:
        if not f.is_kz:
            callbacks.append(f)
            continue
        s0 = max((s for s, _e in sentences if s <= f.start), default=0)
        # look back within the clause: up to the previous number or sentence start
        prev_end = max((g.end for g in keep if g.end <= f.start), default=0)
        lo = max(s0, prev_end)
        ctx = _before(text, f.start, lo)
        first_kz = f is next((g for g in keep if g.is_kz), None)
        if message_span and message_span[0] <= f.start < message_span[1] and not first_kz:
            callbacks.append(f)  # "перезвони мне на N" inside the message
        elif _OWN_RE.search(ctx) or (
            kind in ("welfare_check", "deliver_message")
            and targets
            and _WHO_KNOWS_RE.search(text[max(lo, f.start - 120) : f.start])
        ):
            callbacks.append(f)
        else:
            targets.append(f)
    return targets, callbacks
