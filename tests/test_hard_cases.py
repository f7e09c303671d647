"""Hard cases go only to volunteers who take them: experienced, and not opted out."""

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
