"""What every fake HTTP service shares: a threaded HTTP server on a free loopback port.

A subclass answers each request in ``handle(method, target, headers, raw, received)`` with
``(status, JSON body or None, extra headers)`` (a ``bytes`` body is sent as it is), or None
to drop the connection without an answer. The base starts and stops the server (also as a
context manager), records calls in ``calls`` in order of arrival, and keeps the failures a
test injects until they are used.
"""

import base64
import bisect
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Answer = tuple[int, Any, dict[str, str]] | None


def read_json(raw: bytes) -> Any:
    """A request body as JSON: None when empty, the text itself when it is not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def basic_auth_matches(headers, username: str, password: str) -> bool:
    """Whether ``Authorization: Basic …`` carries exactly ``username:password``."""
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(given, f"{username}:{password}".encode())


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def _answer(self):
        received = time.monotonic()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fake = self.server.fake
        answer = fake.handle(self.command, self.path, self.headers, raw, received)
        if answer is None:  # dropped: no answer at all
            self.close_connection = True
            return
        status, body, headers = answer
        if isinstance(body, bytes):  # sent as it is: a malformed answer, say
            data = body
        else:
            data = json.dumps(body).encode() if body is not None else b""
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", fake.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
            pass


class FakeHttpService:
    """A fake service at ``url`` (``http://127.0.0.1:PORT``, no trailing slash) once started.

    ``calls`` lists every recorded request, in order of ``t``, the ``time.monotonic()`` of its
    arrival. ``_cond`` guards the fake's state; waiters are woken with ``_cond.notify_all()``.
    """

    content_type = "application/json"

    def __init__(self):
        self.url = ""
        self.calls: list[dict] = []
        self._cond = threading.Condition()
        self._failures: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    # Lifecycle

    def start(self, port: int = 0) -> Self:
        """Listen on 127.0.0.1:``port`` (a free one if 0) and answer in background threads."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # For subclasses

    def handle(self, method: str, target: str, headers, raw: bytes, received: float) -> Answer:
        """The answer to one request (``target`` is the path with its query)."""
        raise NotImplementedError

    def _record(self, call: dict) -> dict:
        """Add ``call`` (which has a ``t``) to ``calls`` in order of arrival; returns it."""
        with self._cond:
            bisect.insort(self.calls, call, key=lambda c: c["t"])
        return call

    def _add_failure(self, rule: dict) -> None:
        """Keep ``rule`` (with a ``count``) for ``_take_failure``."""
        with self._cond:
            self._failures.append(rule)

    def _take_failure(self, matches: Callable[[dict], bool]) -> dict | None:
        """The first injected failure that ``matches``, counted down (gone once used up)."""
        with self._cond:
            for rule in self._failures:
                if matches(rule):
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self._failures.remove(rule)
                    return rule
        return None
