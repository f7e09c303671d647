"""Language of a request: ru, kk, en or mixed, by word-level rules.

Kazakh-only letters (әғқңөұүһі) mark a Kazakh word at once; otherwise small
word lists and Kazakh suffixes decide, for Cyrillic and for Latin spelling.
Capitalised words that no list knows are taken for names and ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .cities import _full_names
from .text import WORD_RE

KK_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")

KK_WORDS = set(
    [
        "мен",
        "біз",
        "сен",
        "сіз",
        "ол",
        "олар",
        "бар",
        "жоқ",
        "жок",
        "аман",
        "есен",
        "бари",
        "бәрі",
        "жаксы",
        "жақсы",
        "рахмет",
        "рақмет",
        "сәлем",
        "салем",
        "саламатсыздар",
        "саламатсыз",
        "ма",
        "ме",
        "ба",
        "бе",
        "па",
        "пе",
        "екен",
        "деп",
        "де",
        "туыстар",
        "туысқан",
        "анам",
        "анама",
        "апам",
        "апама",
        "ағам",
        "ағама",
        "атам",
        "әкем",
        "әкеме",
        "әжем",
        "әжеме",
        "інім",
        "сіңлім",
        "ұлым",
        "қызым",
        "досым",
        "досыма",
        "әпкем",
        "әпкеме",
        "жеңгем",
        "нағашы",
        "немере",
        "немерең",
        "немересі",
        "турады",
        "тұрады",
        "айтындаршы",
        "айтыңыз",
        "айтыңыздар",
        "айтыңызшы",
        "айтыңыздаршы",
        "хабарласыңыз",
        "хабарласыңыздар",
        "уайымдамасын",
        "қоңырау",
        "нөмір",
        "нөмірі",
        "үй",
        "ата-анасы",
        "туыстары",
        "кім",
        "білсе",
        "жазу",
        "керек",
        "өтінемін",
        "көмектесіңіздер",
        "ағайын",
        "шұғыл",
        "жатыр",
        "жатырмын",
        "келе",
        "алмай",
        "бойы",
        "күн",
        "ассалаумағалейкум",
        "ассалаумағалейкүм",
        "қайырлы",
        "кеш",
        "таң",
        "билет",
        "бала",
        "аты",
        "немесе",
        "содан",
        "рас",
        "шамамен",
        "ден",
        "ге",
        "дан",
        "нан",
        "тен",
        "бен",
        "пен",
        "мен",
        "жас",
        "жаста",
    ]
)
KK_LATIN = set(
    [
        "salem",
        "salam",
        "men",
        "biz",
        "bari",
        "bari",
        "jaksy",
        "zhaksy",
        "jakhsy",
        "aman",
        "esen",
        "rahmet",
        "rakhmet",
        "ata",
        "apa",
        "aga",
        "anam",
        "anama",
        "apam",
        "apama",
        "agam",
        "agama",
        "atam",
        "akem",
        "akeme",
        "azhem",
        "inim",
        "uaiymdamasyn",
        "uaimdamasyn",
        "aitynyz",
        "aitynyzshy",
        "aitynyzdar",
        "aitynyzdarshy",
        "aitindar",
        "aitindarshy",
        "habarlasyndarshy",
        "habarlasynyz",
        "habarlasyp",
        "habarlasyndar",
        "tuystarga",
        "tuystar",
        "turatyn",
        "ui",
        "de",
        "dep",
        "sizdi",
        "saginamyn",
        "koiynyzdarshy",
        "jiberinizdershi",
    ]
)
EN_WORDS = set(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "to",
        "of",
        "in",
        "on",
        "at",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "i",
        "i'm",
        "im",
        "my",
        "me",
        "you",
        "your",
        "he",
        "she",
        "him",
        "her",
        "his",
        "they",
        "them",
        "their",
        "we",
        "our",
        "us",
        "it",
        "it's",
        "its",
        "please",
        "pls",
        "call",
        "tell",
        "say",
        "ask",
        "check",
        "thank",
        "thanks",
        "hi",
        "hello",
        "dear",
        "urgent",
        "could",
        "can",
        "someone",
        "anyone",
        "who",
        "whoever",
        "if",
        "not",
        "no",
        "yes",
        "mom",
        "mum",
        "dad",
        "father",
        "mother",
        "brother",
        "sister",
        "aunt",
        "uncle",
        "grandma",
        "grandpa",
        "wife",
        "husband",
        "son",
        "daughter",
        "friend",
        "cousin",
        "family",
        "parents",
        "number",
        "phone",
        "fine",
        "ok",
        "okay",
        "safe",
        "love",
        "will",
        "when",
        "with",
        "from",
        "for",
        "but",
        "just",
        "all",
        "good",
        "know",
        "does",
        "do",
        "did",
        "doesn't",
        "don't",
        "have",
        "has",
        "had",
        "need",
        "needs",
        "help",
        "found",
        "guys",
        "some",
        "there",
        "here",
        "this",
        "that",
        "these",
        "those",
        "alone",
        "lives",
        "live",
        "back",
        "home",
    ]
)
RU_WORDS = set(
    [
        "и",
        "в",
        "во",
        "на",
        "с",
        "со",
        "к",
        "ко",
        "у",
        "о",
        "об",
        "от",
        "до",
        "из",
        "за",
        "по",
        "не",
        "ни",
        "что",
        "чтобы",
        "как",
        "кто",
        "где",
        "когда",
        "если",
        "это",
        "все",
        "всё",
        "я",
        "мы",
        "вы",
        "он",
        "она",
        "они",
        "его",
        "ее",
        "её",
        "их",
        "мой",
        "моя",
        "мои",
        "моей",
        "моему",
        "наш",
        "ваш",
        "пожалуйста",
        "позвоните",
        "передайте",
        "скажите",
        "узнайте",
        "помогите",
        "спасибо",
        "здравствуйте",
        "добрый",
        "день",
        "вечер",
        "ночи",
        "мама",
        "маме",
        "папа",
        "папе",
        "брат",
        "сестра",
        "бабушка",
        "дедушка",
        "жена",
        "муж",
        "сын",
        "дочь",
        "тетя",
        "дядя",
        "номер",
        "телефон",
        "дом",
        "живы",
        "жив",
        "хорошо",
        "нормально",
        "срочно",
        "привет",
        "просто",
        "очень",
        "можно",
        "нет",
        "да",
        "уже",
        "ещё",
        "еще",
        "тут",
        "там",
    ]
)
RU_LATIN = set(
    ["pozvonite", "peredaite", "skazhite", "pozhaluista", "mame", "pape", "privet", "spasibo"]
)

_CYR_RE = re.compile(r"[а-яё]")
_LAT_RE = re.compile(r"[a-z]")
_KK_SUFFIX_RE = re.compile(
    r"(?:ыңыз\w*|іңіз\w*|ңыздар\w*|ңіздер\w*|ндаршы|ндерші|дарши|даршы|дерші|мын|мін|"
    r"масын|месін|сын|сін|дағы|дегі|тағы|тегі|ып|іп|быз|біз|мыз|міз|сыз|сіз|ды|ді|ты|ті|"
    r"ымды|імді|ыма|іме|ама|еме|сы|сі)$"
)
_KK_LAT_SUFFIX_RE = re.compile(r"(?:dagy|degi|damyn|demin|damin|darshy|dershi|nyzshy|ynyz\w*|syn)$")


@lru_cache(maxsize=65536)  # a stream's vocabulary repeats: hello, please, mum, city names
def _classify(word: str) -> str | None:
    low = word.lower()
    if low in _CITY_WORDS:
        return None
    if not KK_LETTERS.isdisjoint(word):
        return "kk"
    cyr = bool(_CYR_RE.search(low))
    if cyr:
        if low in KK_WORDS:
            return "kk"
        if low in RU_WORDS:
            return "ru"
        if word[0].isupper() and not word.isupper():
            return None  # probably a name
        if len(low) > 4 and _KK_SUFFIX_RE.search(low) and low not in RU_WORDS:
            return "kk" if not low.endswith(("сын", "сін")) or len(low) > 6 else None
        return "ru"
    if _LAT_RE.search(low):
        if low in EN_WORDS:
            return "en"
        if low in KK_LATIN or _KK_LAT_SUFFIX_RE.search(low):
            return "kk"
        if low in RU_LATIN:
            return "ru"
        if word[0].isupper():
            return None
        return "en"
    return None


_CITY_WORDS = set()


def detect(text: str) -> str:
    if not _CITY_WORDS:
        _CITY_WORDS.update(_full_names())
    counts = {"ru": 0, "kk": 0, "en": 0}
    for m in WORD_RE.finditer(text or ""):
        lang = _classify(m.group())
        if lang:
            counts[lang] += 1
    total = sum(counts.values())
    if total == 0:
        return "ru" if _CYR_RE.search((text or "").lower()) else "en"
    present = [k for k, v in counts.items() if v >= 2 and v / total >= 0.12]
    if len(present) >= 2:
        return "mixed"
    return max(counts, key=lambda k: counts[k])
