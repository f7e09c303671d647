"""Every 422 names the bad input the same way (issue 21, item 9).

The schema's refusals said ["body", "payload", "recipient"] (ninja's name for the body
parameter) and the service's ["body", "recipient", "phone"]: a client had to know which
check had spoken. Now a location is always [source, field, ...].
"""

import json

import pytest

from tests.conftest import request_body, submit


def problems(response) -> dict[tuple, str]:
    assert response.status_code == 422, response.content
    body = response.json()
    found = {tuple(item["loc"]): item["msg"] for item in body["detail"]}
    # `errors` is the same list keyed by the dotted field, without the source.
    assert body["errors"] == {".".join(map(str, loc[1:])): msg for loc, msg in found.items()}
    return found


def test_a_missing_phone_and_an_unreadable_phone_are_named_alike(anon):
    without = request_body()
    del without["recipient"]["phone"]  # refused by the schema
    missing = problems(anon.post("/requests", without))
    wrong = problems(anon.post("/requests", request_body(phone="12")))  # by the service
    assert list(missing) == [("body", "recipient", "phone")]
    assert list(wrong) == [("body", "recipient", "phone")]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, {("body", "requester"), ("body", "recipient")}),
        (request_body(message=5), {("body", "message")}),
        (request_body(message="x" * 2001), {("body", "message")}),
        (request_body(kind="sing"), {("body", "kind")}),
        (request_body(recipient={"name": "Gulnara"}), {("body", "recipient", "phone")}),
        (request_body(requester={"name": ""}), {("body", "requester", "name")}),
    ],
)
def test_no_location_names_the_body_parameter(anon, body, where):
    found = problems(anon.post("/requests", body))
    assert set(found) == where
    assert not any("payload" in loc for loc in found)


def test_a_bad_header_is_a_header_whichever_check_refuses_it(anon):
    def post(key: str):
        return anon.client.post(
            "/api/v1/requests",
            json.dumps(request_body()),
            content_type="application/json",
            headers={"Idempotency-Key": key},
        )

    assert list(problems(post("has spaces"))) == [("header", "Idempotency-Key")]  # ours
    assert list(problems(post("k" * 201))) == [("header", "Idempotency-Key")]  # the schema's


def test_a_volunteers_outcome_errors_have_the_same_shape(anon, volunteer):
    submit(anon)
    claim = volunteer.post("/claims").json()
    path = f"/claims/{claim['claim_id']}/outcome"
    assert list(problems(volunteer.post(path, {"outcome": "sang"}))) == [("body", "outcome")]
    too_long = problems(volunteer.post(path, {"outcome": "reached", "note": "n" * 1001}))
    assert list(too_long) == [("body", "note")]
