"""The demo scenario: a newcomer sees the relay working within a minute."""

import json
from pathlib import Path

from django.db import transaction

from bailanys.accounts.models import User
from bailanys.accounts.services import password_generate, user_create
from bailanys.relay import services
from bailanys.relay.models import Request

SCENARIO = Path(__file__).parent / "demo" / "scenario.json"


@transaction.atomic
def demo_load(*, new_passwords: bool = False) -> tuple[int, list[tuple[str, str | None]]]:
    """Load the scenario once; create the demo volunteers with passwords the first time.

    A restart keeps the passwords printed at the first start (they are stored hashed
    only, so they cannot be printed again): None in their place. `new_passwords` gives
    the existing demo volunteers fresh ones. Returns (requests created, [(username,
    password or None)]).
    """
    scenario = json.loads(SCENARIO.read_text(encoding="utf-8"))
    logins: list[tuple[str, str | None]] = []
    for spec in scenario["volunteers"]:
        user = User.objects.filter(username=spec["username"]).first()
        password = password_generate() if user is None or new_passwords else None
        if user is None:
            user_create(username=spec["username"], role=spec["role"], password=password)
        elif password is not None:
            user.set_password(password)
            user.save(update_fields=["password"])
        logins.append((spec["username"], password))
    created = 0
    for number, payload in enumerate(scenario["requests"]):
        key = f"demo-{number}"
        if Request.objects.filter(idempotency_key=key).exists():
            continue
        data = services.request_check(payload)
        _request, new = services.request_create(
            data=data, channel="web", idempotency_key=key, demo=True
        )
        created += new
    return created, logins


def login_lines(logins: list[tuple[str, str | None]]) -> list[str]:
    """The demo volunteers' logins as `up --demo` and `demo` print them."""
    return [
        f"  volunteer login: {username} / {password}"
        if password
        else f"  volunteer login: {username} (password unchanged since first start; "
        "`bailanys demo --new-passwords` gives new ones)"
        for username, password in logins
    ]


# --- A living demo: made-up requests keep arriving, two demo volunteers keep calling ----

DEMO_BOTS = (("demo-caller-1", "experienced"), ("demo-caller-2", "volunteer"))
_FIRST = ["Айгерим", "Нурлан", "Asel", "Бекзат", "Dana", "Ерлан", "Гульнара", "Timur", "Сәуле"]
_CITIES = ["Алматы", "Астана", "Шымкент", "Караганда", "Актобе", "Тараз", "Атырау", "Semey"]
_MESSAGES = [
    "Всё хорошо, мы в Стамбуле. Не волнуйтесь.",
    "Мен аманмын, билет жоқ. Анама айтыңыз.",
    "I am safe in Berlin. Please tell everyone at home.",
    "",
]
_PREFIXES = ["701", "702", "705", "707", "747", "771", "775", "777", "778"]
# How the demo volunteers' calls end, roughly as in January 2022: many unanswered.
_OUTCOMES = [
    ("reached", 35),
    ("delivered", 25),
    ("no_answer", 22),
    ("busy", 6),
    ("switched_off", 6),
    ("wrong_number", 3),
    ("escalate", 3),
]


def _demo_payload(rng) -> dict:
    phone = f"+7 {rng.choice(_PREFIXES)} 555 {rng.randrange(100):02d} {rng.randrange(100):02d}"
    payload = {
        "requester": {"name": rng.choice(_FIRST), "language": rng.choice(["ru", "kk", "en"])},
        "recipient": {"name": rng.choice(_FIRST), "phone": phone, "city": rng.choice(_CITIES)},
        "message": rng.choice(_MESSAGES),
        "kind": rng.choices(
            ["deliver_message", "welfare_check", "find_relatives", "medical"], [6, 3, 1, 1]
        )[0],
        "urgent": rng.random() < 0.1,
    }
    if not payload["message"] and payload["kind"] == "deliver_message":
        payload["kind"] = "welfare_check"  # nothing to pass on: just check they are safe
    return payload


# The demo volunteers call only while more than this many cases wait.
DEMO_LEAVE_WAITING = 6


def _waiting() -> int:
    from django.utils import timezone

    from bailanys.relay.models import Case, CaseState

    return Case.objects.filter(
        state=CaseState.QUEUED, available_at__lte=timezone.now(), demo=True
    ).count()


def _demo_bots() -> list[User]:
    bots = []
    for username, role in DEMO_BOTS:
        user = User.objects.filter(username=username).first()
        bots.append(user or user_create(username=username, role=role))
    return bots


def demo_pulse(rng, *, requests: int = 1, calls: int = 1) -> tuple[int, int]:
    """One beat of the living demo: new made-up requests, then the demo volunteers call.

    Returns (requests made, outcomes recorded). Only demo volunteers' accounts act:
    what a person does in the console is theirs.
    """
    made = 0
    for _n in range(requests):
        data = services.request_check(_demo_payload(rng))
        services.request_create(data=data, channel="web", demo=True)
        made += 1
    recorded = 0
    for bot in _demo_bots()[:calls]:
        if _waiting() <= DEMO_LEAVE_WAITING:
            break  # leave cases for the people trying the console
        # Demo cases only: a request a person made in the browser is left for a person.
        claim = services.case_claim_next(volunteer=bot, only_demo=True)
        if claim is None:
            continue
        outcome = rng.choices([o for o, _w in _OUTCOMES], [w for _o, w in _OUTCOMES])[0]
        services.claim_record_outcome(claim_id=claim.pk, volunteer=bot, outcome=outcome, note="")
        recorded += 1
    return made, recorded


def demo_history(rng, *, hours: int = 12) -> int:
    """Give the charts a past: a few made-up requests and calls in each of the last hours.

    Made once (the demo callers' calls are the marker). Returns the requests made.
    """
    from datetime import timedelta

    from django.utils import timezone

    from bailanys.relay.models import Attempt, Case

    bots = _demo_bots()
    if Attempt.objects.filter(volunteer__in=bots).exists():
        return 0
    made = 0
    now = timezone.now()
    for hour in range(hours, 0, -1):
        at = now - timedelta(hours=hour, minutes=rng.randrange(50))
        first_request = Request.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        first_attempt = Attempt.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        new, _calls = demo_pulse(rng, requests=rng.randrange(3, 9), calls=len(bots))
        for _more in range(rng.randrange(2, 5)):
            demo_pulse(rng, requests=0, calls=len(bots))
        made += new
        # Back-date what this beat made to its hour, so the per-hour charts have a shape.
        requests = Request.objects.filter(pk__gt=first_request)
        Case.objects.filter(requests__in=requests).update(created_at=at, available_at=at)
        requests.update(created_at=at)
        Attempt.objects.filter(pk__gt=first_attempt).update(created_at=at + timedelta(minutes=8))
    return made
