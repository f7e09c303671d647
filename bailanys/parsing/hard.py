"""Words that make a case hard for a volunteer to carry: a death, a detention, a missing
person, a child. Plain rules in Russian, Kazakh and English, free of Django.

A hit never refuses anyone: it sends the case to volunteers who take hard cases.
"""

import re

HARD_RE = re.compile(
    r"(?:умер|умерл|скончал|погиб|смерт|морг|похорон|задержа|арест|полици|изолятор|"
    r"пропал|пропаж|не\s+вернул|ребен|ребён|дет[иейям]|младен|сын\s+\d|дочь\s+\d|"
    r"қайтыс|қаза|жерлеу|ұсталды|қамау|хабарсыз|жоғалып|нәресте|"
    r"(?<!\w)бала(?:лар\w*|м|мыз|сы|ым|ға|ны)?(?!\w)|"
    r"\bdied\b|\bdead\b|\bdeath|funeral|morgue|detain|arrest|police|custody|missing|"
    r"\bchild|\bkid\b|\bbaby|\d+\s*(?:лет|жаста|years?\s+old))",
    re.IGNORECASE,
)


def hard_words_found(text: str) -> bool:
    """True when the text speaks of a death, a detention, a missing person or a child."""
    return bool(HARD_RE.search(text))
