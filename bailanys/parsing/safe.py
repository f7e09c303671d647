"""Is this SMS a safe check-in ("Аманмын", "Я жив", "I'm safe")? In which language?

Plain rules in Kazakh, Russian and English (and their Latin transliterations), free of
Django. A check-in must *start* with the person saying that they themselves (or all of
them) are safe: "Аман-сау, бәрі жақсы. Рахмет", "Мы живы", "Со мной всё в порядке",
"АМАН 4821". It is not a check-in when it asks ("Аман ба?", "жив ли он?"), denies ("не
жив", "not safe"), speaks of someone else ("он жив", "Аманжол"), asks for help, or
carries a phone number (then it is a request: "Я жив, позвоните маме 8701…").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Letters folded before matching, one character for one (so offsets stay those of the
# original text): Kazakh letters to the Russian ones people type instead, ё to е,
# dashes to spaces, curly apostrophes to straight ones.
_FOLD = str.maketrans(
    {
        "қ": "к",
        "ғ": "г",
        "ң": "н",
        "ә": "а",
        "ө": "о",
        "ұ": "у",
        "ү": "у",
        "һ": "х",
        "і": "и",
        "ё": "е",
        "-": " ",
        "‐": " ",
        "–": " ",
        "—": " ",
        "’": "'",
        "‘": "'",
    }
)
KAZAKH_LETTERS_RE = re.compile(r"[әғқңөұүһі]", re.IGNORECASE)
_WORD_RE = re.compile(r"[^\W\d_]+")


# Kazakh words written without a letter only Kazakh uses (so that "Амансыз ба?" is told
# from Russian): question particles, greetings, pronouns, words of a check-in.
_KAZAKH_WORDS = {
    "ба", "ма", "па", "бе", "ме", "пе", "мен", "сен", "сиз", "сиздер", "рахмет", "аман",
    "амансыз", "амансыздар", "амансын", "аманмын", "аманбыз", "жаксы", "бари",
    "саумын", "салем", "кайда", "кайдасын", "калай", "калайсыз", "иа", "жок", "ия",
}  # fmt: skip


def kazakh_written(text: str) -> bool:
    """True when some word other than a name is plainly Kazakh: it has a letter only Kazakh
    uses ("бәрі"), or is a common Kazakh word ("Амансыз ба?"); not "Передайте Гүлнаре" (a
    name, capitalised inside the sentence)."""
    for number, found in enumerate(_WORD_RE.finditer(text)):
        word = found.group()
        if not KAZAKH_LETTERS_RE.search(word):
            if fold(word) in _KAZAKH_WORDS:
                return True
            continue
        if number == 0 or not word[0].isupper() or word.isupper():
            return True
    return False


def fold(text: str) -> str:
    """Lower case and fold letter variants, keeping the length (and so the offsets)."""
    out = []
    for char in text:
        low = char.lower()
        out.append(low if len(low) == 1 else char)
    return "".join(out).translate(_FOLD)


_GREETING = (
    r"(?:(?:здравствуйте|здрасте|привет|добрый\s+(?:день|вечер)|доброе\s+утро|"
    r"салеметсиз\s+бе|салеметсиздер\s+ме|саламатсыз\s+ба|салем|"
    r"ассалаумагалейкум|ассалаумалейкум|салам|hi|hello|hey|salem)[\s,.!?]+)?"
)
_END = r"(?![\w'])"
_FORMS = {
    "kk": (
        r"(?:(?:мен|биз|биз\s+бари|бари|баримиз|men|biz|bari|barimiz)\s+)?"
        r"(?:аман(?:\s?(?:сау|есен))?(?:мын|мин|быз|биз|мыз|пыз)?"
        r"|амандык(?:та(?:мыз|быз|мын)?|пыз|быз|пын)?"
        r"|сау(?:мын|быз|пыз)|сау\s+саламат(?:пын|пыз|мын|быз)?"
        r"|тири(?:мин|миз|биз|пиз)"
        r"|aman(?:\s?(?:sau|esen))?(?:myn|min|byz|biz|myz|pyz)?|amandy[qk]|sau(?:myn|byz)"
        r"|tiri(?:min|miz|biz))"
    ),
    "ru": (
        r"(?:(?:(?:я|мы|мы\s+все|все\s+мы|мы\s+оба|ya|my)\s+)?(?:все\s+|vse\s+)?"
        r"(?:жив[аыо]?|(?:живой|живая|живые|zhivoy|zhivye)(?=\s*(?:$|[.!,;:\n\d]))|zhiv[aoy]?)"
        r"(?:\s+(?:и\s+)?(?:здоров[аы]?|цел[аы]?|невредим[аы]?|zdorov[ay]?))?"
        r"|(?:(?:я|мы|все|мы\s+все)\s+)?цел[аы]?(?:\s+и\s+невредим[аы]?)?"
        r"|(?:я|мы|мы\s+все|со\s+мной|с\s+нами|у\s+меня|у\s+нас)\s+(?:все\s+)?в\s+порядке"
        r"|все\s+в\s+порядке"
        r"|(?:я|мы|мы\s+все)\s+в\s+безопасности"
        r"|(?:у\s+меня|у\s+нас|со\s+мной|с\s+нами)\s+все\s+(?:хорошо|нормально))"
    ),
    "en": (
        r"(?:(?:(?:i\s?'?m|i\s+am|we\s?'?re|we\s+are|we'?re\s+all|we\s+are\s+all|"
        r"everyone\s+is|everybody\s+is|all|all\s+of\s+us\s+are)\s+)"
        r"(?:safe|ok|okay|fine|alive|well|alright|all\s+right)"
        r"|safe(?:\s+and\s+(?:sound|well))?)"
    ),
}
_FORM_RES = {lang: re.compile(_GREETING + form + _END) for lang, form in _FORMS.items()}
_QUESTION_WORD = re.compile(r"\s*(?:ли|или|ба|ма|па|бе|ме|пе|li|ili|ba|ma|pa|or)" + _END)
_PIN = re.compile(r"[\s,.:;!]*(\d{4,8})(?!\d)")
_PIN_FIRST = re.compile(r"\s*(\d{4,8})(?!\d)[\s,.:;!]*")
_PHONE = re.compile(r"\+?\d[\d\s()\-]{7,}\d")
_HELP = re.compile(
    r"(?:помог|помощ|спасит|ранен|срочно|komek|комек|жарала|кутка?р|help|injur|hurt|trapped|"
    r"\bsos\b)"
)
_CLAUSE_END = re.compile(r"[.!,;:\n]")


@dataclass(frozen=True)
class Checkin:
    language: str  # "kk", "ru" or "en": the language to answer in
    pin: str  # a 4-8 digit PIN given with it, or ""
    rest: str  # what they wrote after the safe words (and the PIN), as written


def safe_checkin(text: str) -> Checkin | None:
    """The check-in this SMS makes, or None when it is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    folded = fold(text)
    if _PHONE.search(folded) or _HELP.search(folded):
        return None
    start = len(folded) - len(folded.lstrip())
    pin = ""
    first_pin = _PIN_FIRST.match(folded, start)
    if first_pin:
        pin, start = first_pin.group(1), first_pin.end()
    matches = ((lang, form.match(folded, start)) for lang, form in _FORM_RES.items())
    language, found = next(((lang, m) for lang, m in matches if m), ("", None))
    if found is None:
        return None
    end = found.end()
    if _QUESTION_WORD.match(folded, end):
        return None
    clause = _CLAUSE_END.search(folded, end)
    if "?" in folded[end : clause.start() if clause else len(folded)]:
        return None
    if not pin:
        after_pin = _PIN.match(folded, end)
        if after_pin:
            pin, end = after_pin.group(1), after_pin.end()
    rest = text[end:].lstrip(" \t\r\n,.:;!—–-").strip()
    if language != "kk" and kazakh_written(text):
        language = "kk"  # "Жив, бәрі жақсы": written in Kazakh, answered in Kazakh
    return Checkin(language=language, pin=pin, rest=rest)
