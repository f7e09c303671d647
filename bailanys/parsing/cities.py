"""Kazakhstan gazetteer: find city mentions with their grammatical endings.

The data lives in data/gazetteer.tsv (kind, area code, parent, spellings).
A mention keeps the form as written ("Алмате", "Шымкенттегі", "Almatyda").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .text import fold

DATA = Path(__file__).with_name("data") / "gazetteer.tsv"

# Endings a city name may carry: Russian cases, Kazakh locative/dative/ablative
# and the -дағы/-дегі "which is in" form, in Cyrillic and Latin spelling.
_RU_ENDINGS = ["", "а", "е", "у", "ом", "ой", "ы", "и", "ю", "ой", "ем"]
_KK_ENDINGS = [
    "да",
    "де",
    "та",
    "те",
    "дағы",
    "дегі",
    "тағы",
    "тегі",
    "ға",
    "ге",
    "қа",
    "ке",
    "ға",
    "ның",
    "нің",
    "дың",
    "дің",
    "тың",
    "тің",
    "ды",
    "ді",
    "ны",
    "ні",
    "дан",
    "ден",
    "тан",
    "тен",
    "нан",
    "нен",
    "ндағы",
    "ндегі",
    "нда",
    "нде",
    "на",
    "не",
    "ға",
]
_LAT_ENDINGS = [
    "",
    "da",
    "de",
    "ta",
    "te",
    "dagy",
    "degi",
    "tagy",
    "tegi",
    "dagi",
    "ga",
    "ge",
    "ka",
    "ke",
    "dan",
    "den",
    "tan",
    "ten",
    "nan",
    "nen",
]
ENDINGS = sorted(set(_RU_ENDINGS + _KK_ENDINGS + _LAT_ENDINGS), key=len, reverse=True)


@dataclass(frozen=True)
class Place:
    canonical: str
    kind: str  # city | district
    area_code: str
    parent: str


@dataclass(frozen=True)
class Mention:
    text: str  # as written, with its ending
    start: int
    end: int
    place: Place


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Place], re.Pattern[str]]:
    by_stem: dict[str, Place] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, code, parent, names = line.split("\t")
        spellings = [n.strip() for n in names.split("|") if n.strip()]
        place = Place(spellings[0], kind, code, parent)
        for name in spellings:
            low = name.lower()
            by_stem.setdefault(low, place)
            # Алматы -> Алмат(е), Караганда -> Караганд(е/у), Kyzylorda -> Kyzylord(e)
            if kind == "city" and low[-1] in "аыяa" and len(low) > 4:
                by_stem.setdefault(low[:-1], place)
    stems = sorted(by_stem, key=len, reverse=True)
    ends = "|".join(re.escape(e) for e in ENDINGS if e)
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(s) for s in stems) + r")(" + ends + r")?(?![\w])"
    )
    return by_stem, pattern


def find_places(text: str) -> list[Mention]:
    """Every gazetteer mention in `text`, left to right, longest spelling first."""
    by_stem, pattern = _load()
    out: list[Mention] = []
    for m in pattern.finditer(fold(text)):
        stem = m.group(1)
        if not text[m.start()].isupper():  # "oral", "арал" in running text are not places
            continue
        place = by_stem[stem]
        if not m.group(2) and stem not in _full_names():
            continue  # a truncated stem ("Алмат") needs an ending to be a word
        out.append(Mention(text[m.start() : m.end()], m.start(), m.end(), place))
    return out


@lru_cache(maxsize=1)
def _full_names() -> frozenset[str]:
    names = set()
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names.update(n.strip().lower() for n in line.split("\t")[3].split("|"))
    return frozenset(names)


def find_cities(text: str) -> list[Mention]:
    """City mentions only (districts are resolved to their parent elsewhere)."""
    return [m for m in find_places(text) if m.place.kind == "city"]


def area_code_for(mention: Mention) -> str:
    return mention.place.area_code


def city_named(text: str) -> Place | None:
    """The city `text` is the name of, whole and in any case ("ALMATY", "алматы",
    "Алматыда"); None for anything else (a district, two words, a typo)."""
    by_stem, pattern = _load()
    match = pattern.fullmatch(fold(text.strip()))
    if match is None:
        return None
    if not match.group(2) and match.group(1) not in _full_names():
        return None
    place = by_stem[match.group(1)]
    return place if place.kind == "city" else None
