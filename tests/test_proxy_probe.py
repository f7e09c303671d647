"""The proxy health check's transport: bailanys.proxies.probe against local servers.

Each server is real (a TCP listener, a TLS server with a certificate made here), on
127.0.0.1, in a thread. The worker's use of it is tested end to end elsewhere.
"""

import datetime
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bailanys.proxies.probe import probe, probe_many

HOST = "127.0.0.1"
FRONT = "www.example.org"  # the fake-TLS secret's domain, sent as SNI


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate and its key, for another name than FRONT: the probe
    must not care (a fake-TLS proxy may answer with anyone's certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "proxy.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """Listen on 127.0.0.1, run `handle` on each connection in its own thread; yield the port."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        # OSError: the probe hung up or timed out first.
        with conn, suppress(OSError, threading.BrokenBarrierError):
            handle(conn)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(30)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def tls_handshake(certificate: tuple[Path, Path], seen: list[str | None] | None = None):
    """A TLS server's connection handler; `seen` collects the SNI each client sent."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)

    def record_sni(_sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        if seen is not None:
            seen.append(name)

    context.sni_callback = record_sni

    def handle(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)  # until the client closes

    return handle


def hang_up(conn: socket.socket) -> None:
    pass


def speak_garbage(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def say_nothing(conn: socket.socket) -> None:
    conn.recv(65536)  # reads the ClientHello, answers nothing
    conn.recv(1)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: a connect is refused, and nobody else can take it."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


def test_a_listening_port_answers():
    with server(hang_up) as port:
        assert probe(HOST, port, timeout=10) is None


def test_a_closed_port_is_refused(closed_port):
    assert probe(HOST, closed_port, timeout=10) == "refused"


def test_a_fake_tls_proxy_completes_the_handshake_with_the_secret_s_domain(certificate):
    seen: list[str | None] = []
    with server(tls_handshake(certificate, seen)) as port:
        assert probe(HOST, port, sni=FRONT, timeout=10) is None
    assert seen == [FRONT]


@pytest.mark.parametrize("behaviour", [hang_up, speak_garbage], ids=["hangs up", "garbage"])
def test_a_port_that_does_not_speak_tls_fails_the_fake_tls_check(behaviour):
    with server(behaviour) as port:
        assert probe(HOST, port, timeout=10) is None  # TCP alone is fine
        reason = probe(HOST, port, sni=FRONT, timeout=10)
    assert reason is not None
    assert reason.startswith("tls: ")


def test_a_garbage_answer_is_named_by_openssl():
    with server(speak_garbage) as port:
        assert probe(HOST, port, sni=FRONT, timeout=10) == "tls: SSLError WRONG_VERSION_NUMBER"


def test_a_server_that_never_answers_the_handshake_times_out():
    with server(say_nothing) as port:
        assert probe(HOST, port, sni=FRONT, timeout=0.5) == "tls: timeout"


@pytest.mark.parametrize(("host", "port"), [(HOST, -1), (HOST, 70000), ("a" * 100 + ".org", 443)])
def test_an_impossible_address_is_a_reason_not_an_exception(host, port):
    assert probe(host, port, timeout=10) == "invalid address"


def test_an_empty_domain_is_a_reason_not_an_exception(certificate):
    with server(tls_handshake(certificate)) as port:
        assert probe(HOST, port, sni="", timeout=10) == "tls: invalid sni"


def test_a_reason_never_names_the_address(closed_port):
    """The reason goes to logs and the database; the address is a secret."""
    with server(speak_garbage) as garbage, server(say_nothing) as silent:
        reasons = [
            probe(HOST, closed_port, timeout=10),
            probe(HOST, garbage, sni=FRONT, timeout=10),
            probe(HOST, silent, sni=FRONT, timeout=0.5),
        ]
    for reason, port in zip(reasons, [closed_port, garbage, silent], strict=True):
        assert reason is not None
        assert HOST not in reason
        assert str(port) not in reason
        assert FRONT not in reason


def test_probe_many_answers_for_each_key(certificate, closed_port):
    with (
        server(tls_handshake(certificate)) as tls_port,
        server(hang_up) as tcp_port,
        server(speak_garbage) as garbage,
    ):
        results = probe_many(
            [
                ("fake-tls", HOST, tls_port, FRONT),
                ("plain", HOST, tcp_port, None),
                ("closed", HOST, closed_port, None),
                ("not tls", HOST, garbage, FRONT),
                (42, HOST, tls_port, None),
            ],
            timeout=10,
            workers=3,
        )
    assert results == {
        "fake-tls": None,
        "plain": None,
        "closed": "refused",
        "not tls": "tls: SSLError WRONG_VERSION_NUMBER",
        42: None,
    }


def test_probe_many_of_nothing():
    assert probe_many([], timeout=1) == {}


def test_probe_many_probes_at_the_same_time(certificate):
    """The server finishes no handshake until all four probes are connected at once:
    probed one after another, the first would wait for the others and time out."""
    together = threading.Barrier(4, timeout=20)

    def handshake_when_all_are_here(conn: socket.socket) -> None:
        together.wait()
        tls_handshake(certificate)(conn)

    with server(handshake_when_all_are_here) as port:
        results = probe_many([(n, HOST, port, FRONT) for n in range(4)], timeout=30, workers=4)
    assert results == dict.fromkeys(range(4))


def test_the_probe_runs_without_django():
    """The health check's transport is plain Python: importing it loads no Django."""
    code = "import sys, bailanys.proxies.probe; print('django' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
