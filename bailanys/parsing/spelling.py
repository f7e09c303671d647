"""Names and cities by how they sound, across Cyrillic, Kazakh and Latin spellings.

Keys for suggesting merges to a coordinator, who decides: a key may join names that
only sound alike. Plain rules, free of Django.
"""

import re
import unicodedata

from bailanys.parsing.cities import find_places

# Kazakh letters written as the Russian ones people type instead.
_KAZAKH_FOLD = str.maketrans("әғқңөұүһі", "агкноуухи")
# Letters of the Kazakh Latin alphabets that stripping accents would get wrong.
_LATIN_FOLD = {"\u015f": "sh", "\u00e7": "ch", "\u0131": "i"}  # s-cedilla, c-cedilla, dotless i
# Cyrillic to Latin, already in the skeleton's spelling: short i, yery and Latin "y" are
# all "i"; zhe is "j", kha is "h"; the soft and hard signs vanish.
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            *"abvgdeejziiklmnoprstufh",
            *["ts", "ch", "sh", "sh", "", "i", "", "e", "iu", "ia"],
        ],
        strict=True,
    )
)
# Latin spellings that stand for one sound, longest first: Zhanar = Janar,
# Askhat = Ashat, Ghalym = Galym, Qanat = Kanat, Aygerim = Aigerim.
_DIGRAPHS = [
    ("shch", "sh"),
    ("dzh", "j"),
    ("dj", "j"),
    ("zh", "j"),
    ("kh", "h"),
    ("gh", "g"),
    ("x", "ks"),
    ("q", "k"),
    ("w", "v"),
    ("y", "i"),
]
_NOT_LETTERS = re.compile(r"[^a-z]+")
# Apostrophes (a soft sign in Latin: Il'yas = Ilyas) join a word, they do not split it.
_APOSTROPHES = re.compile("['`\u2019\u02bc\u00b4]")
_DOUBLES = re.compile(r"(.)\1+")


def _word_skeleton(word: str) -> str:
    word = "".join(_CYRILLIC.get(ch, ch) for ch in word)
    # Until nothing changes: one replacement can make another pair ("zkh" -> "zh" -> "j").
    while True:
        before = word
        for spelled, sound in _DIGRAPHS:
            word = word.replace(spelled, sound)
        word = _DOUBLES.sub(r"\1", word)
        # Yerlan = Erlan: an initial "ye" is how the Cyrillic "e" is often written in Latin.
        if word.startswith("ie"):
            word = word[1:]
        if word == before:
            return word


def name_key(name: str) -> str:
    """What a name sounds like, the same across Cyrillic, Kazakh and Latin spellings.

    Нұрлан, Нурлан and Nurlan give one key; so do Айгерім, Aigerim and Aygerim;
    Жанар, Zhanar and Janar; Ерлан, Yerlan and Erlan. The key is for suggesting
    merges to a coordinator, who decides: it may join names that only sound alike.
    """
    text = unicodedata.normalize("NFKC", name or "").casefold().translate(_KAZAKH_FOLD)
    text = "".join(_LATIN_FOLD.get(ch, ch) for ch in text)
    # Accents off (ā, ü, ö, ñ, and the Cyrillic short i and yo): NFKD, drop combining marks.
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    text = _APOSTROPHES.sub("", text)
    words = re.split(r"[\W_]+", text)
    skeletons = (_word_skeleton(word) for word in words if word)
    return " ".join(s for s in (_NOT_LETTERS.sub("", s) for s in skeletons) if s)


def city_key(city: str) -> str:
    """A city as the gazetteer names it ("Almaty" = "Алматы" = "Алма-Ата"), else its
    spelling key; "" for no city, which matches nothing."""
    city = " ".join((city or "").split())
    if not city:
        return ""
    found = find_places(city[:1].upper() + city[1:])
    if found:
        place = found[0].place
        return "place:" + (place.parent or place.canonical)
    key = name_key(city)
    return f"text:{key}" if key else ""
