"""Need to know: every URL, every method, every persona without a claim sees nothing personal.

The walk enumerates the root URLconf (recursing into includes; the admin only
at /admin/, i18n skipped), fills each path parameter from a scenario, and asks
each URL with GET and POST as an outsider, a volunteer with no claim (C) and a
volunteer holding another case (B). Every answer is searched for the
scenario's personal data. Allowed are only: the status page and status API,
which anyone holding the status link may read (a capability URL), and B's own
case on the pages that show a volunteer their claim. A URL the walk does not
know fails the test, so a new one cannot slip past it.
"""

import json
import re

import pytest
from django.test import Client

from bailanys.accounts.models import User
from tests.conftest import Api, Browser, make_account, run_cli, status_token
from tests.helpers import all_routes, hits_in


@pytest.fixture(autouse=True)
def _fast(settings):
    # Passwords are not what this file tests; Argon2 would only make it slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def phone_forms(e164: str) -> list[str]:
    national = e164[2:]
    return [e164, "8" + national, national, f"+7 {national[:3]} {national[3:6]} {national[6:]}"]


def request_for(tag: str, phone: str) -> dict:
    return {
        "requester": {
            "name": f"Zyxntkreq{tag}",
            "language": "en",
            "contact": f"zyxntk-{tag}@ex.org",
        },
        "recipient": {"name": f"Qwntkrecip{tag}", "phone": phone, "city": f"Qwntkcity{tag}"},
        "message": f"canary-ntk-msg-{tag}",
        "kind": "deliver_message",
    }


def canaries_of(tag: str) -> list[str]:
    return [
        f"Zyxntkreq{tag}",
        f"zyxntk-{tag}@ex.org",
        f"Qwntkrecip{tag}",
        f"Qwntkcity{tag}",
        f"canary-ntk-msg-{tag}",
    ]


PHONES = {"a": "+77015550201", "b": "+77015550202", "e": "+77015550203"}


@pytest.fixture
def scene(db):
    """Case E escalated; case A (two requests) held by volunteer A; case B held by volunteer B."""
    anon = Api()
    created = {}
    for tag, phone in (
        ("e1", PHONES["e"]),
        ("a1", PHONES["a"]),
        ("a2", PHONES["a"]),
        ("b1", PHONES["b"]),
    ):
        response = anon.post("/requests", request_for(tag, phone))
        assert response.status_code == 201, response.content
        created[tag] = response.json()
    accounts = {p: make_account() for p in "ABC"}
    volunteer_a, volunteer_b = Api(accounts["A"][2]), Api(accounts["B"][2])
    escalated = volunteer_a.post("/claims").json()
    assert escalated["case_id"] == created["e1"]["case_id"]
    r = volunteer_a.post(
        f"/claims/{escalated['claim_id']}/outcome",
        {"outcome": "escalate", "note": "canary-ntk-note-e"},
    )
    assert r.json()["case_state"] == "escalated"
    claim_a = volunteer_a.post("/claims").json()
    assert claim_a["case_id"] == created["a1"]["case_id"] == created["a2"]["case_id"]
    claim_b = volunteer_b.post("/claims").json()
    assert claim_b["case_id"] == created["b1"]["case_id"]
    assert Api(accounts["C"][2]).post("/claims").status_code == 204, "nothing left to take"
    invitation = run_cli("volunteer", "invite").strip().splitlines()[-1]
    coordinator_name, coordinator_password, _token = make_account("coordinator")
    coordinator = Browser()
    coordinator.login(coordinator_name, coordinator_password)
    invitations = coordinator.get("/accounts/invitations/").content.decode()
    revoke = re.search(r'action="/accounts/invitations/(\d+)/revoke/"', invitations)
    assert revoke, "the coordinator sees the open invitation"

    case_a = [*canaries_of("a1"), *canaries_of("a2"), *phone_forms(PHONES["a"])]
    case_b = [*canaries_of("b1"), *phone_forms(PHONES["b"])]
    case_e = [*canaries_of("e1"), "canary-ntk-note-e", *phone_forms(PHONES["e"])]
    return {
        "created": created,
        "accounts": accounts,
        "claim_a": claim_a,
        "claim_b": claim_b,
        "token": status_token(created["a1"]),
        "invitation_token": invitation.rstrip("/").rsplit("/", 1)[-1],
        "invitation_id": revoke.group(1),
        "coordinator": coordinator,
        "user_a": User.objects.get(username=accounts["A"][0]).pk,
        "case_a": case_a,
        "case_b": case_b,
        "case_e": case_e,
        # What the status link of request a1 shows its holder: that request's own words.
        "status_visible": ["Qwntkrecipa1", "canary-ntk-msg-a1"],
    }


def fill(route: str, scene: dict) -> str:
    """The route with real values: the claim volunteer A holds, the escalated case, …"""
    values = {
        "token": scene["token"],
        "claim_id": str(scene["claim_a"]["claim_id"]),
        "case_id": str(scene["created"]["e1"]["case_id"]),
        "invitation_id": scene["invitation_id"],
        "user_id": str(scene["user_a"]),
        "action": "suspend",  # the worst a stranger could do to volunteer A
        "post_id": "999999",  # no post waits for review in this scene
        "name": "twilio",  # no HTTP SMS provider is set up in this scene
        "pk": "1",  # a bulletin: none is written in this scene
        "bulletin_id": "1",
        "code": "BZZZ",  # a made-up bulletin code
    }
    if route.startswith("accounts/join/"):
        values["token"] = scene["invitation_token"]
    path = route
    for name, value in values.items():
        for converter in (f"<{name}>", f"<str:{name}>", f"<int:{name}>"):
            path = path.replace(converter, value)
    assert "<" not in path and "(" not in path and "^" not in path, (
        f"the walk has no value for a parameter of {route!r}: teach fill() about it"
    )
    return "/" + path


# What each route must answer: {route: {(method, persona): allowed status codes}}.
# Personas: "anon", "C" (no claim), "B" (holds case B, not A's claim or E).
LOGIN = "login"  # a redirect to a login page
ANY = ("anon", "C", "B")


def expect(get, post, *, anon_get=None, anon_post=None, b_post=None):
    table = {}
    for persona in ANY:
        table[("GET", persona)] = get
        table[("POST", persona)] = post
    if anon_get is not None:
        table[("GET", "anon")] = anon_get
    if anon_post is not None:
        table[("POST", "anon")] = anon_post
    if b_post is not None:
        table[("POST", "B")] = b_post
    return table


CONSOLE_ACTION = expect({405}, {403}, anon_get={LOGIN}, anon_post={LOGIN})
API_CLAIM_ACTION = expect({405}, {403}, anon_post={401})
PERSONAL_PAGE = expect({404}, {404}, anon_get={LOGIN}, anon_post={LOGIN})
COORDINATOR_ACTION = expect({405}, {404}, anon_get={LOGIN}, anon_post={LOGIN})
EXPECTED = {
    "healthz": expect({200}, {200}),
    "api/v1/openapi.json": expect({200}, {200}),
    "api/v1/docs": expect({200}, {200}),
    "api/v1/": expect({404}, {404}),
    "api/v1/requests": expect({405}, {422}),
    "api/v1/requests/<token>": expect({200}, {405}),
    "api/v1/claims": expect({405}, {204}, anon_post={401}, b_post={200}),
    "api/v1/claims/<claim_id>/renew": API_CLAIM_ACTION,
    "api/v1/claims/<claim_id>/outcome": API_CLAIM_ACTION,
    "api/v1/claims/<claim_id>/release": API_CLAIM_ACTION,
    "accounts/login/": expect({302}, {302}, anon_get={200}, anon_post={200}),
    "accounts/logout/": expect({405}, {302}),
    # An invitation link is a capability, like a status link: nothing personal behind it.
    "accounts/join/<str:token>/": expect({200}, {422}),
    "accounts/invitations/": PERSONAL_PAGE,
    "accounts/invitations/<int:invitation_id>/revoke/": expect({405}, {404}, anon_post={LOGIN}),
    "accounts/volunteers/": PERSONAL_PAGE,
    "accounts/volunteers/<int:user_id>/<str:action>/": expect({405}, {404}, anon_post={LOGIN}),
    # Volunteers need no second factor: the steps send them on to the console.
    "accounts/2fa/setup/": expect({302}, {302}, anon_get={LOGIN}, anon_post={LOGIN}),
    "accounts/2fa/verify/": expect({302}, {302}, anon_get={LOGIN}, anon_post={LOGIN}),
    "admin/": expect({LOGIN}, {LOGIN}),
    "": expect({200}, {422}),
    "s/<str:token>/": expect({200}, {200}),
    # Bulletins for the status link's own contact number; back to the page, nothing shown.
    "s/<str:token>/bulletins/": expect({405}, {302}),
    "console/": expect({200}, {200}, anon_get={LOGIN}, anon_post={LOGIN}),
    "console/take/": expect({405}, {302}, anon_get={LOGIN}, anon_post={LOGIN}),
    # Only one's own preference: nothing of anyone else behind it.
    "console/hard-cases/": expect({405}, {302}, anon_get={LOGIN}, anon_post={LOGIN}),
    # One's own flag; and clearing one is for coordinators, who are not in this walk.
    "console/need-to-talk/": expect({405}, {302}, anon_get={LOGIN}, anon_post={LOGIN}),
    "console/volunteers/<int:user_id>/talked/": expect(
        {405}, {404}, anon_get={LOGIN}, anon_post={LOGIN}
    ),
    "console/claims/<int:claim_id>/outcome/": CONSOLE_ACTION,
    "console/claims/<int:claim_id>/renew/": CONSOLE_ACTION,
    "console/claims/<int:claim_id>/release/": CONSOLE_ACTION,
    "console/coordinator/": PERSONAL_PAGE,
    # B holds a case, so the console tells B to finish it first (302), before any check.
    "console/cases/<int:case_id>/take/": expect(
        {405}, {403}, anon_get={LOGIN}, anon_post={LOGIN}, b_post={302}
    ),
    "console/audit/": PERSONAL_PAGE,
    # Counts only, and for coordinators: a volunteer is not told it exists.
    "console/stats.csv": PERSONAL_PAGE,
    # Keeping a case longer is for coordinators: a volunteer is not told it exists.
    "console/retain/": expect({405}, {404}, anon_get={LOGIN}, anon_post={LOGIN}),
    # Counts and charts, for coordinators: a volunteer is not told it exists.
    "console/dashboard/": PERSONAL_PAGE,
    # One's own phone credit and operators: nothing of anyone else behind them.
    "console/credit/": expect({200}, {302}, anon_get={LOGIN}, anon_post={LOGIN}),
    "console/operators/": expect({405}, {302}, anon_get={LOGIN}, anon_post={LOGIN}),
    "console/volunteers/<int:user_id>/topup/": COORDINATOR_ACTION,
    # Coordinator tools: a volunteer is not told they exist.
    "console/cases/": PERSONAL_PAGE,
    "console/cases/<int:case_id>/break/": COORDINATOR_ACTION,
    "console/cases/<int:case_id>/reassign/": COORDINATOR_ACTION,
    "console/cases/<int:case_id>/close/": COORDINATOR_ACTION,
    "console/cases/merge/": COORDINATOR_ACTION,
    "console/cases/<int:case_id>/split/": COORDINATOR_ACTION,
    "console/broadcast/": COORDINATOR_ACTION,
    # Free text waiting for a coordinator's review: a volunteer is not told it exists.
    "console/review/": PERSONAL_PAGE,
    "console/review/<int:post_id>/": PERSONAL_PAGE,
    # Telegram's webhook answers only the secret header; without it, 403 before anything.
    "channels/telegram/webhook": expect({405}, {403}, anon_get={405}, anon_post={403}),
    # sms-gate.app's webhook answers only a valid signature; without it, 401 before anything.
    "channels/smsgate/webhook": expect({405}, {401}, anon_get={405}, anon_post={401}),
    # An HTTP provider's callbacks: an unknown provider is 404, a bad signature 403.
    "channels/http-sms/<str:name>/status": expect({405}, {403}, anon_get={405}, anon_post={403}),
    "channels/http-sms/<str:name>/inbound": expect({405}, {403}, anon_get={405}, anon_post={403}),
    # A link code is made for the logged-in person only and shows nothing of others.
    "console/telegram/": expect({200}, {200}, anon_get={LOGIN}, anon_post={LOGIN}),
    # The volunteer's own phone only; an empty POST is refused with a reason.
    "console/sms/": expect({200}, {422}, anon_get={LOGIN}, anon_post={LOGIN}),
    # Gateway health is for coordinators: a volunteer is not told the page exists.
    "console/sms/gateways/": PERSONAL_PAGE,
    # The proxies in counts, waves, the switch: for coordinators, a volunteer is not told.
    "coordinate/proxies/": PERSONAL_PAGE,
    # Bulletins: drafting and deciding are for coordinators; a code is public to check.
    "coordinate/bulletins/": PERSONAL_PAGE,
    "coordinate/bulletins/parts/": PERSONAL_PAGE,
    "coordinate/bulletins/<int:pk>/": PERSONAL_PAGE,
    "coordinate/bulletins/<int:pk>/progress/": PERSONAL_PAGE,
    # (a volunteer's empty body is refused as such before the role is looked at)
    "api/v1/bulletins": expect({405}, {403, 422}, anon_post={401}),
    "api/v1/bulletins/<bulletin_id>/approve": expect({405}, {403}, anon_post={401}),
    "api/v1/bulletins/<bulletin_id>/reject": expect({405}, {403}, anon_post={401}),
    "api/v1/bulletins/<bulletin_id>/withdraw": expect({405}, {403}, anon_post={401}),
    "api/v1/bulletins/<code>": expect({404}, {405}),
    # Any volunteer may vouch for a number; an empty POST is refused with a reason.
    "proxies/vouch/": expect({200}, {422}, anon_get={LOGIN}, anon_post={LOGIN}),
    "api/v1/proxies/vouch": expect({405}, {422}, anon_post={401}),
    # The shutdown's state is public: it names networks and regions, never a person.
    "api/v1/status": expect({200}, {405}),
    "status/": expect({200}, {405}),
    # Where state changes are posted (a Telegram channel): for coordinators.
    "coordinate/status/": PERSONAL_PAGE,
}
# A valid body, so that what answers is the permission check and not validation.
POST_BODIES = {
    "api/v1/requests": {},
    "api/v1/claims/<claim_id>/outcome": {"outcome": "reached", "reply": "hijacked"},
    "console/claims/<int:claim_id>/outcome/": {"outcome": "reached", "reply": "hijacked"},
    "console/retain/": {"case_id": "1", "until": "2099-01-01", "reason": "hijacked"},
}
STATUS_LINK_ROUTES = {"api/v1/requests/<token>", "s/<str:token>/"}
OWN_CLAIM_ROUTES = {"console/", "api/v1/claims"}


def client_for(persona: str, scene: dict) -> Client:
    if persona == "anon":
        return Client()
    name, _password, token = scene["accounts"][persona]
    client = Client(headers={"Authorization": f"Bearer {token}"})
    client.force_login(User.objects.get(username=name))
    return client


def ask(client: Client, method: str, route: str, path: str):
    if method == "GET":
        return client.get(path)
    body = POST_BODIES.get(route, {})
    if route.startswith("api/"):
        return client.post(path, json.dumps(body), content_type="application/json")
    return client.post(path, body)


def code_ok(response, allowed: set) -> bool:
    if response.status_code in allowed:
        return True
    if LOGIN in allowed and response.status_code == 302:
        return "/login/" in response["Location"]
    return False


def test_the_walk_knows_every_route():
    """Without a database: a route added to the URLconf must be added to EXPECTED too."""
    routes = list(all_routes())
    unknown = sorted(set(routes) - set(EXPECTED))
    gone = sorted(set(EXPECTED) - set(routes))
    assert not unknown, f"new URLs the need-to-know walk does not cover: {unknown}"
    assert not gone, f"EXPECTED names URLs that no longer exist: {gone}"


def test_no_url_shows_personal_data_to_anyone_without_need_to_know(scene):
    routes = list(all_routes())
    everything = scene["case_a"] + scene["case_b"] + scene["case_e"]
    failures, walked, requests = [], set(), 0
    for route in routes:
        path = fill(route, scene)
        for persona in ANY:
            for method in ("GET", "POST"):
                response = ask(client_for(persona, scene), method, route, path)
                requests += 1
                assert response.resolver_match is not None, (route, path)
                assert response.resolver_match.route == route, (route, path)
                walked.add(route)
                allowed_data = set()
                if route in STATUS_LINK_ROUTES:
                    allowed_data |= set(scene["status_visible"])
                if persona == "B" and route in OWN_CLAIM_ROUTES:
                    allowed_data |= set(scene["case_b"])
                forbidden = [c for c in everything if c not in allowed_data]
                exposed = bytes(response.content) + repr(sorted(response.items())).encode()
                found = hits_in(exposed, forbidden)
                where = f"{method} {path} as {persona}"
                if found:
                    failures.append(f"{where}: shows {found}")
                allowed_codes = EXPECTED[route][(method, persona)]
                if not code_ok(response, allowed_codes):
                    failures.append(
                        f"{where}: {response.status_code} {response.get('Location', '')}"
                        f" (expected {sorted(map(str, allowed_codes))})"
                    )
    not_walked = sorted(set(routes) - walked)
    print(
        f"\n[need-to-know] {len(walked)} URL patterns, {requests} requests, "
        f"{len(everything)} canaries, {len(failures)} failures"
    )
    assert not not_walked, f"URL patterns not exercised: {not_walked}"
    assert len(walked) == len(routes) == len(EXPECTED)
    assert not failures, "\n".join(failures)

    # Positive controls: the canaries are really there for those who may see them.
    holder = Client().get(f"/s/{scene['token']}/").content.decode()
    assert all(c in holder for c in scene["status_visible"])
    own = Api(scene["accounts"]["B"][2]).post("/claims")
    assert own.json()["claim_id"] == scene["claim_b"]["claim_id"], "B still holds B"
    assert "canary-ntk-msg-b1" in own.content.decode()

    # Nothing the walk posted changed anything: A still holds A, E still waits.
    volunteer_a = Api(scene["accounts"]["A"][2])
    assert volunteer_a.post(f"/claims/{scene['claim_a']['claim_id']}/renew").status_code == 200
    statuses = {
        tag: Api().get(f"/requests/{status_token(c)}").json()["status"]
        for tag, c in scene["created"].items()
    }
    assert statuses == {"e1": "escalated", "a1": "calling", "a2": "calling", "b1": "calling"}
    # The invitation is still open, and volunteer A was not suspended (the renew above).
    assert Client().get(fill("accounts/join/<str:token>/", scene)).status_code == 200
    open_list = scene["coordinator"].get("/accounts/invitations/").content.decode()
    assert f"/accounts/invitations/{scene['invitation_id']}/revoke/" in open_list


def test_every_response_with_personal_data_forbids_caching(scene):
    name, _password, token = scene["accounts"]["B"]
    volunteer = Client(headers={"Authorization": f"Bearer {token}"})
    volunteer.force_login(User.objects.get(username=name))
    responses = {
        "status page": Client().get(f"/s/{scene['token']}/"),
        "status API": Client().get(f"/api/v1/requests/{scene['token']}"),
        "console": volunteer.get("/console/"),
        "claim API": volunteer.post("/api/v1/claims"),
        "coordinator page": scene["coordinator"].get("/console/coordinator/"),
    }
    everything = scene["case_a"] + scene["case_b"] + scene["case_e"]
    cacheable = []
    for what, response in responses.items():
        assert response.status_code == 200, what
        assert hits_in(response.content, everything), f"{what} shows personal data"
        if "no-store" not in response.get("Cache-Control", ""):
            cacheable.append(f"{what}: Cache-Control={response.get('Cache-Control')!r}")
    assert not cacheable, cacheable
