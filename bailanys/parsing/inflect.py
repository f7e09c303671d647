"""Base forms of names and kinship words as people write them in requests (no Django).

"позвоните Гульнаре", "апама Күләшке", "брату Ерику": the name is in the dative. The
volunteer and the requester's notices need "Гульнара", "Күләш", "Ерик". A short list of
common given names (with their gender) settles most words; for the rest the case that
the word before the name governs (a kinship word in the dative, "позвоните", "до") and
Kazakh suffix rules decide. When nothing is sure the word is kept as written.
"""

from __future__ import annotations

import re

# Common given names, nominative, with gender: enough to undo Russian declension, which
# depends on it ("Айдару" is Айдар's dative, "Гульнару" Гульнара's accusative).
_FEMALE = (
    "Айгерим Айгерім Айгуль Айгүл Айжан Айнур Айнұр Айман Айсулу Айым Акерке Ақерке Алия "
    "Алтынай Альбина Анна Асель Әсел Асем Әсем Аружан Асия Балжан Бибигуль Ботагоз Ботагөз "
    "Гаухар Гүлжан Гульжан Гульмира Гүлмира Гульнара Гүлнара Гульнар Гүлнар Гульсим Дана "
    "Дарига Дария Динара Дина Жанар Жанна Жібек Жибек Зарина Зауре Зәуре Зинаида Ирина Камила "
    "Карина Клара Күләш Кулаш Лаура Лейла Ляззат Лязат Мадина Мәдина Майра Малика Мария Меруерт "
    "Мөлдір Молдир Надежда Надя Назерке Наталья Наташа Нургуль Нұргүл Ольга Оля Райхан Раиса "
    "Роза Салтанат Сара Сауле Сәуле Светлана Томирис Ұлжан Улжан Шолпан Эльмира Әйгерім Юлия "
    "Жансая Ақмарал Акмарал Ляйлим Аида Айша Галина Татьяна Елена Лена Людмила Валентина "
    "Алина Алуа Анель Арай Диана Дильназ Жулдыз Жұлдыз Индира Кундыз Құндыз Марал Нурсулу "
    # female names that look like a male name's genitive: the name itself wins
    "Амира Дамира Руслана Александра Евгения Адиля Айдана "
    # and names that start like a kinship word (ана-, ұл-, дос-)
    "Анар Анара Анаргуль Анастасия Ұлпан Улпан"
)
_MALE = (
    "Айбек Айбол Айдар Айдос Алмас Алмат Алибек Амир Андрей Ануар Арман Асан Асет Асқар Аскар "
    "Асхат Ахмет Бағдат Багдат Бауыржан Бахыт Бекжан Бекет Болат Бұлат Булат Дамир Даниял "
    "Данияр Дастан Даурен Дәурен Денис Дмитрий Ербол Ерболат Ерик Ерлан Ермек Ернар Ержан "
    "Жандос Жанибек Жасулан Жумабек Игорь Кайрат Қайрат Қайырбек Максим Марат Мақсат Максат "
    "Мейрамбек Мұрат Мурат Нурбол Нұрбол Нурлан Нұрлан Нурлыбек Нұрлыбек Олжас Павел Руслан "
    "Рустам Самат Саят Серік Серик Серикбай Сергей Султан Сұлтан Талғат Талгат Тимур Темірлан "
    "Темирлан Ерасыл Азамат Алексей Александр Владимир Виктор Еркебулан Асылбек Нурик Әділ Адиль "
    "Абай Айбар Бақыт Бекзат Берик Берік Габит Ғабит Дархан Димаш Думан Ерназар Ермұхан Жомарт "
    "Ұлан Улан Досжан Достан Бауыржан Баурыжан Атабек Ағабек"
)


def _norm(word: str) -> str:
    return word.lower().replace("ё", "е")


GENDER: dict[str, str] = {_norm(n): "f" for n in _FEMALE.split()}
GENDER.update({_norm(n): "m" for n in _MALE.split()})

_LAT = str.maketrans(
    {
        "а": "a",
        "ә": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "ғ": "g",
        "д": "d",
        "е": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "й": "i",
        "і": "i",
        "к": "k",
        "қ": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "ң": "n",
        "о": "o",
        "ө": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ұ": "u",
        "ү": "u",
        "ф": "f",
        "х": "kh",
        "һ": "h",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "sh",
        "ы": "y",
        "ь": "",
        "ъ": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    }
)
for _n, _g in list(GENDER.items()):
    GENDER.setdefault(_n.translate(_LAT), _g)

_VOICELESS = set("кқпстфхцчшщ") | set("kpstfhc")
_VOWELS = set("аәеёиоөуұүыіэюяaeiouy")
_BACK = set("аоұыуяaouy")
_CYR = re.compile(r"[а-яёәғқңөұүһі]")
_KK_LETTERS = re.compile(r"[әғқңөұүһі]")

# Kazakh case suffixes on a name: dative, accusative, genitive, ablative, instrumental.
_KK_SUFFIX_RE = re.compile(
    r"(?:-)?(?:ға|ге|қа|ке|га|ka|ke|ga|ge|qa|ны|ні|ды|ді|ты|ті|ның|нің|дың|дің|тың|тің|"
    r"нан|нен|дан|ден|тан|тен|мен|бен|пен)$"
)

# What the word before a name says about its case.
_DAT_WORDS = {
    "позвоните",
    "позвонить",
    "позвони",
    "передайте",
    "передать",
    "передай",
    "скажите",
    "скажи",
    "сообщите",
    "напишите",
    "звоните",
    "помогите",
    "pozvonite",
    "peredaite",
    "peredayte",
    "skazhite",
    "soobshite",
    "soobshchite",
    "к",
    "ко",
}
_GEN_WORDS = {"до", "у", "для", "от", "номер", "телефон", "do", "u", "ot"}
_ACC_WORDS = {"наберите", "проверьте", "найдите", "ищу", "ищем", "спросите", "про", "на"}

# Russian kinship words in an oblique case -> (nominative, case, gender).
KIN_FORMS: dict[str, tuple[str, str, str]] = {}
for _base, _g, _forms in (
    ("мама", "f", "маме:dat мамы:gen маму:acc мамой:ins маман:nom"),
    ("папа", "m", "папе:dat папы:gen папу:acc папой:ins"),
    ("брат", "m", "брату:dat брата:gen братом:ins братишке:dat"),
    ("сестра", "f", "сестре:dat сестры:gen сестру:acc сестрой:ins сестренке:dat сестрёнке:dat"),
    ("тётя", "f", "тете:dat тёте:dat тети:gen тёти:gen тетю:acc тётю:acc"),
    ("дядя", "m", "дяде:dat дяди:gen дядю:acc"),
    ("бабушка", "f", "бабушке:dat бабушки:gen бабушку:acc бабуле:dat"),
    ("дедушка", "m", "дедушке:dat дедушки:gen дедушку:acc деду:dat"),
    ("сын", "m", "сыну:dat сына:gen"),
    ("дочь", "f", "дочери:dat дочке:dat дочку:acc"),
    ("жена", "f", "жене:dat жены:gen жену:acc"),
    ("муж", "m", "мужу:dat мужа:gen"),
    ("друг", "m", "другу:dat друга:gen"),
    ("подруга", "f", "подруге:dat подруги:gen подругу:acc"),
    ("сосед", "m", "соседу:dat соседа:gen"),
    ("соседка", "f", "соседке:dat соседки:gen соседку:acc"),
    ("внук", "m", "внуку:dat внука:gen"),
    ("внучка", "f", "внучке:dat внучки:gen внучку:acc"),
    ("отец", "m", "отцу:dat отца:gen"),
    ("мать", "f", "матери:dat"),
    ("родители", "", "родителям:dat родителей:gen"),
    ("mama", "f", "mame:dat mamy:gen mamu:acc"),
    ("papa", "m", "pape:dat papy:gen papu:acc"),
    ("brat", "m", "bratu:dat brata:gen"),
    ("sestra", "f", "sestre:dat sestry:gen sestru:acc"),
):
    KIN_FORMS[_base] = (_base, "nom", _g)
    for _f in _forms.split():
        _w, _c = _f.split(":")
        KIN_FORMS[_w] = (_base, _c, _g)
_KIN_GENDER_NOM = {
    "мама": "f",
    "ана": "f",
    "апа": "f",
    "әже": "f",
    "сіңлі": "f",
    "әпке": "f",
    "жеңге": "f",
    "папа": "m",
    "әке": "m",
    "ата": "m",
    "аға": "m",
    "іні": "m",
}


def _like(word: str, base: str) -> str:
    """`base` in the letter case of `word` (ЕРНАР, ерлан, Ерлан)."""
    if word.isupper() and len(word) > 1:
        return base.upper()
    if word[:1].isupper():
        return base[:1].upper() + base[1:]
    return base


def relation_base(word: str) -> str:
    """A kinship word in its base form: "маме" -> "мама", "апама" -> "апам", "әжеме" -> "әжем"."""
    low = _norm(word)
    if low in KIN_FORMS:
        return _like(word, KIN_FORMS[low][0])
    # Kazakh "my X" in the dative: анама, әкеме, досыма, қызыма -> анам, әкем, досым, қызым;
    # "his X": анасына -> анасы.
    if len(low) > 4 and low[-2:] in ("ма", "ме") and low[-3] != "м":
        return _like(word, word[:-1].lower())
    if len(low) > 5 and low[-3:] in ("ына", "іне"):
        return _like(word, word[:-2].lower())
    if len(low) > 4 and low[-2:] in ("ma", "me") and low[-3] in "aeiouy":
        return _like(word, word[:-1].lower())
    stem = _kazakh_stem(low)  # "апайға" -> "апай"
    if stem is not None:
        return _like(word, stem)
    return word


def kin_hint(word: str) -> tuple[str, str]:
    """(case, gender) a kinship word before a name gives it: "маме" -> ("dat", "f")."""
    low = _norm(word)
    if low in KIN_FORMS:
        _b, case, gender = KIN_FORMS[low]
        return case, gender
    base = _norm(relation_base(word))
    for stem, gender in _KIN_GENDER_NOM.items():
        if base.startswith(stem):
            return ("dat" if base != low else "nom"), gender
    return "", ""


def word_hint(word: str) -> str:
    """The case a verb or preposition before a name governs, or ""."""
    low = _norm(word)
    if low in _DAT_WORDS:
        return "dat"
    if low in _GEN_WORDS:
        return "gen"
    if low in _ACC_WORDS:
        return "acc"
    return ""


def _kazakh_stem(low: str) -> str | None:
    """The name under a Kazakh case suffix, when the suffix agrees with it."""
    m = _KK_SUFFIX_RE.search(low)
    if not m:
        return None
    stem = low[: m.start()]
    suffix = m.group().lstrip("-")
    if len(stem) < 3 or stem[-1] in "ьъ":
        return None
    last = stem[-1]
    first = suffix[0]
    if first in "қкkq" and last not in _VOICELESS:
        return None
    if first in "гғg" and last in _VOICELESS:
        return None
    if first in "тt" and last not in _VOICELESS:
        return None
    if first == "д" and last in _VOICELESS:
        return None
    if first == "н" and last not in _VOWELS and last not in "мнң":
        return None
    if suffix in ("мен",) and last not in _VOWELS and last not in "лрймнң":
        return None
    vowels = [c for c in stem if c in _VOWELS]
    if vowels and suffix[-1] in "аыa" and vowels[-1] not in _BACK and _KK_LETTERS.search(stem):
        return None  # front-vowel stem with a back suffix: not a suffix
    return stem


def _russian_candidates(low: str) -> list[tuple[str, str, str]]:
    """(base, case, gender) that `low` may be a Russian case form of."""
    out = []
    for end, case, gender, repl in (
        ("ой", "ins", "f", "а"),
        ("ей", "ins", "f", "я"),
        ("ом", "ins", "m", ""),
        ("ем", "ins", "m", "й"),
        ("ем", "ins", "m", "ь"),
        ("ию", "acc", "f", "ия"),
        ("ии", "dat", "f", "ия"),
        ("ие", "dat", "f", "ия"),
        ("е", "dat", "f", "а"),
        ("е", "dat", "f", "я"),
        ("е", "dat", "f", "ь"),
        ("и", "gen", "f", "ь"),
        ("и", "gen", "f", "я"),
        ("и", "gen", "f", "а"),
        ("ы", "gen", "f", "а"),
        ("у", "acc", "f", "а"),
        ("у", "dat", "m", ""),
        ("ю", "acc", "f", "я"),
        ("ю", "dat", "m", "й"),
        ("ю", "dat", "m", "ь"),
        ("я", "gen", "m", "й"),
        ("я", "gen", "m", "ь"),
        ("а", "gen", "m", ""),
        ("e", "dat", "f", "a"),
        ("u", "acc", "f", "a"),
        ("u", "dat", "m", ""),
        ("y", "gen", "f", "a"),
        ("a", "gen", "m", ""),
    ):
        if low.endswith(end) and len(low) - len(end) >= 2:
            out.append((low[: len(low) - len(end)] + repl, case, gender))
    return out


def name_word_base(word: str, case: str = "", gender: str = "", kazakh: bool = False) -> str:
    """One name word in its base form; `case`/`gender` from the words around it."""
    low = _norm(word)
    if len(low) < 3:
        return word
    if low in GENDER:
        return word
    # Latin script: only where a Russian case is known ("pozvonite mame Gulnare"), so that
    # an English "Anne" stays Anne
    if is_cyrillic(low) or case:
        for base, _c, g in _russian_candidates(low):
            if GENDER.get(base) == g:
                return _like(word, base)
    stem = _kazakh_stem(low)
    if stem is not None and (stem in GENDER or kazakh or _KK_LETTERS.search(low)):
        return _like(word, stem)
    # Patronymics and surnames decline by rule.
    for end, base in (
        ("овны", "овна"),
        ("евны", "евна"),
        ("овне", "овна"),
        ("евне", "евна"),
        ("овну", "овна"),
        ("евну", "евна"),
        ("овной", "овна"),
        ("евной", "евна"),
        ("ичу", "ич"),
        ("ича", "ич"),
        ("ичем", "ич"),
        ("овой", "ова"),
        ("евой", "ева"),
        ("иной", "ина"),
    ):
        if low.endswith(end) and len(low) > len(end) + 1:
            return _like(word, low[: -len(end)] + base)
    if not case:
        return word
    # An unknown name in a case we know: the regular endings.
    if case == "dat" and gender != "m" and low[-1] in "еe" and low[-2] not in _VOWELS:
        return _like(word, low[:-1] + ("a" if low[-1] == "e" else "а"))
    if case == "dat" and gender != "f" and low[-1] in "уu" and low[-2] not in _VOWELS:
        return _like(word, low[:-1])
    if case == "gen" and gender != "f" and low[-1] in "аa" and low[-2] not in _VOWELS:
        return _like(word, low[:-1])
    if case == "gen" and gender != "m" and low[-1] == "ы":
        return _like(word, low[:-1] + "а")
    if case == "acc" and gender != "m" and low[-1] in "уu" and low[-2] not in _VOWELS:
        return _like(word, low[:-1] + ("a" if low[-1] == "u" else "а"))
    return word


def name_base(name: str, case: str = "", gender: str = "", kazakh: bool = False) -> str:
    """A name of one to three words ("Ирины Викторовны") in its base form ("Ирина Викторовна")."""
    parts = re.split(r"(\s+)", name)
    words = parts[::2]
    if not gender:
        for w in words:
            g = GENDER.get(_norm(w)) or next(
                (GENDER[b] for b, _c, _g in _russian_candidates(_norm(w)) if b in GENDER), ""
            )
            if g:
                gender = g
                break
    out = []
    for i, part in enumerate(parts):
        if i % 2 or part.lower() in ("и", "and", "және", "мен"):
            out.append(part)
        else:
            out.append(name_word_base(part, case, gender, kazakh))
    return "".join(out)


def is_cyrillic(text: str) -> bool:
    return bool(_CYR.search(text.lower()))
