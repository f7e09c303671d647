"""Names of the people to call, as written next to their numbers.

Kinship words (мама, апа, анам, mum...) alone are no name. A name is a
capitalised word no stop list knows; a following patronymic or surname
(-овна/-евич/-ұлы/-қызы, -ов/-ова/-ев/-ина/-енко...) is joined to it.
"""

from __future__ import annotations

import re

from .inflect import GENDER
from .text import WORD_RE

KIN_RE = re.compile(
    r"^(?:ата-ана\w*|мам\w*|папа|пап[еуыой]|отец|отца|отцу|мать|матер\w*|брат\w*|сестр\w*|бабушк\w*|"
    r"дедушк\w*|бабул\w*|дед\w*|тет[яеиюу]\w*|дяд[яеию]\w*|жен[аеыу]|жено[йю]|муж\w*|сын\w*|"
    r"доч\w*|дочер\w*|внук\w*|внучк\w*|родител\w*|подруг\w*|друг\w*|друз\w*|сосед\w*|"
    r"одногрупп\w*|коллег\w*|племянни\w*|свекр\w*|тест\w*|зят\w*|невест\w*|кузен\w*|"
    r"ана\w*|әке\w*|ата|атам\w*|апа\w*|аға\w*|ага\w*|әпке\w*|апай\w*|әже\w*|іні\w*|сіңлі\w*|"
    r"ұл\w*|қыз[ыі]\w*|дос\w*|жеңге\w*|күйеу\w*|әйел\w*|нағашы|немере\w*|бауыр\w*|"
    r"mom\w*|mum\w*|mother\w*|dad\w*|father|brother\w*|bro|sister\w*|sis|aunt\w*|uncle\w*|"
    r"grand\w+|wife|husband|son|daughter|friend\w*|cousin\w*|gf|bf|girlfriend|boyfriend|"
    r"neighbou?r\w*|parents?|in-laws?|landlady|landlord|colleague\w*|niece|nephew|"
    r"anam\w*|apam\w*|agam\w*|akem\w*|inim\w*|apa|aga|ata|azhe\w*|"
    r"mam[aeuy]|pap[aeuy]|brat[au]?|sestr[aeuy])$",
    re.IGNORECASE,
)
STOP = set(
    [
        "позвоните",
        "позвонить",
        "передайте",
        "передать",
        "скажите",
        "узнайте",
        "проверьте",
        "пожалуйста",
        "помогите",
        "здравствуйте",
        "здрасьте",
        "добрый",
        "доброй",
        "доброе",
        "привет",
        "всем",
        "номер",
        "номера",
        "тел",
        "тел",
        "дом",
        "дом",
        "сотовый",
        "городской",
        "просто",
        "спасибо",
        "срочно",
        "если",
        "кто",
        "когда",
        "это",
        "мой",
        "моя",
        "мои",
        "моей",
        "моему",
        "мне",
        "наш",
        "она",
        "он",
        "они",
        "его",
        "ее",
        "её",
        "их",
        "ей",
        "ему",
        "я",
        "мы",
        "вы",
        "ты",
        "в",
        "на",
        "с",
        "по",
        "до",
        "из",
        "для",
        "тут",
        "там",
        "говорит",
        "зовут",
        "имя",
        "звать",
        "ищу",
        "ищем",
        "найден",
        "найдена",
        "внимание",
        "люди",
        "ребята",
        "друзья",
        "волонтеры",
        "город",
        "г",
        "ул",
        "мкр",
        "район",
        "р-н",
        "хабарласыңыз",
        "хабарласыңыздар",
        "айтыңыз",
        "айтыңыздар",
        "өтінемін",
        "сәлем",
        "рахмет",
        "ассалаумағалейкум",
        "нөмірі",
        "нөмір",
        "аты",
        "үй",
        "ұялы",
        "үйдің",
        "телефон",
        "телефоны",
        "жазу",
        "кім",
        "please",
        "call",
        "tell",
        "hi",
        "hello",
        "dear",
        "urgent",
        "volunteers",
        "volunteer",
        "thank",
        "thanks",
        "can",
        "could",
        "someone",
        "anyone",
        "pls",
        "just",
        "my",
        "her",
        "his",
        "him",
        "their",
        "she",
        "he",
        "they",
        "we",
        "i",
        "i'm",
        "im",
        "the",
        "a",
        "and",
        "or",
        "in",
        "at",
        "from",
        "number",
        "phone",
        "home",
        "landline",
        "mobile",
        "cell",
        "whatsapp",
        "found",
        "message",
        "if",
        "ask",
        "say",
        "also",
        "salem",
        "salam",
        "aitynyzshy",
        "aitynyzdarshy",
        "mrs",
        "mr",
        "ms",
        "dr",
        "hey",
        "guys",
    ]
)
PATRONYMIC_RE = re.compile(
    r"(?:овна|евна|ична|инична|овны|евны|овне|евне|овной|евной|ович|евич|ич|ича|ичу|"
    r"ұлы|қызы|uly|ulu|kyzy|qyzy|ovna|evna|ovich|evich|ovych)$",
    re.IGNORECASE,
)
SURNAME_RE = re.compile(
    r"(?:ова|ева|ёва|ина|ына|ов|ев|ёв|ин|ын|ский|ская|цкий|цкая|енко|ко|ук|юк|ян|"
    r"овы|евы|ины|ovs|ova|eva|ov|ev|ina|in|enko|sky|skaya|uly|kyzy)$",
    re.IGNORECASE,
)
_VERBISH_RE = re.compile(
    r"(?:ите|йте|мін|мын|ыңыз\w*|іңіз\w*|ңыз\w*|ңіз\w*|ндар\w*|ндер\w*|шы|ші|ться|тся|ла|ли|"
    r"darshy|dershi|nyzshy)$",
    re.IGNORECASE,
)
FAMILY_RE = re.compile(r"(?<![\w-])([А-ЯЁA-Z][а-яёa-z]+(?:овы|евы|ёвы|ины|ыны|ovs|evs))(?![\w-])")


def is_kin(word: str) -> bool:
    """A kinship word ("мама", "ағам", "bro"), and not a given name that starts like one
    ("Бауыржан", "Анар", "Ұлжан")."""
    low = word.lower()
    return bool(KIN_RE.match(low)) and low.replace("ё", "е") not in GENDER


def is_name_word(word: str, *, all_caps_text: bool = False) -> bool:
    low = word.lower()
    if len(word) < 2 or low in STOP or is_kin(low):
        return False
    if not word[0].isupper():
        return False
    if word.isupper() and len(word) > 1 and not all_caps_text:
        return False  # acronyms: СРОЧНО, ГКБ, URGENT
    if _VERBISH_RE.search(low) and len(low) > 5 and not PATRONYMIC_RE.search(low):  # noqa: SIM103
        return False
    return True


def name_words(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    return [
        (m.group(), m.start() + start, m.end() + start) for m in WORD_RE.finditer(text[start:end])
    ]


def join_name(words: list[tuple[str, int, int]], i: int, text: str, caps: bool) -> tuple[int, int]:
    """Extend the name at words[i] with adjoining surname/patronymic words."""
    lo, hi = i, i
    while hi + 1 < len(words) and hi - lo < 2:
        w, s, _e = words[hi + 1]
        gap = text[words[hi][2] : s]
        if gap.strip() or not is_name_word(w, all_caps_text=caps):
            break
        if PATRONYMIC_RE.search(w) or SURNAME_RE.search(w) or SURNAME_RE.search(words[lo][0]):
            hi += 1
            continue
        break
    while lo - 1 >= 0 and hi - lo < 2:
        w, _s, e = words[lo - 1]
        gap = text[e : words[lo][1]]
        if gap.strip() or not is_name_word(w, all_caps_text=caps):
            break
        if PATRONYMIC_RE.search(words[hi][0]) or SURNAME_RE.search(w):
            lo -= 1
            continue
        break
    return words[lo][1], words[hi][2]
