"""The proxies on the web, in the API and in the worker (issue 18, items 4, 6 and 7).

A coordinator sees the pool in counts on /coordinate/proxies/, releases waves from the
reserve, flips the full-shutdown switch and vouches for numbers; any volunteer vouches on
/proxies/vouch/ or through POST /api/v1/proxies/vouch; the worker's sweep checks the
proxies' health, and one whose listener is gone is marked down and never handed out.
"""

import re
import socket
import threading
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from bailanys.proxies.services import Outcome, key_for_number, proxies_ask
from bailanys.relay.management.commands.worker import sweep
from tests.conftest import Api, Browser, free_port, html, login_coordinator, make_account, run_cli

# Documentation addresses (RFC 5737): never a real proxy.
SERVER = "198.51.100.7"
NUMBER = "8 705 111 22 33"
E164 = "+77051112233"
MASKED = "+7705•••••33"


def proxy_links(count: int, *, server: str = SERVER, port: int = 443, first: int = 0) -> list:
    """`count` distinct valid tg://proxy links (distinct secrets) to one server and port."""
    return [
        f"tg://proxy?server={server}&port={port}&secret={n:032x}"
        for n in range(first + 1, first + count + 1)
    ]


def import_links(tmp_path, links: list[str], pool: str = "public") -> str:
    path = tmp_path / f"{pool}-{len(list(tmp_path.iterdir()))}.txt"
    path.write_text("\n".join(links) + "\n")
    return run_cli("proxy", "import", str(path), "--pool", pool)


def text(response) -> str:
    return unescape(html(response))


def coordinator() -> Browser:
    name, password, _token = make_account("coordinator")
    boss = Browser()
    login_coordinator(boss, name, password)
    return boss


def volunteer() -> Browser:
    name, password, _token = make_account()
    person = Browser()
    person.login(name, password)
    return person


def pool_row(page: str, pool: str) -> list[int]:
    """The counts of one pool's row: stocked, active, suspect, blocked, retired, down, stock
    (not for the reserve)."""
    row = re.search(rf'<tr data-pool="{pool}">(.*?)</tr>', page, re.S)
    assert row, f"no row for the {pool} pool"
    return [int(n) for n in re.findall(r"<td[^>]*>(\d+)</td>", row.group(1))]


def listed(pool: str) -> list[int]:
    """`bailanys proxy list`: one pool's counts by state, then down."""
    out = run_cli("proxy", "list")
    line = next(line for line in out.splitlines() if line.startswith(pool + " "))
    return [int(n) for n in line.split()[1:]]


# --- The page ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_coordinator_page_counts_the_pool_and_warns_of_a_low_stock(tmp_path):
    import_links(tmp_path, proxy_links(4))
    import_links(tmp_path, proxy_links(2, first=10), "trusted")
    import_links(tmp_path, proxy_links(5, first=20), "reserved")
    boss = coordinator()
    response = boss.get("/coordinate/proxies/")
    assert response.status_code == 200
    page = text(response)
    # stocked, active, suspect, blocked, retired, down, in stock
    assert pool_row(page, "public") == [4, 0, 0, 0, 0, 0, 4]
    assert pool_row(page, "trusted") == [2, 0, 0, 0, 0, 0, 2]
    assert pool_row(page, "reserved") == [5, 0, 0, 0, 0, 0]  # its stock is what is kept back
    assert "5 reserved proxies are kept back." in page
    # Two trusted proxies are less than one bucket of three; four public ones are not.
    assert "The Trusted pool has 2 proxies in stock" in page
    assert "The Public pool has" not in page
    assert SERVER not in page and "secret" not in page.lower()
    # Linked from the coordinator's navigation.
    assert 'href="/coordinate/proxies/"' in text(boss.get("/console/coordinator/"))


@pytest.mark.django_db
def test_the_page_counts_hand_outs_by_day(tmp_path):
    import_links(tmp_path, proxy_links(3))
    for n in range(3):
        assert proxies_ask(key_for_number(f"+7701234560{n}"), channel="sms").outcome == "links"
    page = text(coordinator().get("/coordinate/proxies/"))
    assert pool_row(page, "public")[:2] == [0, 3]
    assert re.search(r'<dd id="requesters">3</dd>', page)
    assert re.search(r'<dd id="buckets">1</dd>', page)
    today = timezone.localdate().strftime("%d.%m")
    row = re.search(rf'<tr><th scope="row">{today}</th><td>(\d+)</td>', page)
    assert row and row.group(1) == "3", "today's hand-outs"
    assert page.count('<tr><th scope="row">') == 7


@pytest.mark.django_db
def test_a_volunteer_is_not_shown_the_coordinator_page_and_a_stranger_must_log_in():
    person = volunteer()
    assert person.get("/coordinate/proxies/").status_code == 404
    assert person.post("/coordinate/proxies/", {"action": "shutdown-on"}).status_code == 404
    assert 'href="/coordinate/proxies/"' not in text(person.get("/console/"))
    stranger = Browser().get("/coordinate/proxies/")
    assert stranger.status_code == 302 and "/accounts/login/" in stranger["Location"]
    assert listed("public")  # nothing changed: the list still answers
    assert "full shutdown: off" in run_cli("proxy", "list")


# --- Waves and the switch -------------------------------------------------------------


@pytest.mark.django_db
def test_a_wave_moves_reserved_proxies_to_the_public_pool(tmp_path):
    import_links(tmp_path, proxy_links(5), "reserved")
    boss = coordinator()
    boss.get("/coordinate/proxies/")
    response = boss.post(
        "/coordinate/proxies/", {"action": "release", "count": "3", "to": "public"}, follow=True
    )
    page = text(response)
    assert "3 reserved proxies released to the Public pool." in page
    assert listed("public")[0] == 3 and listed("reserved")[0] == 2
    assert pool_row(page, "public")[-1] == 3
    assert "2 reserved proxies are kept back." in page
    assert "fewer than one bucket" not in page, "an unused trusted pool is no worry"
    assert "proxy.release (3 to public)" in text(boss.get("/console/audit/"))
    response = boss.post(
        "/coordinate/proxies/", {"action": "release", "count": "1", "to": "trusted"}, follow=True
    )
    assert "1 reserved proxy released to the Trusted pool." in text(response)
    assert listed("trusted")[0] == 1 and listed("reserved")[0] == 1
    # Released: handed out now.
    assert proxies_ask(key_for_number(E164), channel="sms").outcome == "links"


@pytest.mark.django_db
def test_a_bad_wave_is_refused_next_to_its_field_and_an_empty_reserve_is_said(tmp_path):
    boss = coordinator()
    page = text(boss.get("/coordinate/proxies/"))
    assert "The Public pool has 0 proxies in stock, fewer than one bucket (3)" in page
    assert "The Trusted pool has" not in page
    response = boss.post("/coordinate/proxies/", {"action": "release", "count": "0"})
    assert response.status_code == 422
    field = re.search(r'<div class="field invalid">(.*?)</div>', html(response), re.S)
    assert field and 'name="count"' in field.group(1) and 'class="error"' in field.group(1)
    response = boss.post(
        "/coordinate/proxies/", {"action": "release", "count": "2", "to": "trusted"}, follow=True
    )
    assert "The reserve is empty: nothing was released." in text(response)


@pytest.mark.django_db
def test_the_full_shutdown_switch_keeps_the_stock_and_comes_back(tmp_path):
    import_links(tmp_path, proxy_links(3))
    boss = coordinator()
    page = text(boss.get("/coordinate/proxies/"))
    assert "proxies cannot help" in page and "the stock is kept" in page
    assert "Full shutdown is off" in page
    page = text(boss.post("/coordinate/proxies/", {"action": "shutdown-on"}, follow=True))
    assert "Full shutdown is on" in page
    assert "full shutdown: on" in run_cli("proxy", "list")
    assert proxies_ask(key_for_number(E164), channel="sms").outcome == Outcome.SHUTDOWN
    assert listed("public")[0] == 3, "the stock is kept"
    page = text(boss.post("/coordinate/proxies/", {"action": "shutdown-off"}, follow=True))
    assert "Full shutdown is off" in page
    assert proxies_ask(key_for_number("+77012345699"), channel="sms").outcome == "links"
    audit = text(boss.get("/console/audit/"))
    assert "proxy.shutdown" in audit and "proxy.resume" in audit


@pytest.mark.django_db
def test_an_unknown_action_is_refused():
    boss = coordinator()
    boss.get("/coordinate/proxies/")
    assert boss.post("/coordinate/proxies/", {"action": "wipe"}).status_code == 400
    assert "full shutdown: off" in run_cli("proxy", "list")


# --- Vouching -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_coordinator_vouches_and_the_number_gets_the_trusted_pool(tmp_path):
    import_links(tmp_path, proxy_links(3))
    import_links(tmp_path, proxy_links(3, server="203.0.113.9", first=10), "trusted")
    boss = coordinator()
    boss.get("/coordinate/proxies/")
    response = boss.post("/coordinate/proxies/", {"action": "vouch", "phone": NUMBER}, follow=True)
    page = text(response)
    assert f"Vouched for {MASKED}: it gets proxies from the trusted pool." in page
    assert E164 not in page and "111 22 33" not in page
    assert re.search(r'<dd id="vouched">1</dd>', page)
    again = text(boss.post("/coordinate/proxies/", {"action": "vouch", "phone": E164}, follow=True))
    assert f"{MASKED} was already vouched for." in again
    answer = proxies_ask(key_for_number(E164), channel="sms")
    assert answer.outcome == "links" and {link.server for link in answer.links} == {"203.0.113.9"}
    stranger = proxies_ask(key_for_number("+77012345699"), channel="sms")
    assert {link.server for link in stranger.links} == {SERVER}
    assert text(boss.get("/console/audit/")).count("proxy.vouch") == 1


@pytest.mark.django_db
def test_a_bad_number_is_refused_next_to_the_field():
    boss = coordinator()
    boss.get("/coordinate/proxies/")
    response = boss.post("/coordinate/proxies/", {"action": "vouch", "phone": "12"})
    assert response.status_code == 422
    field = re.search(r'<div class="field invalid">(.*?)</div>', text(response), re.S)
    assert field and 'name="phone"' in field.group(1)
    assert "This is not a phone number." in field.group(1) or "No phone number" in field.group(1)
    assert "proxy.vouch" not in text(boss.get("/console/audit/"))


@pytest.mark.django_db
def test_any_volunteer_vouches_on_a_page_linked_from_the_console():
    person = volunteer()
    assert 'href="/proxies/vouch/"' in text(person.get("/console/"))
    assert person.get("/proxies/vouch/").status_code == 200
    response = person.post("/proxies/vouch/", {"phone": NUMBER}, follow=True)
    assert response.redirect_chain[-1][0] == "/proxies/vouch/"
    assert f"Vouched for {MASKED}" in text(response) and E164 not in text(response)
    bad = person.post("/proxies/vouch/", {"phone": "+7 000"})
    assert bad.status_code == 422 and 'class="field invalid"' in html(bad)
    assert Browser().get("/proxies/vouch/").status_code == 302
    page = text(coordinator().get("/coordinate/proxies/"))
    assert re.search(r'<dd id="vouched">1</dd>', page)


@pytest.mark.django_db
def test_the_api_vouches_for_a_volunteer():
    _name, _password, token = make_account()
    api = Api(token)
    response = api.post("/proxies/vouch", {"phone": NUMBER})
    assert response.status_code == 200, response.content
    assert response.json() == {"vouched": True, "phone": MASKED}
    assert api.post("/proxies/vouch", {"phone": E164}).json() == {
        "vouched": False,
        "phone": MASKED,
    }
    bad = api.post("/proxies/vouch", {"phone": "12"})
    assert bad.status_code == 422
    assert re.match(r"(This is not a phone number|No phone number)", bad.json()["errors"]["phone"])
    assert Api().post("/proxies/vouch", {"phone": NUMBER}).status_code == 401
    assert Api("not-a-token").post("/proxies/vouch", {"phone": NUMBER}).status_code == 401
    boss = coordinator()
    assert text(boss.get("/console/audit/")).count("proxy.vouch") == 1
    assert re.search(r'<dd id="vouched">1</dd>', text(boss.get("/coordinate/proxies/")))


@pytest.mark.django_db
def test_one_account_vouches_for_a_limited_number_of_numbers(settings):
    """Vouching shows the trusted pool: an account past the limit is refused, on the page and
    in the API, and the refused number is not vouched for."""
    cache.clear()  # with REDIS_URL, counters outlive other tests' databases
    settings.BAILANYS_PROXY_VOUCH_LIMIT = "2/86400"
    person = volunteer()
    for number in ("+77051112201", "+77051112202"):
        assert person.post("/proxies/vouch/", {"phone": number}).status_code == 302
    refused = person.post("/proxies/vouch/", {"phone": "+77051112203"})
    assert refused.status_code == 422
    assert "You have vouched for many numbers today." in text(refused)
    # The same number again is no new vouch: it is answered, not counted.
    again = person.post("/proxies/vouch/", {"phone": "+77051112201"}, follow=True)
    assert "was already vouched for" in text(again)
    _name, _password, token = make_account()
    api = Api(token)
    assert api.post("/proxies/vouch", {"phone": "+77051112204"}).status_code == 200
    assert api.post("/proxies/vouch", {"phone": "+77051112205"}).status_code == 200
    assert api.post("/proxies/vouch", {"phone": "+77051112206"}).status_code == 429
    page = text(coordinator().get("/coordinate/proxies/"))
    assert re.search(r'<dd id="vouched">4</dd>', page)


# --- Health ---------------------------------------------------------------------------


class Listener:
    """A local TCP server that accepts and hangs up, counting the connections."""

    def __init__(self, port: int = 0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _address = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()
            self.accepted += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.mark.django_db(transaction=True)
def test_a_proxy_whose_listener_is_gone_is_marked_down_and_never_handed_out(tmp_path, settings):
    listener = Listener()
    closed = free_port()
    import_links(tmp_path, proxy_links(2, server="127.0.0.1", port=listener.port))
    import_links(tmp_path, proxy_links(1, server="127.0.0.1", port=closed, first=10))
    boss = coordinator()
    every = timedelta(seconds=settings.BAILANYS_PROXY_CHECK_SECONDS + 1)
    start = timezone.now() + timedelta(minutes=1)

    def sweeps(at):
        with time_machine.travel(at, tick=False):
            sweep(purge=False)

    for n in range(3):
        before = listener.accepted
        sweeps(start + n * every)
        assert listener.accepted == before + 2, "each round connects to each open proxy"
        down = pool_row(text(boss.get("/coordinate/proxies/")), "public")[5]
        assert down == (1 if n == 2 else 0), f"after {n + 1} checks"
    # Not due again yet: the next sweep touches no proxy.
    before = listener.accepted
    sweeps(start + 2 * every + timedelta(seconds=1))
    assert listener.accepted == before
    assert listed("public") == [3, 0, 0, 0, 0, 1]

    with time_machine.travel(start + 2 * every + timedelta(seconds=2), tick=False):
        for n in range(4):
            answer = proxies_ask(key_for_number(f"+7701234567{n}"), channel="sms")
            assert answer.outcome == "links"
            assert sorted(link.port for link in answer.links) == [listener.port] * 2
    assert listed("public") == [1, 2, 0, 0, 0, 1], "the closed one stays in stock, down"

    listener.close()
    for n in range(3, 6):
        sweeps(start + n * every)
    assert pool_row(text(boss.get("/coordinate/proxies/")), "public")[5] == 3
    with time_machine.travel(start + 5 * every + timedelta(seconds=2), tick=False):
        newcomer = proxies_ask(key_for_number("+77012345680"), channel="sms")
    assert newcomer.outcome == Outcome.NONE_LEFT

    listener = Listener(listener.port)
    try:
        sweeps(start + 6 * every)
        assert listener.accepted == 2
        assert pool_row(text(boss.get("/coordinate/proxies/")), "public")[5] == 1
        with time_machine.travel(start + 6 * every + timedelta(seconds=2), tick=False):
            back = proxies_ask(key_for_number("+77012345681"), channel="sms")
        assert back.outcome == "links"
        assert sorted(link.port for link in back.links) == [listener.port] * 2
    finally:
        listener.close()
