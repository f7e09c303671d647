"""The statistics export: counts per day, region, kind and outcome, no personal data."""

import csv
import io

import pytest
from django.utils import timezone

from tests.conftest import (
    Api,
    Browser,
    login_coordinator,
    make_account,
    make_volunteer,
    request_body,
)

pytestmark = pytest.mark.django_db


def submit(phone: str, city: str, **overrides) -> dict:
    body = request_body(phone=phone, **overrides)
    body["recipient"]["city"] = city
    body["recipient"]["name"] = "Zyxstatsname"
    response = Api().post("/requests", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_coordinators_download_counts_with_no_personal_data():
    submit("8 701 000 00 11", "Алматы", kind="welfare_check", message="")
    submit("8 701 000 00 12", "Алматыда", kind="welfare_check", message="")  # the same city
    submit("8 701 000 00 13", "Шымкент", message="Zyxstats-secret-message")
    submit("8 701 000 00 14", "Zyxstats village", kind="welfare_check", message="")
    volunteer = Api(make_volunteer()[1])
    claim = volunteer.post("/claims").json()
    volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached"})

    username, password, _token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, username, password)
    response = browser.get("/console/stats.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    today = timezone.localdate().isoformat()
    got = {(r["region"], r["kind"], r["outcome"]): int(r["cases"]) for r in rows}
    assert all(r["day"] == today for r in rows)
    assert sum(got.values()) == 4
    assert (
        got[("Алматы", "welfare_check", "queued")]
        + got.get(("Алматы", "welfare_check", "reached"), 0)
        == 2
    )
    assert ("other", "welfare_check", "queued") in got  # free text never reaches a report
    for secret in ("Zyxstats", "Zyxstatsname", "701", "Marat"):
        assert secret not in text

    volunteer_browser = Browser()
    name, password, _token = make_account()
    volunteer_browser.login(name, password)
    assert volunteer_browser.get("/console/stats.csv").status_code == 404
