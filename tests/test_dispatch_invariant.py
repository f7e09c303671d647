"""The dispatch invariant under random sequences of everything that moves a case.

Every open case is either held by an active volunteer or waiting in a queue.
A hypothesis state machine drives the relay through its public surface only:
requesters submit (JSON API), volunteers take, renew, release and record
outcomes, on their own claims and on others' (JSON API, bearer tokens); a
coordinator suspends and reactivates volunteers, takes escalated cases, breaks
leases, reassigns and closes cases (the web console, logged in with the second
factor); an operator issues a new API token after a reactivation (`bailanys
volunteer token`); the clock moves on (time_machine). The machine predicts every
answer: which case a take gives (or 204), 401/403/409, the state an outcome
leaves. After every step the database is read with the ORM, the observation
side only, and checked against the invariant and against the machine's model.

Lease expiry. A lapsed lease is not returned by a timer: the sweep
(`claims_expire`) runs at the start of every take by someone who holds nothing,
and in the worker. Until then the case stays CLAIMED and its holder may still
renew it, release it or record the outcome (a grace, not a leak). The invariant
accepts a CLAIMED case whose lease ran out only if the next sweep returns it to
the volunteer queue: the check runs that very sweep (`claims_expire`, as the
worker calls it) in a savepoint, looks, and rolls it back. The worker itself is
not driven here: its sweep closes the database connection, which the
per-example savepoint cannot survive.

Each example runs in a savepoint rolled back at its end, with the clock frozen
at the same instant, so every example starts from the same accounts and an
empty relay; the accounts and the coordinator's login are made once per test.

The tests at the end reproduce a bug the machine's model has to follow for now:
a case held for a coordinator (scam signs) goes back to the volunteers' queue.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bailanys.accounts.models import User
from bailanys.relay.models import Case, CaseState, Claim, Request
from bailanys.relay.services import claims_expire
from tests.conftest import (
    Api,
    Browser,
    login_coordinator,
    make_account,
    request_body,
    run_cli,
    submit,
)

# Three recipients, each written two ways: a second request must join the open case.
PHONES = [
    ("+7 701 000 00 01", "87010000001"),
    ("+7 701 000 00 02", "8 (701) 000-00-02"),
    ("+7 707 000 00 03", "77070000003"),
]


@dataclass(frozen=True)
class Ask:
    """One kind of request and what it must do to its case."""

    kind: str
    message: str
    urgent: bool = False
    hard: bool = False  # medical, or a missing person: experienced volunteers only
    priority: int = 0
    scam: bool = False  # money asked for: held for a coordinator


ASKS = [
    Ask("deliver_message", "Marat is in Germany and can't get a flight. He is fine."),
    Ask("deliver_message", "Call her today, please.", urgent=True, priority=1),
    Ask("medical", "He needs his insulin.", hard=True, priority=1),
    Ask("welfare_check", "He has been missing since Monday.", hard=True),
    Ask("deliver_message", "Please send money to his cousin.", scam=True),
]
FINAL = ["reached", "delivered", "wrong_number", "refused"]
RETRY = ["no_answer", "busy", "switched_off"]
OUTCOMES = FINAL + RETRY + ["escalate"]
# (reply, asks for money)
REPLIES = [("", False), ("She is safe and sends her love.", False), ("Send money now.", True)]
PHONE = st.integers(0, len(PHONES) - 1)
WRITTEN = st.integers(0, 1)
# Plain requests most often: hard and held ones leave most volunteers nothing to take.
ASK = st.sampled_from([ASKS[0], ASKS[0], ASKS[1], *ASKS])
_CLAIM_ON_CONSOLE = re.compile(r"/console/claims/(\d+)/outcome/")


@dataclass
class Actor:
    name: str  # the persona, as the rules pick it
    username: str
    user_id: int
    role: str  # "" (volunteer), "experienced" or "coordinator"
    token: str
    suspended: bool = False
    revoked: list[str] = field(default_factory=list)
    # The case of their latest claim, when they gave it back untouched (a release): their
    # next claim is another case.
    just_released: int | None = None

    @property
    def takes_hard(self) -> bool:
        return self.role != ""

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"


@dataclass
class CaseModel:
    case_id: int
    phone: int  # index into PHONES
    state: str
    hard: bool
    priority: int
    flagged: bool
    available_at: datetime
    failed_calls: int = 0
    # The last outcome was "escalate": until a coordinator records one, the case goes back
    # to the coordinators whenever its holder gives it back untouched.
    escalation_open: bool = False
    claim_id: int | None = None
    lease: datetime | None = None


@dataclass
class ClaimModel:
    claim_id: int
    actor: str
    case_id: int
    ended: bool = False


@dataclass
class World:
    """What every example starts from: the accounts and the coordinator's browser."""

    actors: list[Actor]
    coordinator: Browser


def _lease() -> timedelta:
    return timedelta(seconds=django_settings.BAILANYS_LEASE_SECONDS)


def _when(value: str) -> datetime:
    parsed = parse_datetime(value)
    assert parsed is not None, value
    return parsed


class DispatchMachine(RuleBasedStateMachine):
    claims = Bundle("claims")

    def __init__(self, world: World, start: datetime):
        super().__init__()
        # Everything an example does is rolled back at its end (teardown).
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._travel = time_machine.travel(start, tick=False)
        self.clock = self._travel.start()
        self.actors = {
            a.name: Actor(a.name, a.username, a.user_id, a.role, a.token) for a in world.actors
        }
        self.coordinator = next(a for a in self.actors.values() if a.is_coordinator)
        self.browser = world.coordinator
        self.browser.get("/console/")  # a fresh form token, as an open page would have
        self.cases: dict[int, CaseModel] = {}
        self.claim_models: dict[int, ClaimModel] = {}

    def teardown(self):
        self._travel.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the model ---------------------------------------------------------------

    def now(self) -> datetime:
        return timezone.now()

    def held(self, actor: Actor) -> ClaimModel | None:
        """The claim the actor holds per the API's answers (a lapsed, unswept lease counts)."""
        mine = [c for c in self.claim_models.values() if c.actor == actor.name and not c.ended]
        assert len(mine) <= 1, mine
        return mine[0] if mine else None

    def holders(self) -> list[str]:
        return sorted({c.actor for c in self.claim_models.values() if not c.ended})

    def open_case_for(self, phone: int) -> CaseModel | None:
        return next(
            (c for c in self.cases.values() if c.phone == phone and c.state != CaseState.CLOSED),
            None,
        )

    def end_claim(self, claim: ClaimModel, *, state: str, released: bool = False) -> CaseModel:
        claim.ended = True
        self.actors[claim.actor].just_released = claim.case_id if released else None
        case = self.cases[claim.case_id]
        assert case.claim_id == claim.claim_id
        case.state, case.claim_id, case.lease = state, None, None
        return case

    @staticmethod
    def back(case, *, untouched: bool = True) -> str:
        """Where a case nobody holds goes: the coordinators' queue when flagged, or, given
        back untouched, while an escalation waits for a coordinator's outcome."""
        if case.flagged or (untouched and case.escalation_open):
            return CaseState.ESCALATED
        return CaseState.QUEUED

    def sweep(self) -> None:
        """What claims_expire does: every lease that ran out (strictly) goes back to the
        volunteers' queue, or to the coordinators' when it is flagged."""
        now = self.now()
        for case in self.cases.values():
            if case.state == CaseState.CLAIMED and case.lease < now:
                self.end_claim(self.claim_models[case.claim_id], state=self.back(case))

    def api(self, actor: Actor) -> Api:
        return Api(actor.token)

    def start_claim(self, actor: Actor, case: CaseModel, claim_id: int) -> None:
        assert claim_id not in self.claim_models, f"claim {claim_id} given out twice"
        case.state, case.claim_id = CaseState.CLAIMED, claim_id
        case.lease = self.now() + _lease()
        self.claim_models[claim_id] = ClaimModel(claim_id, actor.name, case.case_id)

    # --- requesters --------------------------------------------------------------

    @initialize(requests=st.lists(st.tuples(PHONE, WRITTEN, ASK), min_size=1, max_size=4))
    def requests_arrive(self, requests):
        for phone, written, ask in requests:
            self.submit(phone, written, ask)

    @rule(phone=PHONE, written=WRITTEN, ask=ASK)
    def submit(self, phone, written, ask):
        # One second per request: cases are created in a known order, as dispatch sees it.
        self.clock.shift(1)
        body = request_body(
            phone=PHONES[phone][written], kind=ask.kind, message=ask.message, urgent=ask.urgent
        )
        response = Api().post("/requests", body)
        assert response.status_code == 201, response.content
        case_id = response.json()["case_id"]
        case = self.open_case_for(phone)
        if case is not None:
            assert case_id == case.case_id, "a second request for an open case made another case"
            case.priority = max(case.priority, ask.priority)
            case.hard = case.hard or ask.hard
            if ask.scam:
                case.flagged = True
                if case.state == CaseState.QUEUED:
                    case.state = CaseState.ESCALATED
        else:
            assert case_id not in self.cases, "a closed case was reopened by a new request"
            self.cases[case_id] = CaseModel(
                case_id=case_id,
                phone=phone,
                state=CaseState.ESCALATED if ask.scam else CaseState.QUEUED,
                hard=ask.hard,
                priority=ask.priority,
                flagged=ask.scam,
                available_at=self.now(),
            )

    # --- volunteers: the JSON API ----------------------------------------------

    @rule(target=claims, name=st.sampled_from(["vol-a", "vol-b", "exp", "coord"]))
    def take(self, name):
        actor = self.actors[name]
        response = self.api(actor).post("/claims")
        if actor.suspended:
            assert response.status_code == 401, response.content
            return multiple()
        held = self.held(actor)
        if held is not None:
            # Asking again gives back the case one holds, even with its lease run out.
            assert response.status_code == 200, response.content
            answer = response.json()
            assert (answer["claim_id"], answer["case_id"]) == (held.claim_id, held.case_id)
            assert _when(answer["expires_at"]) == self.cases[held.case_id].lease
            return answer["claim_id"]
        self.sweep()
        now = self.now()
        eligible = [
            c
            for c in self.cases.values()
            if c.state == CaseState.QUEUED
            and c.available_at <= now
            and (actor.takes_hard or not c.hard)
            and c.case_id != actor.just_released
        ]
        if not eligible:
            assert response.status_code == 204, response.content
            return multiple()
        assert response.status_code == 200, response.content
        answer = response.json()
        # Urgent and medical first, then the oldest (case ids grow with creation time here).
        expected = min(eligible, key=lambda c: (-c.priority, c.case_id))
        assert answer["case_id"] == expected.case_id, (answer["case_id"], eligible)
        self.start_claim(actor, expected, answer["claim_id"])
        assert _when(answer["expires_at"]) == expected.lease
        return answer["claim_id"]

    def _act(self, actor: Actor, claim_id: int, action: str, payload: dict | None = None):
        """Renew, release or record an outcome on any claim; check the answer."""
        path = f"/claims/{claim_id}/{action}"
        response = self.api(actor).post(path, payload)
        claim = self.claim_models[claim_id]
        if actor.suspended:
            assert response.status_code == 401, response.content
            return
        if claim.actor != actor.name:
            assert response.status_code == 403, response.content
            return
        if claim.ended:
            assert response.status_code == 409, response.content
            return
        case = self.cases[claim.case_id]
        if action == "renew":
            assert response.status_code == 200, response.content
            case.lease = self.now() + _lease()
            assert _when(response.json()["expires_at"]) == case.lease
        elif action == "release":
            assert response.status_code == 204, response.content
            self.end_claim(claim, state=self.back(case), released=True)
        else:
            assert response.status_code == 200, response.content
            state = self._outcome(actor, case, payload)
            self.end_claim(claim, state=state)
            assert response.json()["case_state"] == state

    def _outcome(self, actor: Actor, case: CaseModel, payload: dict) -> str:
        """The state an outcome moves the case to, per claim_record_outcome's rules."""
        outcome = payload["outcome"]
        scam_reply = dict(REPLIES)[payload["reply"]]
        if payload["hard"]:
            case.hard = True
        if actor.is_coordinator:
            case.flagged = False  # a coordinator has looked
        elif scam_reply:
            outcome = "escalate"  # not relayed before a coordinator has seen it
            case.flagged = True
        case.escalation_open = payload["outcome"] == "escalate"  # what the server stores
        if outcome in FINAL:
            return CaseState.CLOSED
        if outcome in RETRY:
            case.failed_calls += 1
            if case.failed_calls >= django_settings.BAILANYS_MAX_ATTEMPTS:
                return CaseState.CLOSED
            delays = django_settings.BAILANYS_RETRY_DELAYS_MINUTES
            delay = delays[min(case.failed_calls, len(delays)) - 1]
            case.available_at = self.now() + timedelta(minutes=delay)
            return self.back(case, untouched=False)
        return CaseState.ESCALATED

    @precondition(lambda self: self.holders())
    @rule(
        data=st.data(),
        outcome=st.sampled_from(OUTCOMES),
        reply=st.sampled_from([r for r, _scam in REPLIES]),
        hard=st.booleans(),
    )
    def record_outcome(self, data, outcome, reply, hard):
        actor = self.actors[data.draw(st.sampled_from(self.holders()), label="holder")]
        claim = self.held(actor)
        self._act(
            actor, claim.claim_id, "outcome", {"outcome": outcome, "reply": reply, "hard": hard}
        )

    @precondition(lambda self: self.holders())
    @rule(data=st.data(), action=st.sampled_from(["renew", "release"]))
    def renew_or_release(self, data, action):
        actor = self.actors[data.draw(st.sampled_from(self.holders()), label="holder")]
        self._act(actor, self.held(actor).claim_id, action)

    @rule(
        claim_id=claims,
        name=st.sampled_from(["vol-a", "vol-b", "exp", "coord"]),
        action=st.sampled_from(["renew", "release", "outcome"]),
    )
    def act_on_any_claim(self, claim_id, name, action):
        """Someone acts on a claim seen earlier: their own, ended or not, or somebody else's."""
        payload = (
            {"outcome": "reached", "reply": "", "hard": False} if action == "outcome" else None
        )
        self._act(self.actors[name], claim_id, action, payload)

    # --- the clock -----------------------------------------------------------------

    @rule(
        seconds=st.sampled_from(
            [
                60,
                django_settings.BAILANYS_LEASE_SECONDS - 1,
                django_settings.BAILANYS_LEASE_SECONDS,
                django_settings.BAILANYS_LEASE_SECONDS + 1,
                20 * 60,
                3600,
                3 * 3600,
            ]
        )
    )
    def time_passes(self, seconds):
        self.clock.shift(seconds)

    # --- the coordinator: the web console --------------------------------------

    @rule(
        data=st.data(),
        action=st.sampled_from(["suspend", "suspend a holder", "reactivate"]),
    )
    def coordinator_suspends_or_reactivates(self, data, action):
        names = ["vol-a", "vol-b", "exp"]
        # Mostly someone it changes; a repeated suspension or reactivation changes nothing.
        holding = [n for n in self.holders() if n in names]
        wanted = {
            "suspend": [n for n in names if not self.actors[n].suspended],
            "suspend a holder": holding,
            "reactivate": [n for n in names if self.actors[n].suspended],
        }[action]
        if wanted and data.draw(st.integers(0, 3), label="someone it changes"):
            names = wanted
        actor = self.actors[data.draw(st.sampled_from(names), label="volunteer")]
        if action == "reactivate":
            self.reactivate(actor)
        else:
            self.suspend(actor)

    def suspend(self, actor: Actor):
        response = self.browser.post(f"/accounts/volunteers/{actor.user_id}/suspend/")
        assert response.status_code == 302, response.content
        assert response["Location"] == "/accounts/volunteers/"
        if actor.suspended:
            return
        held = self.held(actor)
        if held is not None:
            # Every case a suspended volunteer held goes back, lapsed or not (a release).
            self.end_claim(held, state=self.back(self.cases[held.case_id]), released=True)
        actor.suspended = True
        actor.revoked.append(actor.token)
        assert Api(actor.token).post("/claims").status_code == 401, "a suspended token works"

    def reactivate(self, actor: Actor):
        response = self.browser.post(f"/accounts/volunteers/{actor.user_id}/reactivate/")
        assert response.status_code == 302, response.content
        if not actor.suspended:
            return
        actor.suspended = False
        # Reactivating does not bring the revoked tokens back: the operator issues one.
        actor.token = run_cli("volunteer", "token", actor.username).strip().splitlines()[-1]
        for old in actor.revoked:
            assert Api(old).post("/claims").status_code == 401, "a revoked token came back"

    def _coordinator_takes(self, case_id: int) -> int | None:
        before = self.held(self.coordinator)
        response = self.browser.post(f"/console/cases/{case_id}/take/", follow=True)
        landed = response.redirect_chain[-1][0]
        case = self.cases[case_id]
        if before is not None:
            # "Finish the case you hold first": the console still shows that one.
            assert landed == "/console/", landed
            shown = _CLAIM_ON_CONSOLE.search(response.content.decode())
            assert shown and int(shown.group(1)) == before.claim_id
            return None
        if case.state != CaseState.ESCALATED:
            # Not (or no longer) waiting for a coordinator: "Someone else has taken this case."
            assert landed == "/console/coordinator/", landed
            return None
        assert landed == "/console/", landed
        shown = _CLAIM_ON_CONSOLE.search(response.content.decode())
        assert shown, "the console shows no case after the take"
        claim_id = int(shown.group(1))
        self.start_claim(self.coordinator, case, claim_id)
        return claim_id

    @precondition(lambda self: any(c.state == CaseState.ESCALATED for c in self.cases.values()))
    @rule(target=claims, data=st.data(), escalated_only=st.booleans())
    def coordinator_takes_a_case(self, data, escalated_only):
        """Mostly one waiting for coordinators; sometimes any: held, closed or queued."""
        escalated = [c for c, m in self.cases.items() if m.state == CaseState.ESCALATED]
        choices = sorted(escalated if escalated_only else self.cases)
        claim_id = self._coordinator_takes(data.draw(st.sampled_from(choices), label="case"))
        return multiple() if claim_id is None else claim_id

    # --- the coordinator's case tools (/console/cases/) ------------------------

    def _tool(self, path: str, data: dict | None = None) -> None:
        """Post one of the tools. It always comes back to the tools page, whether it did
        anything or not: the model says which, and the invariants compare."""
        response = self.browser.post(path, data)
        assert response.status_code == 302, response.content
        assert response["Location"] == "/console/cases/", response["Location"]

    def _take_back(self, case: CaseModel) -> None:
        """What lease_break and reassign do to a held case: flagged or escalated ones go
        back to coordinators."""
        back = self.back(case)
        self.end_claim(self.claim_models[case.claim_id], state=back)
        case.available_at = self.now()

    @precondition(lambda self: self.cases)
    @rule(
        target=claims,
        data=st.data(),
        # Closing ends a case for good: less often, or little else would happen.
        tool=st.sampled_from(["break", "break", "reassign", "reassign", "close"]),
        name=st.sampled_from(["vol-a", "vol-b", "exp", "coord"]),
    )
    def coordinator_uses_a_case_tool(self, data, tool, name):
        held = sorted(c for c, m in self.cases.items() if m.claim_id)
        # Mostly a case somebody holds (when there is one), sometimes any case at all.
        choices = held if held and data.draw(st.booleans(), label="a held one") else self.cases
        case = self.cases[data.draw(st.sampled_from(sorted(choices)), label="case")]
        path = f"/console/cases/{case.case_id}/{tool}/"
        if tool == "break":
            self._tool(path)
            if case.state == CaseState.CLAIMED:
                self._take_back(case)
        elif tool == "close":
            self._tool(path, {"resolution": "coordinator", "reason": "Asked twice."})
            if case.claim_id:
                self.end_claim(self.claim_models[case.claim_id], state=CaseState.CLOSED)
            case.state = CaseState.CLOSED
        else:
            return self._reassign(case, self.actors[name])
        return multiple()

    def _reassign(self, case: CaseModel, target: Actor):
        self._tool(f"/console/cases/{case.case_id}/reassign/", {"username": target.username})
        if (
            target.suspended
            or case.state == CaseState.CLOSED
            or (case.hard and not target.takes_hard)
            or self.held(target) is not None
        ):
            return multiple()  # refused: nothing changed
        if case.claim_id:
            self._take_back(case)
        # The volunteer's app asks for their case and is given the one assigned.
        response = self.api(target).post("/claims")
        assert response.status_code == 200, response.content
        answer = response.json()
        assert answer["case_id"] == case.case_id
        self.start_claim(target, case, answer["claim_id"])
        assert _when(answer["expires_at"]) == case.lease
        return answer["claim_id"]

    # --- what must hold after every step ---------------------------------------

    @invariant()
    def every_open_case_is_held_or_waiting(self):
        now = self.now()
        active = list(Claim.objects.filter(ended_at__isnull=True).select_related("case"))
        twice = [v for v, n in Counter(c.volunteer_id for c in active).items() if n > 1]
        assert not twice, f"volunteers holding two active claims: {twice}"
        for claim in active:
            assert claim.case.current_claim_id == claim.pk, (
                f"active {claim} is not its case's current claim ({claim.case})"
            )
        lapsed = set()
        for case in Case.objects.select_related("current_claim__volunteer"):
            claim = case.current_claim
            if case.state == CaseState.CLAIMED:
                assert claim is not None, f"{case} is claimed by nobody"
                assert claim.ended_at is None, f"{case} is held by an ended {claim}"
                assert claim.case_id == case.pk
                assert claim.volunteer.is_active, f"{case} is held by a suspended volunteer"
                assert case.lease_expires_at == claim.expires_at
                if case.lease_expires_at < now:
                    lapsed.add(case.pk)
            else:
                assert case.state in (CaseState.QUEUED, CaseState.ESCALATED, CaseState.CLOSED)
                assert claim is None, f"{case} has {claim}"
                assert case.lease_expires_at is None, f"{case} has a lease"
        assert not Claim.objects.filter(
            ended_at__isnull=True, volunteer__is_active=False
        ).exists(), "a suspended volunteer holds a case"
        # A lapsed lease is allowed only if the next sweep returns its case to the queue.
        with transaction.atomic():
            returned = claims_expire(now=now)
            states = dict(Case.objects.filter(pk__in=lapsed).values_list("pk", "state"))
            transaction.set_rollback(True)
        assert returned == len(lapsed), (returned, lapsed)
        assert set(states.values()) <= {CaseState.QUEUED, CaseState.ESCALATED}, states
        # Every request belongs to a case, and no open case is there without a request.
        assert not Request.objects.exclude(case__in=Case.objects.all()).exists()
        orphans = Case.objects.exclude(state=CaseState.CLOSED).filter(requests__isnull=True)
        assert not orphans.exists(), list(orphans)

    @invariant()
    def the_server_agrees_with_what_the_api_said(self):
        server = {
            c.pk: c
            for c in Case.objects.all().only(
                "state",
                "hard",
                "priority",
                "flag",
                "available_at",
                "failed_calls",
                "current_claim_id",
                "lease_expires_at",
            )
        }
        assert set(server) == set(self.cases)
        for case_id, model in self.cases.items():
            row = server[case_id]
            seen = (
                row.state,
                row.hard,
                row.priority,
                bool(row.flag),
                row.available_at,
                row.failed_calls,
                row.current_claim_id,
                row.lease_expires_at,
            )
            expected = (
                model.state,
                model.hard,
                model.priority,
                model.flagged,
                model.available_at,
                model.failed_calls,
                model.claim_id,
                model.lease,
            )
            assert seen == expected, f"case {case_id}: server {seen}, model {expected}"
        for actor in self.actors.values():
            held = self.held(actor)
            active = list(
                Claim.objects.filter(volunteer_id=actor.user_id, ended_at__isnull=True).values_list(
                    "pk", flat=True
                )
            )
            assert active == ([held.claim_id] if held else []), (actor.name, active, held)
            assert User.objects.get(pk=actor.user_id).is_active == (not actor.suspended)


@pytest.fixture
def world(db, settings) -> World:
    # Examples move the clock hours ahead and back again: the login must outlast that.
    settings.SESSION_COOKIE_AGE = 60 * 24 * 3600
    actors, browser = [], Browser()
    for name, role in [
        ("vol-a", ""),
        ("vol-b", ""),
        ("exp", "experienced"),
        ("coord", "coordinator"),
    ]:
        username, password, token = make_account(role)
        user_id = User.objects.get(username=username).pk
        actors.append(Actor(name, username, user_id, role, token))
        if role == "coordinator":
            login_coordinator(browser, username, password)
    return World(actors=actors, coordinator=browser)


def test_every_open_case_is_held_by_an_active_volunteer_or_waiting_in_a_queue(world):
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=1)
    run_state_machine_as_test(
        lambda: DispatchMachine(world, start),
        settings=hypothesis_settings(
            max_examples=50,
            stateful_step_count=50,
            deadline=None,
            # Each step is a few HTTP requests: shrink one failure, not every distinct one.
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- Found by the machine: a case held for a coordinator must not reach volunteers ----
#
# A case whose request or reply shows scam signs carries a flag and waits for a
# coordinator (relay.services.case_flag_for_coordinator). The machine found that a
# release (a volunteer's, a coordinator's, a suspension's), a lapsed lease and a retry
# outcome put such a case back in the volunteers' queue, flag and all; the next
# volunteer got the number and could close it with no coordinator looking. Now they
# go back to the coordinators' queue; these tests pin each path.

SCAM = "Please send money to his cousin."


def _flag_then(action: str, anon: Api, volunteer: Api, clock) -> None:
    """A volunteer holds a case; a scam request joins it; then `action`."""
    submit(anon, phone="+77010000001")
    claim = volunteer.post("/claims").json()
    submit(anon, phone="+77010000001", message=SCAM)
    if action == "release":
        assert volunteer.post(f"/claims/{claim['claim_id']}/release").status_code == 204
    elif action == "no_answer":
        answer = volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "no_answer"})
        assert answer.status_code == 200, answer.content
        clock.shift(timedelta(minutes=max(django_settings.BAILANYS_RETRY_DELAYS_MINUTES) + 1))
    else:
        clock.shift(timedelta(seconds=django_settings.BAILANYS_LEASE_SECONDS + 1))


@pytest.mark.parametrize("action", ["release", "no_answer", "lease lapses"])
def test_a_case_flagged_while_held_is_not_offered_to_volunteers(
    action, anon, volunteer, other_volunteer
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _flag_then(action, anon, volunteer, clock)
        offered = other_volunteer.post("/claims")
        assert offered.status_code == 204, [m["message"] for m in offered.json()["messages"]]


@pytest.mark.parametrize("action", ["release", "lease lapses"])
def test_a_flagged_case_a_coordinator_took_is_not_offered_to_volunteers(action, anon, volunteer):
    username, password, token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, username, password)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        case_id = submit(anon, phone="+77010000002", message=SCAM)["case_id"]
        assert volunteer.post("/claims").status_code == 204, "held for a coordinator"
        taken = browser.post(f"/console/cases/{case_id}/take/", follow=True)
        claim_id = int(_CLAIM_ON_CONSOLE.search(taken.content.decode()).group(1))
        if action == "release":
            assert Api(token).post(f"/claims/{claim_id}/release").status_code == 204
        else:
            clock.shift(timedelta(seconds=django_settings.BAILANYS_LEASE_SECONDS + 1))
        offered = volunteer.post("/claims")
        assert offered.status_code == 204, [m["message"] for m in offered.json()["messages"]]


# Also found by the machine: a case a volunteer escalated, taken by a coordinator and
# given back untouched (released, lapsed), went to the volunteers' queue and the
# escalation was lost. It waits for a coordinator until one records an outcome.
@pytest.mark.parametrize("action", ["release", "lease lapses"])
def test_an_escalation_waits_for_a_coordinators_outcome(action, anon, volunteer):
    username, password, token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, username, password)
    coordinator = Api(token)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        case_id = submit(anon, phone="+77010000003")["case_id"]
        claim = volunteer.post("/claims").json()
        escalated = volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "escalate"})
        assert escalated.json()["case_state"] == "escalated"
        taken = browser.post(f"/console/cases/{case_id}/take/", follow=True)
        claim_id = int(_CLAIM_ON_CONSOLE.search(taken.content.decode()).group(1))
        if action == "release":
            assert coordinator.post(f"/claims/{claim_id}/release").status_code == 204
        else:
            clock.shift(timedelta(seconds=django_settings.BAILANYS_LEASE_SECONDS + 1))
        assert volunteer.post("/claims").status_code == 204, "offered to a volunteer"
        # Back with the coordinators: one takes it again and records a retry; now it is
        # the volunteers' to call again.
        taken = browser.post(f"/console/cases/{case_id}/take/", follow=True)
        claim_id = int(_CLAIM_ON_CONSOLE.search(taken.content.decode()).group(1))
        answer = coordinator.post(f"/claims/{claim_id}/outcome", {"outcome": "no_answer"})
        assert answer.json()["case_state"] == "queued"
        clock.shift(timedelta(minutes=max(django_settings.BAILANYS_RETRY_DELAYS_MINUTES) + 1))
        offered = volunteer.post("/claims")
        assert offered.status_code == 200 and offered.json()["case_id"] == case_id
