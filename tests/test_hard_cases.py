"""Hard cases go only to volunteers who take them: experienced, and not opted out;
and the care around them: a choice after several in a row, "I need to talk"."""

import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import Api, Browser, make_account, make_volunteer, request_body

pytestmark = pytest.mark.django_db


def submit(phone: str, **overrides) -> dict:
    response = Api().post("/requests", request_body(phone=phone, **overrides))
    assert response.status_code == 201, response.content
    return response.json()


HARD = [
    {"kind": "medical", "message": "Папе нужен инсулин"},
    {"kind": "deliver_message", "message": "Скажите, что брат задержан полицией"},
    {"kind": "deliver_message", "message": "Tell her that grandma died last night"},
    {
        "kind": "welfare_check",
        "message": "",
        "recipient": {"name": "Айгерім, бала 6 жаста", "phone": "8 701 000 00 01"},
    },
    {"kind": "deliver_message", "message": "Ұлы хабарсыз кетті, іздеп жатырмыз"},
]


@pytest.mark.parametrize("body", HARD, ids=["medical", "detained", "died", "child", "missing"])
def test_a_hard_case_goes_to_an_experienced_volunteer_only(body):
    submit("8 701 000 00 01", **body)
    assert Api(make_volunteer()[1]).post("/claims").status_code == 204
    claim = Api(make_volunteer("experienced")[1]).post("/claims")
    assert claim.status_code == 200


def test_an_ordinary_case_goes_to_anyone():
    submit("8 701 000 00 02", kind="deliver_message", message="Всё хорошо, скоро позвоню")
    assert Api(make_volunteer()[1]).post("/claims").status_code == 200


def test_an_experienced_volunteer_may_opt_out_and_back_in():
    submit("8 701 000 00 03", kind="medical", message="Нужны лекарства")
    username, password, token = make_account("experienced")
    browser = Browser()
    browser.login(username, password)
    assert "No hard cases for now" in browser.get("/console/").content.decode()
    browser.post("/console/hard-cases/", {"take": "no"})
    assert Api(token).post("/claims").status_code == 204
    assert "Take hard cases again" in browser.get("/console/").content.decode()
    browser.post("/console/hard-cases/", {"take": "yes"})
    assert Api(token).post("/claims").status_code == 200


def test_a_volunteer_marks_a_case_hard_and_it_leaves_the_general_queue():
    submit("8 701 000 00 04", kind="welfare_check", message="")
    first = Api(make_volunteer()[1])
    claim = first.post("/claims").json()
    done = first.post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": "no_answer", "hard": True}
    )
    assert done.status_code == 200
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() + timezone.timedelta(hours=1)):
        assert Api(make_volunteer()[1]).post("/claims").status_code == 204
        assert Api(make_volunteer("experienced")[1]).post("/claims").status_code == 200


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hard=st.lists(st.booleans(), min_size=1, max_size=6),
    roles=st.lists(st.sampled_from(["", "experienced", "optout"]), min_size=1, max_size=6),
)
def test_no_volunteer_without_the_role_ever_holds_a_hard_case(hard, roles):
    from bailanys.relay.models import Case, Claim

    Claim.objects.all().delete()
    Case.objects.all().delete()
    for n, is_hard in enumerate(hard):
        body = {"kind": "medical", "message": "Нужен врач"} if is_hard else {}
        submit(f"8 701 100 00 {n:02d}", **body)
    for role in roles:
        username, password, token = make_account("experienced" if role else "")
        if role == "optout":
            browser = Browser()
            browser.login(username, password)
            browser.post("/console/hard-cases/", {"take": "no"})
        response = Api(token).post("/claims")
        if response.status_code == 200:
            case = Case.objects.get(pk=response.json()["case_id"])
            assert not case.hard or role == "experienced"


def _work_hard_cases(token: str, n: int) -> None:
    api = Api(token)
    for _ in range(n):
        claim = api.post("/claims").json()
        assert claim["claim_id"]
        api.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached"})


def test_after_three_hard_calls_the_console_offers_a_lighter_case_or_a_break():
    for n in range(4):
        submit(f"8 701 200 00 {n:02d}", kind="medical", message="Нужен врач")
    submit("8 701 200 00 99", kind="welfare_check", message="")
    username, password, token = make_account("experienced")
    _work_hard_cases(token, 3)
    browser = Browser()
    browser.login(username, password)
    offered = browser.post("/console/take/")
    assert offered.status_code == 302 and "care=1" in offered["Location"]
    page = browser.get(offered["Location"]).content.decode()
    assert "3 hard cases in a row" in page
    assert "A lighter case" in page and "A break" in page
    browser.post("/console/take/", {"mode": "light"})
    console = browser.get("/console/").content.decode()
    assert "+7 701 200 0099" in console  # the welfare check, not the fourth medical case


def test_going_on_is_the_volunteers_choice():
    for n in range(4):
        submit(f"8 701 300 00 {n:02d}", kind="medical", message="Нужен врач")
    username, password, token = make_account("experienced")
    _work_hard_cases(token, 3)
    browser = Browser()
    browser.login(username, password)
    browser.post("/console/take/", {"mode": "any"})
    assert "+7 701 300 0003" in browser.get("/console/").content.decode()


def test_i_need_to_talk_reaches_coordinators_and_takes_the_volunteer_out_of_dispatch():
    from tests.conftest import login_coordinator

    submit("8 701 400 00 01", kind="welfare_check", message="")
    username, password, token = make_account()
    volunteer = Browser()
    volunteer.login(username, password)
    volunteer.post("/console/take/")
    assert "+7 701 400 0001" in volunteer.get("/console/").content.decode()
    volunteer.post("/console/need-to-talk/")
    # the case they hold stays theirs to finish; after it, nothing new comes
    api = Api(token)
    claim = api.post("/claims").json()
    assert claim["recipient_phone"] == "+77014000001"
    api.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached"})
    submit("8 701 400 00 02", kind="welfare_check", message="")
    assert api.post("/claims").status_code == 409
    page = volunteer.get("/console/").content.decode()
    assert "A coordinator will talk with you" in page

    coordinator = Browser()
    name, password, _token = make_account("coordinator")
    login_coordinator(coordinator, name, password)
    overview = coordinator.get("/console/coordinator/").content.decode()
    assert "Volunteers who asked to talk" in overview and username in overview
    user_id = re.search(r"/console/volunteers/(\d+)/talked/", overview).group(1)
    coordinator.post(f"/console/volunteers/{user_id}/talked/")
    assert (
        "Volunteers who asked to talk"
        not in coordinator.get("/console/coordinator/").content.decode()
    )
    assert Api(token).post("/claims").status_code == 200  # back in dispatch
