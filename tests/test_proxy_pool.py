"""The proxy pool through `bailanys proxy` (issue 18, item 1).

Links go in as coordinators paste them (every form Telegram writes, upper case, other
parameter orders, IPv6 in brackets), through `proxy add` and `proxy import`, in this
process (call_command) and through the real command line (exit codes). The pool is read
back through `proxy list` and through what a requester is handed (proxies_ask). Broken
links are refused with a reason that never repeats the secret; hypothesis builds both.
"""

import hashlib
import io
import ipaddress
import subprocess
import sys
from datetime import UTC, timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bailanys.proxies.services import (
    Outcome,
    key_for_number,
    key_for_telegram,
    proxies_ask,
    proxy_find,
)
from tests.conftest import bailanys_executable
from tests.helpers import child_env, migrated_sqlite

pytestmark = pytest.mark.django_db

STATES = ("stocked", "active", "suspect", "blocked", "retired")
POOLS = ("public", "trusted", "reserved")


def secret(n: int | str) -> str:
    """A distinct 32-hex-character MTProto secret for `n`."""
    return hashlib.md5(f"secret {n}".encode()).hexdigest()  # noqa: S324 (test data)


def mtproto(n: int, server: str = "", port: int = 443) -> str:
    return f"tg://proxy?server={server or f'p{n}.proxy.example'}&port={port}&secret={secret(n)}"


def proxy(*args: str) -> tuple[str, str]:
    """`bailanys proxy ARGS` in this process: (stdout, stderr); CommandError on failure."""
    out, err = io.StringIO(), io.StringIO()
    call_command("proxy", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> str:
    """`bailanys proxy ARGS` fails: its error message (stderr lines first)."""
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("proxy", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue() + str(failed.value)


def counts() -> dict:
    """`proxy list` read back: {pool: {state: n, "down": n}} and the summary line."""
    lines = proxy("list")[0].splitlines()
    assert lines[0].split() == ["pool", *STATES, "down"]
    table = {}
    for line in lines[1:4]:
        pool, *numbers = line.split()
        table[pool] = dict(zip([*STATES, "down"], map(int, numbers), strict=True))
    assert list(table) == list(POOLS)
    table["summary"] = lines[4]
    return table


def total() -> int:
    table = counts()
    return sum(table[pool][state] for pool in POOLS for state in STATES)


def canonical(server: str, port: int, secret_hex: str) -> str:
    return f"tg://proxy?server={quote(server, safe='')}&port={port}&secret={secret_hex}"


def stored(link: str) -> str:
    """The link the pool hands out for `link` (its canonical form)."""
    found = proxy_find(link)
    assert found is not None, "the link is in the pool"
    return found.link


# --- Every form a link comes in -------------------------------------------------

S1, S2, S3, S4 = secret(1), secret(2), secret(3), secret(4)
TLS_DOMAIN = b"www.google.com".hex()
FORMS = [
    # (what is pasted, what the pool keeps)
    (
        f"tg://proxy?server=one.proxy.example&port=443&secret={S1}",
        f"tg://proxy?server=one.proxy.example&port=443&secret={S1}",
    ),
    (
        f"https://t.me/proxy?server=Two.Proxy.Example&port=8443&secret=DD{S2.upper()}",
        f"tg://proxy?server=two.proxy.example&port=8443&secret=dd{S2}",
    ),
    (
        f"https://telegram.me/proxy?secret=ee{S3}{TLS_DOMAIN}&port=443&server=198.51.100.7",
        f"tg://proxy?server=198.51.100.7&port=443&secret=ee{S3}{TLS_DOMAIN}",
    ),
    (
        f"tg://proxy?server=[2001:DB8:0:0::7]&port=993&secret={S4}",
        f"tg://proxy?server=2001%3Adb8%3A%3A7&port=993&secret={S4}",
    ),
    (
        "tg://socks?server=socks.proxy.example&port=1080",
        "tg://socks?server=socks.proxy.example&port=1080",
    ),
    (
        "tg://socks?server=203.0.113.9&port=1081&user=alice&pass=p%40ss%26w0rd",
        "tg://socks?server=203.0.113.9&port=1081&user=alice&pass=p%40ss%26w0rd",
    ),
    (
        "https://t.me/socks?server=socks2.proxy.example&port=1082&user=bob",
        "tg://socks?server=socks2.proxy.example&port=1082&user=bob",
    ),
]
# The same proxies written another way: each is "already there".
SAME = [
    f"TG://PROXY?server=ONE.proxy.example.&port=443&secret={S1.upper()}",
    f"https://t.me/proxy?port=443&secret={S1}&server=one.proxy.example",
    f"http://www.t.me/proxy/?server=one.proxy.example&port=0443&secret={S1}",
    f"tg://proxy?server=two.proxy.example&port=8443&secret=dd{S2}",
    f"tg://proxy?server=2001:db8::7&port=993&secret={S4}",
    "https://t.me/socks?server=socks.proxy.example&port=1080",
    # Another password for the same user at the same address is the same proxy.
    "tg://socks?server=203.0.113.9&port=1081&user=alice&pass=other",
]


@pytest.mark.parametrize(("pasted", "kept"), FORMS, ids=lambda v: v[:22])
def test_each_link_form_is_added_and_kept_in_its_canonical_form(pasted, kept):
    out, err = proxy("add", pasted)
    assert out.strip() == "added 1, already there 0"
    assert err == ""
    assert stored(pasted) == kept
    assert stored(kept) == kept, "the canonical form names the same proxy"
    assert counts()["public"]["stocked"] == 1


def test_the_same_link_in_another_case_or_form_is_already_there():
    for pasted, _kept in FORMS:
        proxy("add", pasted)
    for same in SAME:
        out, _err = proxy("add", same)
        assert out.strip() == "added 0, already there 1", same
    out, _err = proxy("add", FORMS[0][0])
    assert out.strip() == "added 0, already there 1", "the very same link twice"
    assert counts()["public"]["stocked"] == len(FORMS)


def test_a_file_with_a_link_twice_adds_it_once(tmp_path):
    path = tmp_path / "twice.txt"
    path.write_text(f"{mtproto(1)}\n{mtproto(1).replace('tg://', 'TG://')}\n{mtproto(2)}\n")
    out, _err = proxy("import", str(path))
    assert out.strip() == "added 2, already there 1"


@pytest.mark.parametrize("pool", POOLS)
def test_pool_option_puts_the_links_in_that_pool(pool, tmp_path):
    proxy("add", mtproto(1), "--pool", pool)
    path = tmp_path / "links.txt"
    path.write_text(f"{mtproto(2)}\n{mtproto(3)}\n")
    proxy("import", str(path), "--pool", pool)
    table = counts()
    assert table[pool]["stocked"] == 3
    assert sum(table[other]["stocked"] for other in POOLS if other != pool) == 0


def test_a_link_already_in_one_pool_stays_there_when_added_to_another():
    proxy("add", mtproto(1), "--pool", "reserved")
    out, _err = proxy("add", mtproto(1), "--pool", "trusted")
    assert out.strip() == "added 0, already there 1"
    table = counts()
    assert (table["reserved"]["stocked"], table["trusted"]["stocked"]) == (1, 0)


def test_an_unknown_pool_is_refused():
    assert "invalid choice: 'secret'" in refused("add", mtproto(1), "--pool", "secret")
    assert total() == 0


def test_a_bad_link_given_to_add_says_why_and_adds_nothing():
    message = refused("add", mtproto(1, port=70000))
    assert "not a proxy link: the port is not between 1 and 65535" in message
    assert secret(1) not in message
    assert total() == 0


# --- import ---------------------------------------------------------------------

GOOD_AND_BAD = "\n".join(
    [
        "# proxies from Aidos, 7 March",  # 1: a comment
        mtproto(1),  # 2
        "",  # 3: blank
        "   ",  # 4: blank
        mtproto(2, port=0),  # 5: bad port
        f"tg://proxy?server=p3.proxy.example&port=443&secret={secret(3)[:31]}",  # 6: 31 hex
        "  " + mtproto(4) + "  ",  # 7: good, spaces around
        "tg://socks?server=s.proxy.example&port=1080&pass=hunter2",  # 8: a password, no user
        "https://example.org/proxy?server=a.example&port=1&secret=" + secret(5),  # 9: not t.me
        mtproto(1),  # 10: the same as line 2
        "    # an indented comment",  # 11
        "https://t.me/socks?server=s.proxy.example&port=1080&user=u&pass=hunter2",  # 12
    ]
)


def test_import_adds_every_good_line_and_names_each_bad_one(tmp_path):
    path = tmp_path / "proxies.txt"
    path.write_text(GOOD_AND_BAD)
    err = io.StringIO()
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("proxy", "import", str(path), stdout=out, stderr=err)
    assert out.getvalue().strip() == "added 3, already there 1"
    assert err.getvalue().splitlines() == [
        "line 5: the port is not between 1 and 65535",
        "line 6: the secret is not 32 hex characters, dd and 32, or ee, 32 and a domain in hex",
        "line 8: the SOCKS link has a password but no user",
        "line 9: only t.me links are taken (https://t.me/proxy?…)",
    ]
    assert str(failed.value) == "4 line(s) refused; the others were added"
    assert counts()["public"]["stocked"] == 3
    for number in (2, 3, 5):
        assert secret(number) not in err.getvalue() + str(failed.value)
    assert "hunter2" not in err.getvalue()


def test_import_reads_a_windows_file_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "notepad.txt"
    path.write_bytes(("\ufeff" + mtproto(1) + "\r\n" + mtproto(2) + "\r\n").encode())
    out, err = proxy("import", str(path))
    assert (out.strip(), err) == ("added 2, already there 0", "")


def test_an_empty_file_adds_nothing_and_is_no_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("# nothing yet\n\n")
    assert proxy("import", str(path))[0].strip() == "added 0, already there 0"


def test_a_file_that_is_not_utf8_is_refused_whole(tmp_path):
    path = tmp_path / "cp1251.txt"
    path.write_bytes(mtproto(1).encode() + "\n# прокси от Айдоса\n".encode("cp1251"))
    message = refused("import", str(path))
    assert f"{path} is not UTF-8 text (byte {len(mtproto(1)) + 3})" in message
    assert total() == 0, "nothing of a file that is not text is added"


def test_a_file_too_large_is_refused_whole(tmp_path):
    path = tmp_path / "huge.txt"
    line = (mtproto(1) + "\n").encode()
    path.write_bytes(line + b"#" * (10 * 1024 * 1024))
    assert f"{path} is larger than 10 MB" in refused("import", str(path))
    assert total() == 0


def test_a_missing_file_or_a_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.txt"
    assert f"cannot read {missing}: No such file or directory" in refused("import", str(missing))
    assert f"cannot read {tmp_path}: Is a directory" in refused("import", str(tmp_path))


def test_import_dash_reads_stdin(monkeypatch):
    data = f"{mtproto(1)}\nnot-a-link\n{mtproto(2)}\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    message = refused("import", "-", "--pool", "trusted")
    assert "line 2: not a tg://proxy, tg://socks or https://t.me/proxy link" in message
    assert counts()["trusted"]["stocked"] == 2


# --- The real command line: exit codes --------------------------------------------


@pytest.mark.subprocess
def test_the_command_line_exits_non_zero_on_a_refused_line(tmp_path, tmp_path_factory):
    env = child_env(migrated_sqlite(tmp_path_factory, tmp_path / "data"))

    def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
        return subprocess.run(
            [bailanys_executable(), "proxy", *args],
            env=env,
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )

    path = tmp_path / "links.txt"
    path.write_text(f"{mtproto(1)}\ntg://proxy?server=a.example&port=443\n{mtproto(2)}\n")
    done = run("import", str(path), "--pool", "reserved")
    assert done.returncode == 1, done
    assert done.stdout.decode().strip() == "added 2, already there 0"
    assert "line 2: the link has no secret" in done.stderr.decode()
    assert "CommandError: 1 line(s) refused; the others were added" in done.stderr.decode()

    done = run("import", "-", stdin=f"{mtproto(3)}\n{mtproto(1)}\n".encode())
    assert (done.returncode, done.stdout.decode().strip()) == (0, "added 1, already there 1")
    assert run("release", "0").returncode == 1
    done = run("release", "5", "--to", "trusted")
    assert (done.returncode, done.stdout.decode().strip()) == (
        0,
        "released 2 reserved proxies to trusted",
    )
    assert run("block", mtproto(9)).returncode == 1
    done = run("list")
    assert done.returncode == 0
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.decode().splitlines()[1:4]}
    assert rows["public"][0] == "1" and rows["trusted"][0] == "2" and rows["reserved"][0] == "0"
    assert run("nonsense").returncode != 0


# --- hypothesis: valid links from their parts, broken ones by mutation -----------------

light = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
host_names = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(label, min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None).map(str)
servers = st.one_of(host_names, ipv4, ipv6)
ports = st.integers(min_value=1, max_value=65535)
hex32 = st.binary(min_size=16, max_size=16).map(bytes.hex)
secrets = st.one_of(
    hex32,
    hex32.map(lambda s: "dd" + s),
    st.tuples(hex32, host_names).map(lambda p: "ee" + p[0] + p[1].encode().hex()),
)
credential = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)


def written(server: str, *, upper: bool, bracket: bool) -> str:
    """`server` as someone might paste it."""
    if ":" in server and bracket:
        server = f"[{server}]"
    return server.upper() if upper else server


@light
@given(
    server=servers,
    port=ports,
    secret_hex=secrets,
    scheme=st.sampled_from(["tg://proxy", "https://t.me/proxy", "https://telegram.me/proxy"]),
    upper=st.booleans(),
    bracket=st.booleans(),
    order=st.permutations([0, 1, 2]),
)
def test_any_valid_mtproto_link_is_added_and_handed_out_as_written_canonically(
    db, server, port, secret_hex, scheme, upper, bracket, order
):
    params = [
        f"server={written(server, upper=upper, bracket=bracket)}",
        f"port={port}",
        f"secret={secret_hex.upper() if upper else secret_hex}",
    ]
    link = f"{scheme}?{'&'.join(params[i] for i in order)}"
    out, err = proxy("add", link)
    assert out.strip() in ("added 1, already there 0", "added 0, already there 1"), out
    assert err == ""
    canonical_server = str(ipaddress.ip_address(server)) if ":" in server else server
    assert stored(link) == canonical(canonical_server, port, secret_hex)


@light
@given(server=servers, port=ports, user=credential, password=credential, with_user=st.booleans())
def test_any_valid_socks_link_round_trips(db, server, port, user, password, with_user):
    creds = f"&user={quote(user, safe='')}&pass={quote(password, safe='')}" if with_user else ""
    link = f"tg://socks?server={written(server, upper=False, bracket=True)}&port={port}{creds}"
    out, _err = proxy("add", link)
    assert out.strip() in ("added 1, already there 0", "added 0, already there 1"), out
    canonical_server = quote(
        str(ipaddress.ip_address(server)) if ":" in server else server, safe=""
    )
    expected = f"tg://socks?server={canonical_server}&port={port}{creds}"
    if out.startswith("added 1"):
        assert stored(link) == expected
    else:  # the same user at the same address, an earlier password: the same proxy
        assert stored(link).split("&pass=")[0] == expected.split("&pass=")[0]


def test_proxies_handed_out_are_the_canonical_links():
    pasted = [
        f"https://t.me/proxy?server=A.Proxy.Example&port=443&secret={S1.upper()}",
        f"tg://proxy?secret=dd{S2}&server=[2001:db8::1]&port=8443",
        "tg://socks?server=203.0.113.5&port=1080&user=u&pass=p%20q".replace("%20", "%21"),
    ]
    for link in pasted:
        proxy("add", link)
    answer = proxies_ask(key_for_telegram(42), channel="telegram")
    assert answer.outcome == Outcome.LINKS
    assert sorted(link.tg_url() for link in answer.links) == sorted(
        [
            f"tg://proxy?server=a.proxy.example&port=443&secret={S1}",
            f"tg://proxy?server=2001%3Adb8%3A%3A1&port=8443&secret=dd{S2}",
            "tg://socks?server=203.0.113.5&port=1080&user=u&pass=p%21q",
        ]
    )
    assert f"https://t.me/proxy?server=a.proxy.example&port=443&secret={S1}" in [
        link.tme_url() for link in answer.links
    ]


# Broken links: a valid one with one thing wrong. Each strategy gives (link, secret).
def _valid(server="b.proxy.example", port="443", secret_hex=S1, extra="") -> str:
    return f"tg://proxy?server={server}&port={port}&secret={secret_hex}{extra}"


def _insert(text: str, char: str, where: int) -> str:
    where = 1 + where % (len(text) - 1)  # inside: a space at either end is only trimmed
    return text[:where] + char + text[where:]


wrong_length = st.tuples(
    st.integers(min_value=8, max_value=80).filter(lambda n: n not in (32, 34)),
    st.binary(min_size=40, max_size=40),
).map(lambda p: "0" + p[1].hex()[: p[0] - 1])
not_hex = st.tuples(hex32, st.integers(0, 31), st.sampled_from("ghijklmnopqrstuvwxyz=_-/")).map(
    lambda p: p[0][: p[1]] + p[2] + p[0][p[1] + 1 :]
)
bad_domains = st.sampled_from(
    [
        "localhost",
        "Example.com",
        "1.2.3.4",
        "a..com",
        "-a.com",
        " a.com",
        "a.com.",
        "[::1]",
        "a_b.com",
    ]
)
odd_tls = st.one_of(
    st.tuples(hex32, bad_domains).map(lambda p: "ee" + p[0] + p[1].encode().hex()),
    st.tuples(hex32, st.sampled_from(["6", "616", "ff", "c3a9612e636f6d"])).map(
        lambda p: "ee" + p[0] + p[1]
    ),
)
bad_secrets = st.one_of(wrong_length, not_hex, odd_tls)
broken = st.one_of(
    bad_secrets.map(lambda s: (_valid(secret_hex=s), s)),
    st.tuples(st.sampled_from(["0", "65536", "99999", "4a3", "", "-1", "443.0", "1e3"]), hex32).map(
        lambda p: (_valid(port=p[0], secret_hex=p[1]), p[1])
    ),
    st.tuples(st.sampled_from(["server", "port", "secret"]), hex32).map(
        lambda p: (_valid(secret_hex=p[1]).replace(f"{p[0]}=", "x" + p[0] + "=", 1), p[1])
    ),
    st.tuples(st.sampled_from(["server=c.example", "port=80", "secret="]), hex32).map(
        lambda p: (
            _valid(secret_hex=p[1], extra="&" + (p[0] + p[1] if p[0] == "secret=" else p[0])),
            p[1],
        )
    ),
    st.tuples(
        st.sampled_from(
            [
                "http://example.com/proxy",
                "https://t.me.example.com/proxy",
                "ftp://t.me/proxy",
                "tg://resolve",
                "tg://proxyy",
                "https://t.me/joinchat",
                "https://t.me:8443/proxy",
                "tg:proxy",
                "proxy",
                "//t.me/proxy",
            ]
        ),
        hex32,
    ).map(lambda p: (f"{p[0]}?server=b.proxy.example&port=443&secret={p[1]}", p[1])),
    st.tuples(
        hex32,
        st.sampled_from([" ", "\t", "%20", "+", "\x00", "й", "\u200b", "%D0%B9"]),
        st.integers(0, 500),
    ).map(lambda p: (_insert(_valid(secret_hex=p[0]), p[1], p[2]), p[0])),
    hex32.map(lambda s: (_valid(secret_hex=s, extra="&x=" + "a" * 1000), s)),
    st.tuples(
        st.sampled_from(
            [
                "bad..host",
                "-x.example",
                "x.123",
                "300.1.1.1",
                "[1.2.3.4",
                "fe80::1%25eth0",
                "x" * 64 + ".example",
            ]
        ),
        hex32,
    ).map(lambda p: (_valid(server=p[0], secret_hex=p[1]), p[1])),
)


@light
@given(case=broken)
def test_a_broken_link_is_refused_with_a_reason_and_never_added(db, case):
    link, secret_hex = case
    before = total()
    message = refused("add", link)
    assert "not a proxy link: " in message
    reason = message.split("not a proxy link: ", 1)[1]
    assert len(reason) > 10, "a reason is given"
    assert secret_hex.lower() not in message.lower()
    assert secret_hex[2:].lower() not in message.lower()
    assert total() == before


@light
@given(
    server=host_names,
    user=credential,
    junk=st.sampled_from(["%C3%A9", "%20", "+", "%0A", "%7F"]),
    where=st.sampled_from(["user", "pass"]),
)
def test_a_socks_credential_with_characters_it_cannot_hold_is_refused(
    db, server, user, junk, where
):
    value = quote(user, safe="") + junk
    link = f"tg://socks?server={server}&port=1080&user={value if where == 'user' else 'u'}"
    link += f"&pass={value if where == 'pass' else 'p'}"
    message = refused("add", link)
    assert "not a proxy link: " in message
    assert total() == 0


# --- block, retire, release, shutdown --------------------------------------------------


def import_lines(lines, pool: str = "public") -> None:
    out = io.StringIO()
    data = "\n".join(lines).encode()
    # stdin, as an operator pipes a list in.
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data))
    try:
        call_command("proxy", "import", "-", "--pool", pool, stdout=out, stderr=io.StringIO())
    finally:
        sys.stdin = saved
    assert out.getvalue().strip() == f"added {len(lines)}, already there 0"


def test_block_takes_the_whole_bucket_out_and_its_requesters_get_new_proxies():
    import_lines([mtproto(n) for n in range(6)])
    key = key_for_number("+77015550001")
    first = proxies_ask(key, channel="sms")
    assert first.outcome == Outcome.LINKS and len(first.links) == 3
    table = counts()
    assert (table["public"]["active"], table["public"]["stocked"]) == (3, 3)
    # The coordinator pastes the link in its t.me form, in capitals.
    handed = first.links[0].tme_url().upper().replace("HTTPS://T.ME/PROXY", "https://t.me/proxy")
    out, _err = proxy("block", handed)
    assert out.strip() == "blocked; its bucket's requesters get new proxies when they ask"
    table = counts()
    assert (table["public"]["blocked"], table["public"]["active"]) == (3, 0)
    assert "buckets 1 (blocked 1)" in table["summary"]
    again = proxies_ask(key, channel="sms")
    assert again.outcome == Outcome.LINKS, "moved: answered at once, not in three hours"
    assert not {link.tg_url() for link in again.links} & {link.tg_url() for link in first.links}


def test_retire_takes_one_stocked_proxy_out():
    import_lines([mtproto(n) for n in range(3)])
    assert proxy("retire", mtproto(1))[0].strip() == "retired"
    table = counts()
    assert (table["public"]["retired"], table["public"]["stocked"]) == (1, 2)
    answer = proxies_ask(key_for_number("+77015550002"), channel="sms")
    assert mtproto(1) not in [link.tg_url() for link in answer.links]
    assert len(answer.links) == 2


def test_a_bucket_retired_whole_costs_its_requesters_no_bucket_of_their_cap(settings):
    settings.BAILANYS_PROXY_BUCKETS_PER_REQUESTER = 1
    import_lines([mtproto(n) for n in range(6)])
    key = key_for_number("+77015550004")
    first = proxies_ask(key, channel="sms").links
    for link in first:
        proxy("retire", link.tg_url())
    later = timezone.now() + timedelta(hours=settings.BAILANYS_PROXY_ANSWER_HOURS)
    with time_machine.travel(later):
        answer = proxies_ask(key, channel="sms")
    assert answer.outcome == Outcome.LINKS
    assert len(answer.links) == 3 and not set(answer.links) & set(first)


@pytest.mark.parametrize("action", ["block", "retire"])
def test_block_or_retire_of_an_unknown_or_broken_link_is_a_clear_error(action):
    import_lines([mtproto(1)])
    assert "no such proxy in the pool" in refused(action, mtproto(2))
    message = refused(action, mtproto(1, port=0))
    assert "not a proxy link: the port is not between 1 and 65535" in message
    assert secret(1) not in message
    assert counts()["public"]["stocked"] == 1


def test_release_moves_reserved_proxies_in_waves():
    import_lines([mtproto(n) for n in range(5)], pool="reserved")
    key = key_for_number("+77015550003")
    assert proxies_ask(key, channel="sms").outcome == Outcome.NONE_LEFT, "the reserve is kept"
    assert "release at least 1 proxy" in refused("release", "0")
    assert "release at least 1 proxy" in refused("release", "-2")
    assert "invalid int value: 'two'" in refused("release", "two")
    assert "invalid choice: 'reserved'" in refused("release", "2", "--to", "reserved")
    assert proxy("release", "2")[0].strip() == "released 2 reserved proxies to public"
    assert proxy("release", "1", "--to", "trusted")[0].strip() == (
        "released 1 reserved proxies to trusted"
    )
    assert proxy("release", "9")[0].strip() == "released 2 reserved proxies to public"
    assert proxy("release", "1")[0].strip() == "released 0 reserved proxies to public"
    table = counts()
    assert (table["public"]["stocked"], table["trusted"]["stocked"]) == (4, 1)
    assert table["reserved"]["stocked"] == 0
    other = key_for_number("+77015550004")
    assert proxies_ask(other, channel="sms").outcome == Outcome.LINKS


def test_shutdown_keeps_the_stock_and_answers_that_proxies_cannot_help():
    import_lines([mtproto(n) for n in range(3)])
    assert "full shutdown: off" in counts()["summary"]
    assert proxy("shutdown", "on")[0].strip() == "full shutdown on"
    assert "full shutdown: on" in counts()["summary"]
    key = key_for_number("+77015550005")
    assert proxies_ask(key, channel="sms").outcome == Outcome.SHUTDOWN
    assert counts()["public"]["stocked"] == 3, "the stock is kept"
    assert proxy("shutdown", "off")[0].strip() == "full shutdown off"
    other = key_for_number("+77015550006")
    assert proxies_ask(other, channel="sms").outcome == Outcome.LINKS
    assert "invalid choice: 'maybe'" in refused("shutdown", "maybe")


def test_list_never_shows_an_address_or_a_secret():
    import_lines([mtproto(n) for n in range(3)])
    proxies_ask(key_for_number("+77015550007"), channel="sms")
    listed = proxy("list")[0]
    for n in range(3):
        assert secret(n) not in listed and f"p{n}.proxy.example" not in listed
    assert "requesters 1 (vouched 0)" in listed


# --- Privacy: no address, secret or password in logs or at rest (the canary test) ----------

PHONE = "+77019998877"
PHONE_FORMS = ("+77019998877", "87019998877", "77019998877", "7019998877", "701 999 88 77")
CANARY_SECRETS = [secret("canary-a"), "dd" + secret("canary-b"), secret("canary-c")]
SNI = "zqcanary-sni.example"
CANARY_TLS = "ee" + secret("canary-d") + SNI.encode().hex()
SOCKS_USER, SOCKS_PASSWORD = "zqcanaryuser", "Zq-Socks-Pass-Canary-51"
CANARY_LINKS = [
    f"tg://proxy?server=zqcanary-p1.example.net&port=4431&secret={CANARY_SECRETS[0]}",
    f"https://t.me/proxy?server=203.0.113.77&port=4432&secret={CANARY_SECRETS[1]}",
    f"tg://proxy?server=[2001:db8::77]&port=4433&secret={CANARY_SECRETS[2]}",
    f"tg://proxy?server=zqcanary-p4.example.net&port=4434&secret={CANARY_TLS}",
    f"tg://socks?server=zqcanary-socks.example.net&port=4435&user={SOCKS_USER}"
    f"&pass={SOCKS_PASSWORD}",
]
# A refused line: its secret and server must not be repeated in the reason either.
BAD_SECRET = secret("canary-bad")[:30]
BAD_LINE = f"tg://proxy?server=zqcanary-bad.example.net&port=4436&secret={BAD_SECRET}"
PROXY_CANARIES = (
    *CANARY_SECRETS,
    CANARY_TLS,
    *(s[2:] if s.startswith(("dd", "ee")) else s for s in (CANARY_SECRETS[1], CANARY_TLS)),
    BAD_SECRET,
    "zqcanary",  # every server name, the SNI domain and the SOCKS user hold it
    "203.0.113.77",
    "2001:db8::77",
    "2001%3adb8%3a%3a77",
    SOCKS_PASSWORD,
    *PHONE_FORMS,
)


class FakeProbe:
    """bailanys.proxies.probe as proxies_check imports it: every proxy refuses."""

    def __init__(self):
        self.targets = []

    def probe_many(self, targets, *, timeout):
        targets = list(targets)
        self.targets += targets
        return {key: "refused" for key, _host, _port, _sni in targets}


@pytest.fixture
def fake_probe(monkeypatch):
    import types

    fake = FakeProbe()
    module = types.ModuleType("bailanys.proxies.probe")
    module.probe_many = fake.probe_many
    monkeypatch.setitem(sys.modules, "bailanys.proxies.probe", module)
    return fake


def drive_the_pool(tmp_path, fake_probe) -> str:
    """Import, ask, report, check, block, retire, list: what the CLI printed."""
    from datetime import timedelta

    from django.utils import timezone

    from bailanys.proxies.services import proxies_check, proxies_report, proxy_vouch

    printed = []
    path = tmp_path / "canary-proxies.txt"
    path.write_text("\n".join([*CANARY_LINKS[:4], BAD_LINE]) + "\n")
    printed.append(refused("import", str(path)))
    printed.append("".join(proxy("add", CANARY_LINKS[4])))
    printed.append(
        "".join(proxy("add", CANARY_LINKS[0].upper().replace("TG://PROXY", "tg://proxy")))
    )

    sms, bot = key_for_number(PHONE), key_for_telegram(770077)
    proxy_vouch(key_for_number("+77019998800"), actor="cli")
    first = proxies_ask(sms, channel="sms")
    assert first.outcome == Outcome.LINKS
    # Positive control: the canaries really went in and come out to the requester.
    assert "zqcanary-p1.example.net" in " ".join(link.tg_url() for link in first.links)
    assert proxies_ask(bot, channel="telegram").links == first.links, "the same bucket"
    assert proxies_ask(sms, channel="sms").outcome == Outcome.TOO_SOON
    proxies_report(sms, channel="sms")
    proxies_report(bot, channel="telegram")  # two reporters: suspect, both moved
    now = timezone.now()
    for n in range(3):  # three failed checks in a row: down
        proxies_check(now=now + timedelta(hours=n + 1))
    assert {(host, port) for _key, host, port, _sni in fake_probe.targets} >= {
        ("zqcanary-p4.example.net", 4434)
    }
    assert SNI in {sni for *_rest, sni in fake_probe.targets}, "the fake-TLS domain as SNI"
    printed.append("".join(proxy("block", CANARY_LINKS[2])))
    printed.append("".join(proxy("retire", CANARY_LINKS[3])))
    printed.append(refused("block", BAD_LINE))
    printed.append(proxy("list")[0])
    return "\n".join(printed)


@pytest.mark.django_db(transaction=True)
def test_the_pool_logs_no_address_secret_or_number_and_sends_the_database_only_ciphertext(
    tmp_path, caplog, fake_probe
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.helpers import capture_everything, hits_in, log_text

    capture_everything(caplog)
    with CaptureQueriesContext(connection) as queries:
        printed = drive_the_pool(tmp_path, fake_probe)
    sql = "\n".join(q["sql"] for q in queries.captured_queries).encode()
    assert len(queries.captured_queries) > 50, "the queries were captured"
    assert "is down" in caplog.text and "is suspect" in caplog.text, "logging was captured"
    assert "line 5: the secret is not 32 hex characters" in printed, "the bad line was reported"
    assert hits_in(sql, PROXY_CANARIES) == []
    assert hits_in(log_text(caplog), PROXY_CANARIES) == []
    assert hits_in(printed.encode(), PROXY_CANARIES) == []


@pytest.mark.subprocess
def test_the_pool_leaves_no_address_secret_or_number_in_the_sqlite_files(
    tmp_path, tmp_path_factory
):
    """The real command line on SQLite: every file of the data directory, and what the
    processes printed at DEBUG, hold no proxy canary and no requester's number."""
    from tests.helpers import hits_in

    data_dir = migrated_sqlite(tmp_path_factory, tmp_path / "data")
    env = child_env(data_dir, BAILANYS_LOG_LEVEL="DEBUG")
    outputs = []

    def run(*args: str, ok: bool = True) -> str:
        done = subprocess.run(
            [bailanys_executable(), *args], env=env, capture_output=True, timeout=120, check=False
        )
        outputs.append(done.stdout + done.stderr)
        assert (done.returncode == 0) == ok, (done.stdout + done.stderr).decode(errors="replace")
        return done.stdout.decode()

    path = tmp_path / "canary-proxies.txt"
    path.write_text("\n".join([*CANARY_LINKS[:4], BAD_LINE]) + "\n")
    run("proxy", "import", str(path), ok=False)
    run("proxy", "add", CANARY_LINKS[4])
    script = f"""
import sys, types
from datetime import timedelta
from django.utils import timezone
from bailanys.proxies import services as s
fake = types.ModuleType("bailanys.proxies.probe")
fake.probe_many = lambda targets, timeout: {{t[0]: "refused" for t in targets}}
sys.modules["bailanys.proxies.probe"] = fake
sms, bot = s.key_for_number("{PHONE}"), s.key_for_telegram(770077)
s.proxy_vouch(sms, actor="cli")
first = s.proxies_ask(sms, channel="sms")
print("asked", first.outcome, len(s.proxies_ask(bot, channel="telegram").links))
s.proxies_report(sms, channel="sms")
print("reported", s.proxies_report(bot, channel="telegram").outcome)
now = timezone.now()
for n in range(3):
    print("checked", s.proxies_check(now=now + timedelta(hours=n + 1)))
"""
    asked = run("shell", "-c", script)
    assert "asked links 3" in asked, asked
    assert "'down': 2" in asked.splitlines()[-1], "three failed checks: down (and logged)"
    run("proxy", "block", CANARY_LINKS[2])
    run("proxy", "retire", CANARY_LINKS[3])
    listed = run("proxy", "list")
    assert "requesters 2 (vouched 1)" in listed, listed

    files = {p.name: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    database = b"".join(v for k, v in files.items() if k.startswith("bailanys.sqlite3"))
    assert database.count(b"k1:") >= len(CANARY_LINKS), "the proxies are there, sealed"
    hits = {name: found for name, blob in files.items() if (found := hits_in(blob, PROXY_CANARIES))}
    assert hits == {}
    assert hits_in(b"\n".join(outputs), PROXY_CANARIES) == []


# --- Forgetting: the wipe, and the retention of requesters ------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_wipe_takes_the_proxies_and_the_requesters(tmp_path):
    import_lines([mtproto(n) for n in range(4)])
    assert proxies_ask(key_for_number(PHONE), channel="sms").outcome == Outcome.LINKS
    assert "requesters 1" in counts()["summary"]
    call_command("wipe", "--confirm", stdout=io.StringIO())
    table = counts()
    assert total() == 0
    assert table["summary"].startswith("requesters 0 (vouched 0), buckets")
    assert proxy_find(mtproto(1)) is None
    # The pool works again after the wipe: the same links can be imported anew.
    import_lines([mtproto(n) for n in range(4)])


def test_stale_unvouched_requesters_are_forgotten_and_vouched_ones_kept(settings):
    from datetime import datetime, timedelta

    import time_machine

    from bailanys.proxies.services import proxy_vouch

    days = settings.BAILANYS_PROXY_REQUESTER_DAYS
    assert days == 90
    import_lines([mtproto(n) for n in range(6)])
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def purge() -> None:
        call_command("purge", stdout=io.StringIO())

    def requesters() -> str:
        return counts()["summary"].split(", buckets")[0]

    with time_machine.travel(start, tick=False) as clock:
        gone = key_for_number("+77015551001")
        later = key_for_number("+77015551002")
        vouched = key_for_number("+77015551003")
        never_asked = key_for_number("+77015551004")
        for key in (gone, later, vouched):
            assert proxies_ask(key, channel="sms").outcome == Outcome.LINKS
        proxy_vouch(vouched, actor="cli")
        proxies_ask(never_asked, channel="sms")
        clock.shift(timedelta(days=50))
        proxies_ask(later, channel="sms")  # answered again: its 90 days start anew
        clock.shift(timedelta(days=days - 50 - 1))
        purge()
        assert requesters() == "requesters 4 (vouched 1)", "kept a day before the limit"
        clock.shift(timedelta(days=2))
        purge()
        assert requesters() == "requesters 2 (vouched 1)"
        clock.shift(timedelta(days=50))
        purge()
        assert requesters() == "requesters 1 (vouched 1)", "a vouched number is kept"
    # A forgotten requester who asks again is a new one: it is answered at once.
    assert proxies_ask(gone, channel="sms").outcome == Outcome.LINKS


def test_a_link_copied_from_a_web_page_with_amp_entities_is_the_same_link():
    proxy("add", mtproto(1))
    pasted = mtproto(1).replace("&", "&amp;")
    assert proxy("add", pasted)[0].strip() == "added 0, already there 1"


@pytest.mark.parametrize(
    ("secret_hex", "mode", "sni"),
    [
        ("ee" + secret(1)[2:], "classic", None),  # 32 characters that happen to begin with ee
        ("dd" + secret(1)[2:], "classic", None),
        ("dd" + secret(1), "padded", None),
        ("ee" + secret(1) + b"cdn.example.org".hex(), "tls", "cdn.example.org"),
    ],
)
def test_the_health_check_names_the_fake_tls_domain_only_for_a_fake_tls_secret(
    fake_probe, secret_hex, mode, sni
):
    from bailanys.proxies.links import parse_link
    from bailanys.proxies.services import proxies_check

    link = f"tg://proxy?server=h.proxy.example&port=443&secret={secret_hex}"
    proxy("add", link)
    assert parse_link(link).mode == mode
    proxies_check()
    assert fake_probe.targets == [(fake_probe.targets[0][0], "h.proxy.example", 443, sni)]
