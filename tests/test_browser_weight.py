"""Cold page weight on the wire (issue 21): what a phone on 2G downloads for a first visit.

Each page is loaded in a fresh browser context (an empty cache) and every response's
headers and body are summed as Chromium received them, compressed where they were. The
weights go to BAILANYS_ARTEFACTS/page-weights.json.
"""

import json

import pytest

from bailanys.relay.models import Request
from tests.conftest import Api, make_account, status_token, submit
from tests.test_browser import (  # noqa: F401  (chromium: a fixture)
    PHONE,
    STEP,
    Phone,
    artefacts_dir,
    chromium,
    expect,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIMIT = 50 * 1024  # bytes on the wire, the goal for the pages people meet first


def cold_weight(browser, live_server, path: str, storage_state=None) -> tuple[int, dict]:
    """Bytes received for one cold load of `path`, and the part each URL took."""
    context = browser.new_context(**PHONE, base_url=live_server.url, storage_state=storage_state)
    context.set_default_timeout(STEP)
    parts: dict[str, int] = {}

    def finished(request):
        sizes = request.sizes()
        received = sizes["responseHeadersSize"] + sizes["responseBodySize"]
        parts[request.url] = parts.get(request.url, 0) + received

    context.on("requestfinished", finished)
    try:
        page = context.new_page()
        response = page.goto(path, wait_until="networkidle")
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        expect(page.locator("main")).to_be_visible()
    finally:
        context.close()
    return sum(parts.values()), parts


def test_the_pages_people_meet_first_weigh_under_50_kb_cold(chromium, live_server):  # noqa: F811
    name, password, _ = make_account()
    token = status_token(submit(Api()))
    assert Request.objects.count() == 1
    volunteer = Phone(chromium, live_server)
    volunteer.log_in(name, password)
    volunteer.page.locator('form[action$="/console/take/"] button').tap()
    expect(volunteer.page.locator("article.case")).to_be_visible()
    logged_in = volunteer.context.storage_state()

    pages = {
        "request form": ("/", None),
        "volunteers' login": ("/accounts/login/", None),
        "public status": ("/status/", None),
        "console with a case": ("/console/", logged_in),
        "requester's status page": (f"/s/{token}/", None),
    }
    weights = {}
    for label, (path, state) in pages.items():
        total, parts = cold_weight(chromium, live_server, path, state)
        weights[label] = {"path": path, "bytes": total, "parts": parts}
    (artefacts_dir() / "page-weights.json").write_text(json.dumps(weights, indent=1))
    heavy = {k: v["bytes"] for k, v in weights.items() if v["bytes"] > LIMIT}
    assert not heavy, f"over {LIMIT} bytes cold: {heavy}; {json.dumps(weights, indent=1)}"
