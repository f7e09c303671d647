"""Signs that a request or a reply is a scam ("your son is detained, pay").

Plain rules in Russian, Kazakh and English. A hit never blocks anyone: it
sends the case to a coordinator before anything is relayed.
"""

import re

_RULES = {
    "money": (
        r"деньг|денег|переведи|переведите|перевести\s+\d|скиньте|скинь\s+\d|заплат|оплатит"
        r"|ақша|аударыңыз|аударып\s+жібер|төлеңіз"
        r"|\bsend\s+(?:me\s+)?money|\bwire\s+(?:me\s+)?\$?\d|\bpay\s+(?:me|us|now|\$?\d)"
        r"|western\s+union|золот\w+\s+корон"
    ),
    "card": (
        r"номер\s+карт|на\s+карт|карточк|kaspi|каспи|card\s+number"
        r"|(?<!\d)(?:\d[ -]?){15}\d(?!\d)"
    ),
    "code": (
        r"код\s+из\s+смс|смс[- ]?код|пин[- ]?код|cvv|cvc|sms\s+code|verification\s+code"
        r"|code\s+from\s+(?:the\s+)?sms|кодты\s+айт"
    ),
    "bail": r"залог|взятк|откуп|\bbail\b|кепілақы|штраф\s+за\s+освобожд",
}
_COMPILED = {name: re.compile(rule, re.IGNORECASE) for name, rule in _RULES.items()}


def scam_signals(text: str) -> list[str]:
    """The kinds of scam sign in `text` (money, card, code, bail), or []."""
    return [name for name, rule in _COMPILED.items() if text and rule.search(text)]
