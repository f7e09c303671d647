"""What a message asks for: welfare_check, deliver_message, find_relatives,
medical or not_a_request; and whether it is urgent."""

from __future__ import annotations

import re

from .text import fold, lower_re

# Asking someone to do something: call, pass on, check.
REQUEST_RE = lower_re(
    r"(?:позвон(?:ите|и)\b|дозвонит|набер(?:ите|и)\b|передай|переда(?:ть|йте)|скажите|узнайте|"
    r"проверьте|помогите|свяжитесь|сообщите|наберите|хабарлас(?:ыңыз|ып|ыңдар|ындар)|"
    r"айт(?:ыңыз|ындар|ыңдар|ып)|біліп\s+бер|хабар\s+бер|қоңырау\s+шал|жеткізіңіз|"
    r"\bcall\b|\btell\b|\bcheck\b|\bask\b|\bcontact\b|\breach\b|\btry\b|"
    r"aityn|aitin|habarlas|pozvonite|звоните|пишите|отзовитесь|\bищу\b|\bищем\b|іздейміз)",
)
SPAM_RE = lower_re(
    r"(?:куплю|продам|продаю|заработок|заработка|без\s+вложений|earn\s+\$?\d|crypto|крипт|vpn|подпиш|"
    r"subscribe|\bdm\s+me\b|жми|скидк|доставка|аренд|сдаю|сдается|жалға\s+беріл|тәуліктік|"
    r"казино|casino|ставки|bet\b|кредит|займ|loan|promo)",
)
THANKS_RE = lower_re(
    r"(?:спасибо|благодар|рахмет|рақмет|thank|алла\s+разы)",
)
DONE_RE = lower_re(
    r"(?:дозвонил(?:ись|ась|ся)\b|хабарласты|жеткізіпсіздер|who(?:ever)?\s+called|"
    r"\bcalled\s+my|получили\s+весточку|нашлись|нашелся|нашёлся|табылды\s+рахмет)",
)
NEWS_RE = lower_re(
    r"(?:говорят|пишут\s+что|по\s+информации|жаңалық|правда\s+что|правда\s+или\s+нет|рас\s+па|"
    r"does\s+anyone\s+know|is\s+it\s+true|heard\s+from|как\s+подать|куда\s+писать|"
    r"қай\s+нөмірге|қалай\s+беремін|коменданттық|комендантский\s+час\s+с|не\s+открывайте|"
    r"перешлите\s+всем|осторожно|мошенник|алаяқ|scam|fake|фейк|я\s+волонтер|i'?m\s+a\s+volunteer|"
    r"звоню\s+по\s+заявкам|кидайте\s+в\s+личку)",
)
HOSPITAL_RE = lower_re(
    r"(?:больниц|госпитал|\bгкб\b|\bцгкб\b|\bбсмп\b|реанимац|приемн|приёмн|поступил|"
    r"аурухана|hospital|\bward\b|brought\s+in|patient|пациент|клиник|clinic|травмпункт|морг)",
)
MEDS_RE = lower_re(
    r"(?:лекарств|инсулин|insulin|medication|medicine|pills|таблетк|дәрі|ингалятор|inhaler|"
    r"уколы|укол\b|диализ|dialysis|кислород|oxygen|после\s+операции|упала|упал\b|перелом|"
    r"кровотеч|bleeding|injur|ранен)",
)
FOUND_RE = lower_re(
    r"(?:найден[аоы]?\b|найдён|нашли\s+(?:ребенка|девочку|мальчика|мужчину|женщину)|табылды|"
    r"\bfound\b|got\s+lost|потерял(?:ся|ась)|адасып|ищем\s+(?:родных|родственников|родителей)|"
    r"туыстарын\s+іздейміз|if\s+you\s+think\s+she|if\s+you\s+think\s+he|кто\s+знает\s+семью|"
    r"ата-анасы)",
)
URGENT_RE = lower_re(
    r"(?:срочно|urgent|шұғыл|шугыл|asap|emergency|экстренн|без\s+сознания|unconscious|есі\s+жоқ|"
    r"реанимац|тяж[её]л|critical|пропал|не\s+вернул|хабарсыз|missing|disappeared|"
    r"упала|не\s+может\s+встать|заканчивается\s+инсулин|ran\s+out|таусылып|закончил)",
)
WELFARE_RE = lower_re(
    r"(?:узнайте|проверьте|живы?\s+ли|жива\s+ли|как\s+(?:он|она|они)\b|все\s+ли|всё\s+ли|"
    r"check\s+on|check\s+(?:she|he|if)|ask\s+if|аман\s+ба|не\s+отвеча|хабар\s+жоқ)",
)
_CALLBACK_ONLY_RE = lower_re(
    r"(?:перезвон|наберут|наберет|наберёт|позвонит\s+мне|хабарлассын|call\s+me|ждут\s+звонка)"
)

ADMITTED_RE = lower_re(
    r"(?:поступил|brought\s+in|түсті|пациент|patient|лежит|ищем|іздейміз|recogni)"
)
PLEASE_RE = lower_re(r"пожалуйста|please|өтінем")
_NUMBERISH_RE = re.compile(r"[\d+()\-\s]+")

OFFER_RE = lower_re(
    r"(?:звоню\s+по\s+заявкам|кидайте\s+в\s+личку|пишите\s+в\s+личку|i\s+can\s+call\s+for|"
    r"can\s+make\s+calls\s+for|қоңырау\s+шалып\s+беремін|звоню\s+бесплатно)",
)


# Every pattern is lower case and meets fold(text): see text.fold.


def is_request(text: str, n_numbers: int) -> bool:
    text = fold(text)
    if SPAM_RE.search(text) or OFFER_RE.search(text):
        return False
    has_req = bool(REQUEST_RE.search(text))
    if NEWS_RE.search(text) and (n_numbers == 0 or not has_req):
        return False
    if (THANKS_RE.search(text) or DONE_RE.search(text)) and not has_req:
        return False
    if DONE_RE.search(text) and n_numbers <= 1 and not PLEASE_RE.search(text):
        return False
    if n_numbers == 0 and not has_req:
        return False
    if n_numbers == 0 and text.rstrip().endswith("?"):  # noqa: SIM103
        return False
    return True


def classify(text: str, n_numbers: int, message: str | None, *, request: bool | None = None) -> str:
    """`request`: is_request(text, n_numbers) when the caller already knows it."""
    text = fold(text)
    if not (is_request(text, n_numbers) if request is None else request):
        return "not_a_request"
    message = fold(message) if message else message
    hospital = bool(HOSPITAL_RE.search(text))
    if hospital and ADMITTED_RE.search(text):
        return "medical"
    if FOUND_RE.search(text):
        return "medical" if hospital else "find_relatives"
    if MEDS_RE.search(text):
        return "medical"
    if message:
        bare = _NUMBERISH_RE.sub(" ", message).split()
        callback_only = _CALLBACK_ONLY_RE.search(message) and len(bare) <= 6
        if callback_only or (WELFARE_RE.search(text) and len(bare) <= 2):
            return "welfare_check"
        return "deliver_message"
    return "welfare_check"


def is_urgent(text: str, kind: str) -> bool:
    if kind == "not_a_request":
        return False
    return bool(URGENT_RE.search(fold(text)))
