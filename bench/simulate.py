#!/usr/bin/env python
# ruff: noqa: RUF001, RUF003
# Russian and Kazakh words in the made-up requests are intended.
"""7 January 2022 twice, on a simulated clock: with Bailanys, and as it was done then; JSON.

python bench/simulate.py [--requests 3700] [--volunteers 50] [--seed 7] [--small]
                         [--no-bridge] [--sims 5]

A discrete-event simulation of one day of the Almaty relay (seed article 000: 3,700
requests on Friday 7 January, about 50 volunteers). The same made-up day is played twice:

* Bailanys: the real services on a fresh SQLite data directory, with Django's clock
  driven by time_machine event by event. Requests go through request_check and
  request_create (deduplication into cases), volunteers take cases with case_claim_next
  and finish them with claim_record_outcome (retries wait for the case's available_at;
  leases lapse through claims_expire), and the SMS bridge runs as it does in production:
  bridge_start on a new case, delivery reports through delivery_report, the recipient's
  answer through inbound_accept + inbound_handle. Only the SIM itself is simulated: the
  bench writes the SmsDelivery row the gateway adapter would write (the outbox worker is
  not run: its rate limiter sleeps on the wall clock, which a frozen clock never moves).
* 2022 baseline, pure Python: every request is a post in a shared group; a free
  volunteer picks one of the newest posts by eye; no deduplication, no leases, no
  bridge; a requester whose post went nowhere re-posts.

Every parameter and rule is printed under "assumptions". Deterministic for a seed.
"""

import argparse
import heapq
import itertools
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import at_most  # noqa: E402
from bench._common import machine as machine_now  # noqa: E402

ALMATY = ZoneInfo("Asia/Almaty")  # UTC+6 in January 2022
DAY_START = datetime(2022, 1, 7, 0, 0, tzinfo=ALMATY)
DAY = 24 * 60  # minutes of requests
HORIZON = 32 * 60  # the simulation runs on to 08:00 on 8 January, then counts

# --- The day, as assumed (every constant below is echoed in the output) --------------

# Requests per hour of the Almaty day, relative. Relatives in Russia, Turkey, the EU and
# the US post through the Almaty night (19:00 in Berlin is 00:00 in Almaty), fewest
# 03:00-06:00; rising from 07:00; a midday plateau; the peak 19:00-21:00 after the
# president's address on 7 January and as Europe's working day ends.
HOURLY_WEIGHTS = [
    3.0, 2.5, 2.0, 1.5, 1.0, 1.0, 1.5, 2.5, 3.5, 4.5, 5.0, 5.5,
    5.5, 5.5, 5.0, 5.0, 5.0, 5.0, 5.5, 6.0, 6.0, 5.5, 4.5, 3.5,
]  # fmt: skip
# How many requests name the same recipient number (several relatives abroad asking for
# the same parent): mean about 1.48, so 3,700 requests are about 2,500 recipients.
REQUESTS_PER_RECIPIENT = [(1, 0.70), (2, 0.18), (3, 0.08), (4, 0.03), (5, 0.01)]
DUP_CLUSTERED = 0.6  # a further request follows the first within Exp(mean) minutes ...
DUP_CLUSTER_MEAN_MIN = 45.0  # ... otherwise it comes at an independent time of the day
# Kinds as the project's demo draws them (relay/demo.py: 6:3:1:1); medical is a hard case.
KINDS = [("deliver_message", 6), ("welfare_check", 3), ("find_relatives", 1), ("medical", 1)]
URGENT = 0.10
REQUESTER_LANGUAGES = [("ru", 0.60), ("kk", 0.25), ("en", 0.15)]
EMPTY_WELFARE_MESSAGE = 0.3  # a welfare check with no message: "just check they are safe"
PHONE_PREFIXES = ["700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777"]

# Recipients. "first": answers the first call (a third, as the issue says); "later":
# misses the first call, then answers each later call with P_LATER; "never": phone off
# (NEVER_OFF of them) or never picks up; "wrong": the number is not theirs.
RECIPIENT_TYPES = [("first", 0.33), ("later", 0.45), ("never", 0.20), ("wrong", 0.02)]
P_LATER = 0.5
LATER_AWAY_MIN = 10.0  # ... but not within this long of the call they missed: still away
NEVER_OFF = 0.6
P_ANSWER_AGAIN = 0.8  # someone reached once answers a later call with this probability
UNANSWERED_BUSY = 0.2  # an unanswered call of a "first"/"later" recipient: busy, else no answer
P_REFUSED = 0.01  # of answered calls
P_DELIVERED_VIA_OTHER = 0.25  # answered by someone else in the household who passes it on
CALL_ANSWERED_MIN = (2.0, 4.0)  # uniform, plus EXTRA_PER_MESSAGE for each further message
EXTRA_PER_MESSAGE_MIN = 0.5
EXTRA_MESSAGES_CAP_MIN = 3.0
CALL_UNANSWERED_MIN = (0.5, 1.0)  # ringing out, busy tone, "switched off", "wrong number"
CALL_BUSY_CONCURRENT_MIN = (0.25, 0.5)  # the number is on another volunteer's call

# Volunteers: shifts in Almaty time (start, end, share of volunteers); the night shift
# works again from 00:00 on 8 January while the leftovers are finished.
SHIFTS = [
    ("night", 0, 8, 8),
    ("morning", 7, 15, 16),
    ("afternoon", 13, 21, 16),
    ("evening", 19, 25, 10),
]
EXPERIENCED_SHARE = 0.2  # take hard (medical) cases; at least one per shift
PAUSE_MIN = (0.5, 1.5)  # between two calls, uniform
BREAK_MIN = 20.0  # once per shift, at the first free moment after its middle
ABANDON = 0.01  # a volunteer takes a case/post and is called away before dialling
ABANDON_AWAY_MIN = (10.0, 30.0)
HANDLING_MIN = {"bailanys": 0.5, "baseline": 1.0}  # per call, besides the call itself

# SMS bridge (Bailanys only).
SMS_GATEWAYS = 5  # SIMs at the app's default 400 SMS a day each (--sims)
SMS_REPORT_MIN = (0.2, 2.0)
SMS_GATEWAY_FAILED = 0.03  # a failed report: the case goes to the call queue at once
SMS_REPLY = {"first": 0.6, "later": 0.35, "never": 0.1, "wrong": 0.3}  # off phones never
SMS_REPLY_MEDIAN_MIN = 10.0  # lognormal, sigma 1: about 1 in 4 answers after 30 minutes
SMS_REPLY_SIGMA = 1.0
SMS_REPLY_SAFE_WORD = 0.2  # the answer starts with "Живы"/"Аман"/"Safe"
SWEEP_EVERY_MIN = 5.0  # bridges_sweep, as the worker runs it

# 2022 baseline.
FEED_WINDOW = 20  # the newest posts not yet visibly taken: what a volunteer sees
SCROLL_BACK = 0.15  # sometimes they scroll back and pick an older untaken post
SCROLL_DEPTH = 300
MARK_VISIBLE_MIN = (0.5, 3.0)  # until the others see "беру" under a post
NOTICE_MIN = (0.5, 5.0)  # an idle volunteer notices a new post
REPOST_AFTER_MIN = (120.0, 240.0)  # no "reached" reply by then: re-post ...
REPOST_P = 0.5  # ... with this probability ...
REPOSTS_MAX = 2  # ... at most this many times

# --- Made-up people and words (request_check accepts all; none is hard or a scam) -------

FIRST_NAMES = [
    "Айгерим", "Нурлан", "Asel", "Бекзат", "Dana", "Ерлан", "Гульнара", "Timur", "Сәуле",
    "Марат", "Айгуль", "Мадина", "Arman", "Жанар", "Ольга", "Руслан", "Динара", "Ержан",
]  # fmt: skip
RECIPIENT_NAMES = [
    "мама Гульнара", "Бабушка Роза", "Әкем Серік", "Апам Бибігүл", "Виктор Павлович",
    "Алия Омарова", "Қанат ағай", "Елена Ким", "Шешем Зәуре", "Bolat Nurlanovich",
    "Нина Петровна", "Атам Жұмабай", "Бахыт", "Ainur", "Сауле Абенова", "Андрей",
]  # fmt: skip
CITIES = ["Алматы", "Алматы", "Алматы", "Астана", "Шымкент", "Караганда", "Актобе", "Тараз"]
MESSAGES = {
    "ru": [
        "Мама, я в Германии, рейсов нет, но со мной всё хорошо. Не волнуйся.",
        "Всё хорошо, мы в Стамбуле. Не волнуйтесь.",
        "Папа, это Айгуль, мы в Бишкеке, всё в порядке. Позвони тёте Сауле.",
        "Передайте, что я жив и здоров, вернусь поездом через Новосибирск.",
        "Скажите маме, что я её люблю. Ждите, скоро будет связь.",
        "Бабуль, не выходи из дома, у нас всё нормально.",
    ],
    "kk": [
        "Мен аманмын, билет жоқ. Анама айтыңыз.",
        "Апа, мен Анталиядамын, бәрі жақсы.",
        "Ағай, біз Сеулдеміз, бәріміз аманбыз.",
        "Үйден шықпаңыздар. Мен Мәскеудемін, бәрі дұрыс.",
    ],
    "en": [
        "I am safe in Berlin. Please tell everyone at home.",
        "Mum, I'm in Seoul, all fine. Please text me when the internet is back.",
        "Dad, I am safe in London. Please tell grandma. I love you.",
        "Tell them the Istanbul office is safe and we wait for flights.",
    ],
}
CALL_REPLIES = ["Всё хорошо, ждём", "Рақмет, бәрі жақсы", "We are fine, thank you", ""]
SMS_REPLIES = [
    "Спасибо, у нас всё хорошо. Ждём тебя",
    "Получила, спасибо. Любим",
    "Рақмет, бәрі жақсы. Күтеміз",
    "Thank you, we are all fine here",
]
SMS_SAFE_REPLIES = ["Живы, всё хорошо", "Аман, бәрі жақсы", "Safe, all good here"]
SMS_WRONG_REPLIES = ["Вы ошиблись номером", "Wrong number"]
PHONE_FORMATS = [
    "+7 {p} {a} {b} {c}", "8 {p} {a} {b} {c}", "8({p}){a}{b}{c}", "+7{p}{a}{b}{c}",
    "{p} {a} {b}{c}", "8 ({p}) {a}-{b}-{c}",
]  # fmt: skip
DELIVERED_OUTCOMES = ("reached", "delivered")


def uniform(rng: random.Random, bounds: tuple[float, float]) -> float:
    return rng.uniform(*bounds)


def weighted(rng: random.Random, pairs):
    return rng.choices([v for v, _w in pairs], [w for _v, w in pairs])[0]


# --- The population: the same for both sides -------------------------------------------


@dataclass
class Recipient:
    idx: int
    digits: str  # national, 10 digits
    name: str
    city: str
    kind: str  # first / later / never / wrong
    off: bool  # "never" because the phone is switched off
    sms_fails: bool
    sms_reply_after: float | None  # minutes after the bridge SMS arrives; None: no answer
    sms_reply_text: str


@dataclass
class Req:
    idx: int
    recipient: int
    t: float  # minutes from 00:00 on 7 January
    payload: dict
    kind: str
    message: str


def arrival_time(rng: random.Random) -> float:
    hour = weighted(rng, list(enumerate(HOURLY_WEIGHTS)))
    return hour * 60 + rng.random() * 60


def make_day(rng: random.Random, n_requests: int) -> tuple[list[Recipient], list[Req]]:
    import phonenumbers

    recipients: list[Recipient] = []
    times: list[tuple[float, int]] = []
    seen: set[str] = set()
    while len(times) < n_requests:
        size = min(weighted(rng, REQUESTS_PER_RECIPIENT), n_requests - len(times))
        while True:
            digits = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**7):07d}"
            if digits not in seen and phonenumbers.is_valid_number(
                phonenumbers.parse("+7" + digits)
            ):
                break
        seen.add(digits)
        kind = weighted(rng, RECIPIENT_TYPES)
        off = kind == "never" and rng.random() < NEVER_OFF
        reply_p = 0.0 if off else SMS_REPLY[kind]
        after = None
        if rng.random() < reply_p:
            after = SMS_REPLY_MEDIAN_MIN * math.exp(rng.gauss(0, SMS_REPLY_SIGMA))
        if kind == "wrong":
            text = rng.choice(SMS_WRONG_REPLIES)
        elif rng.random() < SMS_REPLY_SAFE_WORD:
            text = rng.choice(SMS_SAFE_REPLIES)
        else:
            text = rng.choice(SMS_REPLIES)
        r = Recipient(
            idx=len(recipients),
            digits=digits,
            name=rng.choice(RECIPIENT_NAMES),
            city=rng.choice(CITIES),
            kind=kind,
            off=off,
            sms_fails=rng.random() < SMS_GATEWAY_FAILED,
            sms_reply_after=after,
            sms_reply_text=text,
        )
        recipients.append(r)
        first = arrival_time(rng)
        times.append((first, r.idx))
        for _n in range(size - 1):
            t = first + rng.expovariate(1 / DUP_CLUSTER_MEAN_MIN)
            if rng.random() >= DUP_CLUSTERED or t >= DAY:
                t = arrival_time(rng)
            times.append((t, r.idx))
    times.sort()
    requests = []
    for idx, (t, ri) in enumerate(times):
        r = recipients[ri]
        language = weighted(rng, REQUESTER_LANGUAGES)
        kind = weighted(rng, KINDS)
        message = rng.choice(MESSAGES[language])
        if kind == "welfare_check" and rng.random() < EMPTY_WELFARE_MESSAGE:
            message = ""
        d = r.digits
        phone = rng.choice(PHONE_FORMATS).format(p=d[:3], a=d[3:6], b=d[6:8], c=d[8:])
        payload = {
            "requester": {
                "name": rng.choice(FIRST_NAMES),
                "language": language,
                "contact": str(100_000_000 + idx),  # a Telegram chat id
            },
            "recipient": {"name": r.name, "phone": phone, "city": r.city},
            "message": message,
            "kind": kind,
            "urgent": rng.random() < URGENT,
        }
        requests.append(Req(idx, ri, t, payload, kind, message))
    return recipients, requests


# --- Calls: how a recipient answers (both sides) ---------------------------------------


@dataclass
class RecipientState:
    calls: int = 0
    reached: bool = False
    on_call_until: float = -1.0
    missed_at: float = -math.inf


def call_outcome(
    rng: random.Random, r: Recipient, st: RecipientState, now: float, messages: int
) -> tuple[str, float]:
    """The outcome and minutes of one call to `r` starting now."""
    if st.on_call_until > now:
        return "busy", uniform(rng, CALL_BUSY_CONCURRENT_MIN)  # never rang: not counted
    n = st.calls
    st.calls += 1
    if r.kind == "wrong":
        return "wrong_number", uniform(rng, CALL_UNANSWERED_MIN)
    if r.kind == "never":
        return ("switched_off" if r.off else "no_answer"), uniform(rng, CALL_UNANSWERED_MIN)
    if st.reached:
        answers = rng.random() < P_ANSWER_AGAIN
    elif r.kind == "first":
        answers = True
    else:
        answers = n >= 1 and now - st.missed_at >= LATER_AWAY_MIN and rng.random() < P_LATER
    if not answers:
        st.missed_at = now
        outcome = "busy" if rng.random() < UNANSWERED_BUSY else "no_answer"
        return outcome, uniform(rng, CALL_UNANSWERED_MIN)
    if rng.random() < P_REFUSED:
        return "refused", uniform(rng, CALL_UNANSWERED_MIN)
    extra = min(EXTRA_PER_MESSAGE_MIN * (messages - 1), EXTRA_MESSAGES_CAP_MIN)
    outcome = "delivered" if rng.random() < P_DELIVERED_VIA_OTHER else "reached"
    return outcome, uniform(rng, CALL_ANSWERED_MIN) + extra


# --- Volunteers and the event queue (both sides) ---------------------------------------


@dataclass
class Volunteer:
    idx: int
    shift: str
    experienced: bool
    spans: list[tuple[float, float]]  # minutes from 00:00 on 7 January
    span: int = 0
    break_taken: set = field(default_factory=set)
    user: object = None


def make_volunteers(n: int) -> list[Volunteer]:
    total = sum(s[3] for s in SHIFTS)
    counts = [max(1, round(n * s[3] / total)) for s in SHIFTS]
    while sum(counts) > n:
        counts[counts.index(max(counts))] -= 1
    while sum(counts) < n:
        counts[counts.index(min(counts))] += 1
    volunteers = []
    for (name, start, end, _share), count in zip(SHIFTS, counts, strict=True):
        spans = [(start * 60.0, end * 60.0)]
        if start == 0:
            spans.append((DAY + start * 60.0, DAY + end * 60.0))
        experienced = max(1, round(count * EXPERIENCED_SHARE))
        for k in range(count):
            volunteers.append(Volunteer(len(volunteers), name, k < experienced, spans))
    return volunteers


class Clock:
    """Events in time order (ties in insertion order); minutes from 00:00, 7 January."""

    def __init__(self):
        self.now = 0.0
        self._heap: list = []
        self._seq = itertools.count()

    def at(self, t: float, kind: str, *args) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), kind, args))

    def next(self):
        if not self._heap:
            return None
        t, _seq, kind, args = heapq.heappop(self._heap)
        self.now = max(self.now, t)
        return kind, args


@dataclass
class Tally:
    """What one side did, in the same words for both."""

    delivered_at: dict = field(default_factory=dict)  # request idx -> minutes
    path: dict = field(default_factory=dict)  # request idx -> how it was delivered
    attempted: set = field(default_factory=set)  # request idx with a call or SMS for them
    calls: int = 0
    call_minutes: float = 0.0
    handling_minutes: float = 0.0
    outcomes: dict = field(default_factory=dict)
    duplicated: dict = field(
        default_factory=lambda: {
            "concurrent_same_number": 0,
            "same_post_called_again": 0,
            "overtaken_by_sms_answer": 0,
            "number_already_reached": 0,
        }
    )
    abandoned: int = 0

    def call(self, outcome: str, minutes: float, handling: float) -> None:
        self.calls += 1
        self.call_minutes += minutes
        self.handling_minutes += handling
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def deliver(self, idx: int, now: float, path: str = "call") -> None:
        if idx not in self.delivered_at:
            self.delivered_at[idx] = now
            self.path[idx] = path


def summary(tally: Tally, requests: list[Req], volunteers_minutes_on_shift: float) -> dict:
    waits = sorted(tally.delivered_at[i] - requests[i].t for i in tally.delivered_at)
    delivered = len(waits)
    busy = tally.call_minutes + tally.handling_minutes
    n = len(requests)
    ordered = waits + [math.inf] * (n - delivered)
    median_all = statistics.median(ordered) if n else None

    def q(p: float):
        return round(waits[min(len(waits) - 1, int(p * len(waits)))], 1) if waits else None

    return {
        "requests": n,
        "delivered_requests": delivered,
        "requests_never_delivered": n - delivered,
        "requests_never_attempted": n - len(tally.attempted),
        "calls": tally.calls,
        "call_outcomes": dict(sorted(tally.outcomes.items())),
        "calls_per_delivered": round(tally.calls / delivered, 3) if delivered else None,
        "call_minutes": round(tally.call_minutes, 1),
        "handling_minutes": round(tally.handling_minutes, 1),
        "volunteer_minutes": round(busy, 1),
        "volunteer_minutes_per_delivered": round(busy / delivered, 3) if delivered else None,
        "call_minutes_per_delivered": round(tally.call_minutes / delivered, 3)
        if delivered
        else None,
        "volunteer_minutes_on_shift": round(volunteers_minutes_on_shift),
        "utilisation": round(busy / volunteers_minutes_on_shift, 3),
        "median_minutes_to_reached": round(statistics.median(waits), 1) if waits else None,
        "median_minutes_to_reached_by_path": {
            path: {"requests": len(w), "median": round(statistics.median(w), 1)}
            for path in sorted(set(tally.path.values()))
            if (
                w := [
                    tally.delivered_at[i] - requests[i].t
                    for i in tally.path
                    if tally.path[i] == path
                ]
            )
        },
        "p25_p75_p90_minutes_to_reached": [q(0.25), q(0.75), q(0.9)],
        "share_reached_within_15_min_of_all_requests": round(sum(w <= 15 for w in waits) / n, 3),
        "median_minutes_to_reached_counting_never_as_infinite": round(median_all, 1)
        if median_all is not None and median_all != math.inf
        else "inf",
        "duplicated_calls": sum(tally.duplicated.values()),
        "duplicated_calls_by_reason": dict(tally.duplicated),
        "claims_or_posts_abandoned": tally.abandoned,
    }


def shift_minutes(volunteers: list[Volunteer]) -> float:
    return sum(min(e, HORIZON) - s for v in volunteers for s, e in v.spans if s < HORIZON)


class VolunteerLoop:
    """Shifts, breaks and pauses; a subclass says what a free volunteer does."""

    side = ""

    def __init__(self, clock: Clock, volunteers: list[Volunteer], rng: random.Random):
        self.clock, self.volunteers, self.rng = clock, volunteers, rng
        self.idle: dict[int, float] = {}  # volunteer idx -> idle since
        for v in volunteers:
            clock.at(v.spans[0][0], "free", v.idx)
            clock.at(v.spans[0][1], "shift_end", v.idx, 0)

    def on_shift_end(self, vi: int, span: int) -> None:
        v = self.volunteers[vi]
        if v.span == span and vi in self.idle:
            del self.idle[vi]
            self._next_span(v)

    def _next_span(self, v: Volunteer) -> None:
        v.span += 1
        if v.span < len(v.spans):
            self.clock.at(v.spans[v.span][0], "free", v.idx)
            self.clock.at(v.spans[v.span][1], "shift_end", v.idx, v.span)

    def on_free(self, vi: int) -> None:
        v, now = self.volunteers[vi], self.clock.now
        if v.span >= len(v.spans):
            return
        start, end = v.spans[v.span]
        if now >= end:
            self._next_span(v)
            return
        if now >= (start + end) / 2 and v.span not in v.break_taken:
            v.break_taken.add(v.span)
            self.clock.at(now + BREAK_MIN, "free", vi)
            return
        if not self.work(v):
            self.idle[vi] = now

    def rest(self, v: Volunteer) -> None:
        self.clock.at(self.clock.now + uniform(self.rng, PAUSE_MIN), "free", v.idx)

    def work(self, v: Volunteer) -> bool:
        raise NotImplementedError


# --- 2022: a shared group, posts picked by eye -------------------------------------------


@dataclass
class Post:
    idx: int
    request: int
    t: float
    taken_visible_at: float = math.inf
    picked: int = 0


class Baseline(VolunteerLoop):
    side = "baseline"

    def __init__(self, recipients, requests, volunteers, rng):
        self.clock = Clock()
        super().__init__(self.clock, volunteers, rng)
        self.recipients, self.requests = recipients, requests
        self.state = [RecipientState() for _ in recipients]
        self.posts: list[Post] = []
        self.open: list[int] = []  # posts not yet visibly taken, oldest first
        self.tally = Tally()
        self.reposts = 0
        self.being_called: dict[int, int] = {}  # request idx -> calls in progress
        self.looking: set[int] = set()  # idle volunteers about to glance at the group
        for req in requests:
            self.clock.at(req.t, "post", req.idx)
            self.clock.at(req.t + uniform(rng, REPOST_AFTER_MIN), "repost_check", req.idx, 0)

    def run(self) -> dict:
        while (event := self.clock.next()) is not None:
            kind, args = event
            if self.clock.now > HORIZON:
                break
            getattr(self, f"on_{kind}")(*args)
        return summary(self.tally, self.requests, shift_minutes(self.volunteers)) | {
            "reposts": self.reposts,
            "posts": len(self.posts),
        }

    def on_post(self, ri: int) -> None:
        post = Post(len(self.posts), ri, self.clock.now)
        self.posts.append(post)
        self.open.append(post.idx)
        for vi in self.idle:
            if vi not in self.looking:
                self.looking.add(vi)
                self.clock.at(self.clock.now + uniform(self.rng, NOTICE_MIN), "look", vi)

    def on_look(self, vi: int) -> None:
        self.looking.discard(vi)
        if vi in self.idle and self.work(self.volunteers[vi]):
            del self.idle[vi]

    def on_repost_check(self, ri: int, n: int) -> None:
        if ri in self.tally.delivered_at or self.being_called.get(ri) or n >= REPOSTS_MAX:
            return
        if self.rng.random() < REPOST_P:
            self.reposts += 1
            self.on_post(ri)
        self.clock.at(
            self.clock.now + uniform(self.rng, REPOST_AFTER_MIN), "repost_check", ri, n + 1
        )

    def on_mark_visible(self, pi: int) -> None:
        if pi in self.open and self.posts[pi].taken_visible_at <= self.clock.now:
            self.open.remove(pi)

    def _pick(self) -> Post | None:
        now, seen = self.clock.now, []
        for pi in reversed(self.open):  # newest first, as the group shows them
            if self.posts[pi].taken_visible_at > now:
                seen.append(pi)
                if len(seen) == FEED_WINDOW + SCROLL_DEPTH:
                    break
        if not seen:
            return None
        window, older = seen[:FEED_WINDOW], seen[FEED_WINDOW:]
        if older and self.rng.random() < SCROLL_BACK:
            return self.posts[self.rng.choice(older)]
        return self.posts[self.rng.choice(window)]

    def work(self, v: Volunteer) -> bool:
        post = self._pick()
        if post is None:
            return False
        now = self.clock.now
        post.picked += 1
        visible = now + uniform(self.rng, MARK_VISIBLE_MIN)
        if visible < post.taken_visible_at:
            post.taken_visible_at = visible
            self.clock.at(visible, "mark_visible", post.idx)
        if self.rng.random() < ABANDON:
            self.tally.abandoned += 1
            self.clock.at(now + uniform(self.rng, ABANDON_AWAY_MIN), "free", v.idx)
            return True
        req = self.requests[post.request]
        r, st = self.recipients[req.recipient], self.state[req.recipient]
        self.tally.attempted.add(req.idx)
        duplicated = self.tally.duplicated
        if st.on_call_until > now:
            duplicated["concurrent_same_number"] += 1
        elif post.picked > 1:
            duplicated["same_post_called_again"] += 1
        elif st.reached:
            duplicated["number_already_reached"] += 1
        outcome, minutes = call_outcome(self.rng, r, st, now, 1)
        handling = HANDLING_MIN["baseline"]
        st.on_call_until = max(st.on_call_until, now + handling / 2 + minutes)
        self.being_called[req.idx] = self.being_called.get(req.idx, 0) + 1
        self.clock.at(now + handling + minutes, "call_end", v.idx, req.idx, outcome, minutes)
        return True

    def on_call_end(self, vi: int, ri: int, outcome: str, minutes: float) -> None:
        self.being_called[ri] -= 1
        self.tally.call(outcome, minutes, HANDLING_MIN["baseline"])
        if outcome in DELIVERED_OUTCOMES:
            self.state[self.requests[ri].recipient].reached = True
            self.tally.deliver(ri, self.clock.now)
        self.rest(self.volunteers[vi])


# --- Bailanys: the real services on a simulated clock ----------------------------------


class Bailanys(VolunteerLoop):
    side = "bailanys"

    def __init__(self, recipients, requests, volunteers, rng, traveller, *, sims: int):
        from bailanys.accounts.services import user_create
        from bailanys.channels.sms.gateways import gateway_add

        self.clock = Clock()
        self.traveller = traveller
        self._at = DAY_START
        super().__init__(self.clock, volunteers, rng)
        self.recipients, self.requests = recipients, requests
        self.state = [RecipientState() for _ in recipients]
        self.tally = Tally()
        for v in volunteers:
            v.user = user_create(
                username=f"sim-{v.shift}-{v.idx}",
                role="experienced" if v.experienced else "volunteer",
            )
        self.gateways = [
            gateway_add(name=f"sim-sim{k + 1}", kind="smsgate", url=f"http://127.0.0.1:9/{k}")
            for k in range(sims)
        ]
        self.sms_sent_per_day: dict[tuple[int, str], int] = {}
        self.request_pk: dict[int, int] = {}  # db pk -> request idx
        self.case_recipient: dict[int, int] = {}
        self.cases_of: dict[int, list[int]] = {}  # recipient idx -> every case id
        self.open_cases: dict[int, set[int]] = {}  # recipient idx -> open case ids
        self.bridged: dict[int, int] = {}  # case id -> request idx whose message was sent
        self.queue_waits: list[float] = []  # minutes from available to claimed
        self.dispatch_at: set[float] = set()
        self.sms = {
            "bridge_sms_sent": 0,
            "delivery_reports_delivered": 0,
            "delivery_reports_failed": 0,
            "no_report_phone_off": 0,
            "sms_over_daily_cap": 0,
            "answers_received": 0,
            "answers_after_case_closed": 0,
            "answers_after_case_closed_by_resolution": {},
            "calls_overtaken_by_sms_answer": 0,
            "cases_closed_by_bridge_answer": 0,
            "cases_closed_as_self_reported_by_safe_word": 0,
            "cases_closed_as_reached_by_a_stranger_wrong_number": 0,
            "requests_told_answered_by_sms_whose_message_was_not_sent": 0,
        }
        self.intake = {"requests": 0, "joined_open_case": 0, "cases": 0, "seconds": 0.0}
        self.joined_mid_call_told_passed_on = 0
        for req in requests:
            self.clock.at(req.t, "arrive", req.idx)
        if sims:
            t = SWEEP_EVERY_MIN
            while t < HORIZON:
                self.clock.at(t, "sweep")
                t += SWEEP_EVERY_MIN

    # The clock ------------------------------------------------------------------------

    def _tick(self) -> None:
        target = DAY_START + timedelta(minutes=self.clock.now)
        if target > self._at:
            self.traveller.shift(target - self._at)
            self._at = target

    def run(self) -> dict:
        while (event := self.clock.next()) is not None:
            kind, args = event
            if self.clock.now > HORIZON:
                break
            self._tick()
            getattr(self, f"on_{kind}")(*args)
            if self.idle:
                self._dispatch()
        return self._report()

    # Intake ---------------------------------------------------------------------------

    def on_arrive(self, ri: int) -> None:
        from bailanys.conversations.models import SmsBridge
        from bailanys.relay.services import request_check, request_create

        req = self.requests[ri]
        started = time.perf_counter()
        request, _created = request_create(data=request_check(req.payload), channel="telegram")
        self.intake["seconds"] += time.perf_counter() - started
        self.intake["requests"] += 1
        self.request_pk[request.pk] = ri
        case_id = request.case_id
        if case_id in self.case_recipient:
            self.intake["joined_open_case"] += 1
            return
        self.intake["cases"] += 1
        self.case_recipient[case_id] = req.recipient
        self.cases_of.setdefault(req.recipient, []).append(case_id)
        self.open_cases.setdefault(req.recipient, set()).add(case_id)
        bridge = SmsBridge.objects.filter(case_id=case_id).first()
        if bridge is not None:
            self._sim_send(bridge, req)

    # The SIM: what the gateway adapter and the phone network would do -------------------

    def _sim_send(self, bridge, req: Req) -> None:
        from bailanys.channels.sms.models import SmsDelivery
        from bailanys.conversations.bridge import bridges_sweep
        from bailanys.outbox.models import OutboxMessage

        now = self.clock.now
        day = (DAY_START + timedelta(minutes=now)).date().isoformat()
        gateway = next(
            (g for g in self.gateways if self.sms_sent_per_day.get((g.pk, day), 0) < g.daily_cap),
            None,
        )
        if gateway is None:
            # What the adapter does when every SIM is spent: the outbox row fails.
            self.sms["sms_over_daily_cap"] += 1
            OutboxMessage.objects.filter(pk=bridge.outbox_id).update(
                state=OutboxMessage.State.FAILED
            )
            bridges_sweep()
            return
        self.sms_sent_per_day[(gateway.pk, day)] = (
            self.sms_sent_per_day.get((gateway.pk, day), 0) + 1
        )
        self.sms["bridge_sms_sent"] += 1
        self.bridged[bridge.case_id] = req.idx
        self.tally.attempted.add(req.idx)
        provider_id = f"sim-{bridge.pk}"
        SmsDelivery.objects.create(
            outbox_id=bridge.outbox_id,
            gateway=gateway,
            provider_id=provider_id,
            to_key=bridge.to_key,
        )
        r = self.recipients[req.recipient]
        if r.off:
            self.sms["no_report_phone_off"] += 1  # the SMSC keeps it; no report in time
            return
        report_at = now + uniform(self.rng, SMS_REPORT_MIN)
        state = "failed" if r.sms_fails else "delivered"
        self.clock.at(report_at, "sms_report", gateway.pk, provider_id, state)
        if state == "delivered" and r.sms_reply_after is not None:
            self.clock.at(report_at + r.sms_reply_after, "sms_answer", gateway.pk, r.idx)

    def on_sms_report(self, gateway_pk: int, provider_id: str, state: str) -> None:
        from bailanys.channels.sms.inbound import delivery_report

        gateway = next(g for g in self.gateways if g.pk == gateway_pk)
        delivery_report(gateway, provider_id, state)
        self.sms[f"delivery_reports_{state}"] += 1

    def on_sms_answer(self, gateway_pk: int, ri: int) -> None:
        from bailanys.channels.sms.inbound import inbound_accept, inbound_handle
        from bailanys.channels.sms.models import SmsInbound

        gateway = next(g for g in self.gateways if g.pk == gateway_pk)
        r = self.recipients[ri]
        self.sms["answers_received"] += 1
        before = set(self.open_cases.get(ri, ()))
        inbound_accept(gateway, "8" + r.digits, r.sms_reply_text)
        inbound = SmsInbound.objects.filter(gateway=gateway).order_by("-pk").first()
        inbound_handle(inbound.pk)
        closed = self._closed_now(before)
        if not closed:
            # The answer found no open case: the bridged case had closed (a call, or
            # "unreachable"). What became of it:
            from bailanys.relay.models import Case

            self.sms["answers_after_case_closed"] += 1
            bridged = [c for c in self.cases_of[ri] if c in self.bridged]
            resolution = Case.objects.get(pk=bridged[-1]).resolution if bridged else "(none)"
            late = self.sms["answers_after_case_closed_by_resolution"]
            late[resolution] = late.get(resolution, 0) + 1
        for case_id, resolution in closed:
            self._closed_by_sms(case_id, resolution, r)

    def _closed_now(self, case_ids) -> list[tuple[int, str]]:
        from bailanys.relay.models import Case, CaseState

        return list(
            Case.objects.filter(pk__in=case_ids, state=CaseState.CLOSED).values_list(
                "pk", "resolution"
            )
        )

    def _case_requests(self, case_id: int) -> list[int]:
        from bailanys.relay.models import Request

        pks = Request.objects.filter(case_id=case_id).values_list("pk", flat=True)
        return [self.request_pk[pk] for pk in pks]

    def _closed_by_sms(self, case_id: int, resolution: str, r: Recipient) -> None:
        self.open_cases[r.idx].discard(case_id)
        if resolution == "self_reported":
            self.sms["cases_closed_as_self_reported_by_safe_word"] += 1
        else:
            self.sms["cases_closed_by_bridge_answer"] += 1
        if r.kind == "wrong":
            self.sms["cases_closed_as_reached_by_a_stranger_wrong_number"] += 1
            return
        self.state[r.idx].reached = True
        sent = self.bridged.get(case_id)
        for ri in self._case_requests(case_id):
            self.tally.attempted.add(ri)
            if ri == sent or not self.requests[ri].message:
                self.tally.deliver(ri, self.clock.now, "sms_answer")
            else:
                self.sms["requests_told_answered_by_sms_whose_message_was_not_sent"] += 1

    def on_sweep(self) -> None:
        from bailanys.conversations.bridge import bridges_sweep

        bridges_sweep()

    # Volunteers -----------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Idle volunteers ask for a case when one may be there; else wait for the next."""
        from django.db.models import Min

        from bailanys.relay.models import Case, CaseState

        now = self._at
        waiting = Case.objects.filter(state=CaseState.QUEUED)
        if waiting.filter(available_at__lte=now).exists():
            for vi in sorted(self.idle, key=self.idle.get):
                if self.work(self.volunteers[vi]):
                    del self.idle[vi]
        if not self.idle:
            return
        later = waiting.filter(available_at__gt=now).aggregate(t=Min("available_at"))["t"]
        if later is not None:
            t = (later - DAY_START).total_seconds() / 60 + 1e-4  # 6 ms: never before it
            if t not in self.dispatch_at:
                self.dispatch_at.add(t)
                self.clock.at(t, "wake")

    def on_wake(self) -> None:
        pass  # run() dispatches after every event

    def on_lease_check(self) -> None:
        from bailanys.relay.services import claims_expire

        claims_expire()

    def work(self, v: Volunteer) -> bool:
        from bailanys.relay.models import Case
        from bailanys.relay.services import case_claim_next

        claim = case_claim_next(volunteer=v.user)
        if claim is None:
            return False
        now = self.clock.now
        if self.rng.random() < ABANDON:
            self.tally.abandoned += 1
            lapse = (claim.expires_at - DAY_START).total_seconds() / 60 + 0.01
            self.clock.at(lapse, "lease_check")
            self.clock.at(max(lapse, now + uniform(self.rng, ABANDON_AWAY_MIN)), "free", v.idx)
            return True
        case_id = claim.case_id
        available = Case.objects.filter(pk=case_id).values_list("available_at", flat=True)[0]
        self.queue_waits.append(max(0.0, (self._at - available).total_seconds() / 60))
        ri = self.case_recipient[case_id]
        r, st = self.recipients[ri], self.state[ri]
        on_case = self._case_requests(case_id)
        for i in on_case:
            self.tally.attempted.add(i)
        duplicated = True
        if st.on_call_until > now:
            self.tally.duplicated["concurrent_same_number"] += 1
        elif st.reached:
            self.tally.duplicated["number_already_reached"] += 1
        else:
            duplicated = False
        outcome, minutes = call_outcome(self.rng, r, st, now, len(on_case))
        handling = HANDLING_MIN["bailanys"]
        st.on_call_until = max(st.on_call_until, now + handling / 2 + minutes)
        self.clock.at(
            now + handling + minutes,
            "call_end",
            v.idx,
            (claim.pk, case_id, on_case, outcome, minutes, duplicated),
        )
        return True

    def on_call_end(self, vi: int, call: tuple) -> None:
        claim_id, case_id, on_case, outcome, minutes, duplicated = call
        from bailanys.relay.models import Case
        from bailanys.relay.services import ClaimEnded, claim_record_outcome

        v = self.volunteers[vi]
        self.tally.call(outcome, minutes, HANDLING_MIN["bailanys"])
        ri = self.case_recipient[case_id]
        reply = self.rng.choice(CALL_REPLIES) if outcome in DELIVERED_OUTCOMES else ""
        try:
            claim_record_outcome(
                claim_id=claim_id,
                volunteer=v.user,
                outcome=outcome,
                reply=reply,
                minutes=math.ceil(minutes),
            )
        except ClaimEnded:
            # The recipient's SMS answer closed the case while the volunteer was calling.
            self.sms["calls_overtaken_by_sms_answer"] += 1
            if not duplicated:
                self.tally.duplicated["overtaken_by_sms_answer"] += 1
        if outcome in DELIVERED_OUTCOMES:
            self.state[ri].reached = True
            path = "call_after_bridge_sms" if case_id in self.bridged else "call"
            for i in on_case:
                self.tally.deliver(i, self.clock.now, path)
        state, resolution = Case.objects.filter(pk=case_id).values_list("state", "resolution")[0]
        if state == "closed" and case_id in self.open_cases.get(ri, ()):
            self.open_cases[ri].discard(case_id)
            if resolution in DELIVERED_OUTCOMES:
                self.joined_mid_call_told_passed_on += len(
                    set(self._case_requests(case_id)) - set(on_case)
                )
        self.rest(v)

    # Results --------------------------------------------------------------------------

    def _report(self) -> dict:
        from django.db.models import Count, Sum

        from bailanys.conversations.models import SmsBridge
        from bailanys.outbox.models import OutboxMessage
        from bailanys.relay.models import Attempt, Case, Claim

        out = summary(self.tally, self.requests, shift_minutes(self.volunteers))
        cases = dict(Case.objects.values_list("resolution").annotate(n=Count("pk")))
        open_cases = Case.objects.exclude(state="closed").count()
        attempts = dict(Attempt.objects.values_list("via").annotate(n=Count("pk")))
        out |= {
            "intake": {
                **{k: v for k, v in self.intake.items() if k != "seconds"},
                "ms_per_request": round(1000 * self.intake["seconds"] / self.intake["requests"], 2),
            },
            "queue_minutes_available_to_claimed": {
                "median": round(statistics.median(self.queue_waits), 1),
                "p90": round(sorted(self.queue_waits)[int(0.9 * len(self.queue_waits))], 1),
                "max": round(max(self.queue_waits), 1),
            },
            "requests_told_passed_on_that_joined_during_the_call": (
                self.joined_mid_call_told_passed_on
            ),
            "sms_bridge": self.sms
            | {
                "bridges_by_state": dict(
                    SmsBridge.objects.values_list("state").annotate(n=Count("pk"))
                ),
            },
            "database": {
                "cases_by_resolution": {k or "(open)": v for k, v in sorted(cases.items())},
                "cases_open_at_end": open_cases,
                "attempts_by_via": attempts,
                "attempt_minutes_recorded": Attempt.objects.aggregate(m=Sum("minutes"))["m"],
                "claims_by_end_reason": dict(
                    Claim.objects.values_list("end_reason").annotate(n=Count("pk"))
                ),
                "outbox_rows": OutboxMessage.objects.count(),
            },
        }
        return out


# --- The run -------------------------------------------------------------------------------


def assumptions(args, n_volunteers: int, recipients, requests) -> dict:
    counts: dict[int, int] = {}
    for req in requests:
        counts[req.recipient] = counts.get(req.recipient, 0) + 1
    per_recipient: dict[int, int] = {}
    for c in counts.values():
        per_recipient[c] = per_recipient.get(c, 0) + 1
    kinds: dict[str, int] = {}
    for r in recipients:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    total_w = sum(HOURLY_WEIGHTS)
    return {
        "day": "Friday 7 January 2022, Almaty time (UTC+6); requests 00:00-24:00, the "
        "simulation runs on to 08:00 on 8 January and then counts",
        "seed": args.seed,
        "requests": len(requests),
        "arrivals": {
            "rule": "each request's hour drawn from these weights, uniform within the hour",
            "share_per_hour": [round(w / total_w, 4) for w in HOURLY_WEIGHTS],
            "why": "relatives abroad (Russia, Turkey, EU, US) post through the Almaty "
            "evening and night; fewest 03:00-06:00, a midday plateau, peak 19:00-21:00",
        },
        "duplicates": {
            "requests_per_recipient_distribution": REQUESTS_PER_RECIPIENT,
            "distinct_recipients": len(recipients),
            "recipients_by_number_of_requests": dict(sorted(per_recipient.items())),
            "timing": f"a further request for the same number follows the first within "
            f"Exp(mean {DUP_CLUSTER_MEAN_MIN:g} min) with p={DUP_CLUSTERED}, else at an "
            "independent time of the day; requesters write the number in varied formats "
            "(+7 …, 8 …, with or without brackets and dashes)",
        },
        "requests_content": {
            "kinds_weights": KINDS,
            "urgent": URGENT,
            "requester_languages": REQUESTER_LANGUAGES,
            "welfare_check_without_message": EMPTY_WELFARE_MESSAGE,
            "numbers": f"Kazakh mobile numbers, prefixes {', '.join(PHONE_PREFIXES)}, "
            "validated with phonenumbers",
            "hard_cases": "medical requests are hard cases: Bailanys offers them only to "
            "experienced volunteers; no message text triggers the hard or scam rules",
        },
        "recipients": {
            "types": RECIPIENT_TYPES,
            "drawn": kinds,
            "first": "answers the first call (and every later one)",
            "later": f"misses the first call; answers each later call with p={P_LATER}, "
            f"but none within {LATER_AWAY_MIN:g} min of a call they missed (still away)",
            "never": f"never answers: switched off (p={NEVER_OFF}) or rings out",
            "wrong": "the number belongs to somebody else: 'wrong number' on any call",
            "after_reached": f"answers a further call with p={P_ANSWER_AGAIN}",
            "unanswered_calls": f"busy with p={UNANSWERED_BUSY}, else no answer",
            "answered_calls": f"refused p={P_REFUSED}; else passed on by someone else in "
            f"the household (outcome delivered) p={P_DELIVERED_VIA_OTHER}, else reached",
            "a number already on another volunteer's call": "busy",
            "answers depend on": "the recipient's own count of calls (both sides), not on "
            "who calls or the time of day",
        },
        "calls": {
            "answered_minutes": f"uniform {CALL_ANSWERED_MIN} + {EXTRA_PER_MESSAGE_MIN} per "
            f"further message passed in the same call (at most +{EXTRA_MESSAGES_CAP_MIN})",
            "unanswered_minutes": f"uniform {CALL_UNANSWERED_MIN} (no answer, busy, switched "
            f"off, wrong number, refused); {CALL_BUSY_CONCURRENT_MIN} when the number is on "
            "another volunteer's call",
            "handling_minutes_per_call": HANDLING_MIN,
            "handling_why": "Bailanys: open the claimed case, tap the outcome; 2022: scroll "
            "the group, read the post, copy the number, write 'беру' and the result",
        },
        "volunteers": {
            "total": n_volunteers,
            "shifts_almaty_time": [
                {"shift": s[0], "from": f"{s[1]:02d}:00", "to": f"{s[2] % 24:02d}:00"}
                for s in SHIFTS
            ],
            "per_shift": {
                s[0]: sum(v.shift == s[0] for v in make_volunteers(n_volunteers)) for s in SHIFTS
            },
            "night_shift_again_on_8_january": True,
            "experienced_share": EXPERIENCED_SHARE,
            "one_call_at_a_time": True,
            "pause_between_calls_minutes": PAUSE_MIN,
            "break_minutes": f"{BREAK_MIN:g}, once per shift after its middle",
            "abandon": f"p={ABANDON} a volunteer takes a case/post and is called away for "
            f"{ABANDON_AWAY_MIN} min before dialling (Bailanys: the lease lapses; 2022: the "
            "post stays marked taken)",
        },
        "bailanys": {
            "services": "request_check, request_create, case_claim_next, "
            "claim_record_outcome, claims_expire (inside case_claim_next and when a lease "
            "lapses); bridge_start (case_opened signal), delivery_report, inbound_accept + "
            "inbound_handle (bridge_reply / safe check-in), bridges_sweep",
            "settings": "the app's defaults (lease, retry delays, max attempts, bridge "
            "minutes): see the 'settings' key",
            "sms_bridge": "off (--no-bridge)"
            if args.no_bridge
            else {
                "bridge_kinds": "deliver_message (the app's default)",
                "gateway_sims": args.sims,
                "gateway": "the bench writes the SmsDelivery row the gateway adapter would "
                "write; the outbox worker is not run (its rate limiter sleeps on the wall "
                "clock, which a frozen clock never moves)",
                "delivery_report_after_minutes": SMS_REPORT_MIN,
                "report_failed": SMS_GATEWAY_FAILED,
                "switched_off_phone": "no report: the case waits out the bridge window",
                "recipient_answers_by_sms_by_type": SMS_REPLY,
                "answer_delay": f"lognormal, median {SMS_REPLY_MEDIAN_MIN:g} min, sigma "
                f"{SMS_REPLY_SIGMA}, after the SMS arrives",
                "answers_starting_with_a_safe_word": f"p={SMS_REPLY_SAFE_WORD} (Живы / Аман / "
                "Safe …): the real inbound handler takes them as a safe check-in",
                "wrong_number": "the stranger at the number answers 'wrong number'",
            },
            "requesters": "never re-post: they follow the status page / bot",
            "volunteer_dispatch": "an idle volunteer asks case_claim_next as soon as a case "
            "may be available (a new case, a retry's available_at, a bridge window ending)",
            "message_passed_on": "a volunteer passes every message on the case when the "
            "call starts (one call, all requesters); a request that joins during the call "
            "is not in it",
        },
        "baseline_2022": {
            "group": "every request is a post; re-posts are new posts",
            "picking": f"a free volunteer sees the newest {FEED_WINDOW} posts not yet "
            f"visibly taken and picks one uniformly; with p={SCROLL_BACK} scrolls back up to "
            f"{SCROLL_DEPTH} posts and picks one of those",
            "claim_race": f"'беру' under a post is seen by others after uniform "
            f"{MARK_VISIBLE_MIN} min; until then another volunteer may pick the same post",
            "idle_volunteers": f"notice a new post after uniform {NOTICE_MIN} min",
            "no_dedup": "posts for the same number are separate calls, each passing one message",
            "no_retry_by_volunteers": "an unanswered call is answered in the thread "
            "('не отвечает') and the post counts as handled",
            "reposts": f"a requester with no 'reached' after uniform {REPOST_AFTER_MIN} min "
            f"re-posts with p={REPOST_P}, at most {REPOSTS_MAX} times",
            "no_leases_no_bridge": True,
        },
        "definitions": {
            "delivered": "a request whose message reached its recipient: a call ending "
            "reached/delivered that started after the request was made (the volunteer "
            "passes every message on the case), or the recipient's SMS answer to a bridge "
            "SMS that carried this request's message (or the request had no message). Not "
            "delivered: an answer from a stranger at a wrong number, a request whose message "
            "was not in the bridge SMS or joined during the call (though the requester is "
            "told it was). 2022: only the post's own message is passed on",
            "volunteer_minutes": "call minutes + handling minutes of every call, including "
            "unanswered and duplicated ones; pauses, breaks and idle time excluded",
            "volunteer_minutes_per_delivered": "volunteer_minutes / delivered requests",
            "minutes_ratio": "bailanys / baseline volunteer_minutes_per_delivered",
            "median_minutes_to_reached": "median over delivered requests of (delivered - "
            "request made); the version counting undelivered as infinite is also given",
            "requests_never_delivered": "requests whose message never reached the recipient "
            "by the end",
            "requests_never_attempted": "requests for which no call (2022: of any of their "
            "posts) and no SMS was ever made: nobody answered the requester at all",
            "duplicated_calls": "calls to a number already on another volunteer's call; "
            "calls of a post someone had already picked (the claim race); calls overtaken by "
            "the recipient's SMS answer; calls to a number already reached earlier that day "
            "(another requester's message), each call counted once in that order",
        },
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=None, help="default 3700 (400 with --small)")
    ap.add_argument("--volunteers", type=int, default=None, help="default 50 (10 with --small)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--small", action="store_true", help="a quick check: 400 requests, 10 volunteers"
    )
    ap.add_argument("--no-bridge", action="store_true", help="Bailanys without the SMS bridge")
    ap.add_argument(
        "--sims", type=int, default=SMS_GATEWAYS, help="gateway SIMs for the SMS bridge"
    )
    ap.add_argument("--keep", action="store_true", help="keep the data directory to look at")
    args = ap.parse_args(argv)
    n_requests = args.requests or (400 if args.small else 3700)
    n_volunteers = args.volunteers or (10 if args.small else 50)
    started = time.perf_counter()

    data_dir = tempfile.mkdtemp(prefix="bailanys-sim-")
    os.environ["BAILANYS_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bailanys.settings")
    os.environ["BAILANYS_LOG_LEVEL"] = "WARNING"

    import json

    import django
    import time_machine

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    day_rng = random.Random(f"day:{args.seed}")
    recipients, requests = make_day(day_rng, n_requests)

    t0 = time.perf_counter()
    baseline = Baseline(
        recipients, requests, make_volunteers(n_volunteers), random.Random(f"2022:{args.seed}")
    ).run()
    baseline_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    with time_machine.travel(DAY_START, tick=False) as traveller:
        sim = Bailanys(
            recipients,
            requests,
            make_volunteers(n_volunteers),
            random.Random(f"bailanys:{args.seed}"),
            traveller,
            sims=0 if args.no_bridge else args.sims,
        )
        bailanys = sim.run()
    bailanys_seconds = time.perf_counter() - t0

    per = {
        "bailanys": bailanys["volunteer_minutes_per_delivered"],
        "baseline": baseline["volunteer_minutes_per_delivered"],
    }
    ratio = (
        round(per["bailanys"] / per["baseline"], 3) if per["bailanys"] and per["baseline"] else None
    )
    result = {
        "benchmark": "simulate",
        "assumptions": assumptions(args, n_volunteers, recipients, requests)
        | {
            "settings": {
                "BAILANYS_LEASE_SECONDS": settings.BAILANYS_LEASE_SECONDS,
                "BAILANYS_RETRY_DELAYS_MINUTES": settings.BAILANYS_RETRY_DELAYS_MINUTES,
                "BAILANYS_MAX_ATTEMPTS": settings.BAILANYS_MAX_ATTEMPTS,
                "BAILANYS_SMS_BRIDGE_MINUTES": settings.BAILANYS_SMS_BRIDGE_MINUTES,
                "BAILANYS_SMS_DAILY_CAP": settings.BAILANYS_SMS_DAILY_CAP,
                "database": "sqlite (fresh temporary data directory)",
            }
        },
        "bailanys": bailanys,
        "baseline": baseline,
        "volunteer_minutes_per_delivered": per,
        "minutes_ratio": ratio,
        "minutes_ratio_call_minutes_only": round(
            bailanys["call_minutes_per_delivered"] / baseline["call_minutes_per_delivered"], 3
        )
        if bailanys["call_minutes_per_delivered"] and baseline["call_minutes_per_delivered"]
        else None,
        "median_minutes_to_reached": {
            "bailanys": bailanys["median_minutes_to_reached"],
            "baseline": baseline["median_minutes_to_reached"],
        },
        "median_minutes_to_reached_counting_never_as_infinite": {
            side: out["median_minutes_to_reached_counting_never_as_infinite"]
            for side, out in (("bailanys", bailanys), ("baseline", baseline))
        },
        "delivered_requests": {
            "bailanys": bailanys["delivered_requests"],
            "baseline": baseline["delivered_requests"],
        },
        "goals": [
            at_most(
                "minutes_ratio",
                ratio if ratio is not None else float("inf"),
                0.333,
                "",
                "Volunteer-minutes per delivered request, Bailanys against the 2022 group",
            ),
            at_most(
                "median_minutes_to_reached",
                bailanys["median_minutes_to_reached"]
                if bailanys["median_minutes_to_reached"] is not None
                else float("inf"),
                15,
                " min",
                "The median time from a request to its recipient reached, with Bailanys",
            ),
        ],
        "machine": {**machine_now(), "django": django.get_version()},
        "seconds": {"baseline": round(baseline_seconds, 2), "bailanys": round(bailanys_seconds, 2)},
        "run_seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.keep:
        print(f"data directory kept: {data_dir}", file=sys.stderr)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
