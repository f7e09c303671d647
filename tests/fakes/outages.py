"""Local fakes of the outage feeds: IODA v2, OONI's aggregation API and Cloudflare Radar.

Three small threaded HTTP servers on loopback ports (``OutageFakes``), one per feed, answer
every request from one ``Scenario`` (``tests/fakes/outage_scenario.py``): the test sets the
truth there (levels and drops, events, alerts, OONI counts, Radar annotations, failures) and
points ``BAILANYS_IODA_URL``, ``BAILANYS_OONI_URL`` and ``BAILANYS_RADAR_URL`` at ``urls``.
``refuse(feed)`` closes a feed's port, so the poller meets a refused connection.
Standard library only.
"""

import threading
import time
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.base import FakeHttpService
from tests.fakes.outage_scenario import FEEDS, RADAR_TOKEN, Scenario

__all__ = ["RADAR_TOKEN", "OutageFakes", "Scenario"]


class _FeedServer(FakeHttpService):
    def __init__(self, feed: str, scenario: Scenario):
        super().__init__()
        self.feed = feed
        self.scenario = scenario

    def handle(self, method, target, headers, raw, received):
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = unquote(parts.path).strip("/")
        call = {"t": received, "at": time.time(), "feed": self.feed, "path": path}
        self._record({**call, "query": query, "auth": headers.get("Authorization")})
        if method != "GET":
            return 405, {"msg": "Method Not Allowed"}, {}
        answer = self.scenario.answer(self.feed, path, query, headers, time.time())
        return None if answer is None else (*answer, {})


class OutageFakes:
    """IODA, OONI and Radar, each on its own loopback port, answering from one ``scenario``.

    ``urls`` maps each feed to its base URL (the ``BAILANYS_*_URL`` settings); ``refuse(feed)``
    closes a feed's port (connection refused) and ``reopen(feed)`` opens it again.
    """

    def __init__(self, scenario: Scenario | None = None):
        self.scenario = scenario or Scenario()
        self.servers = {feed: _FeedServer(feed, self.scenario) for feed in FEEDS}
        self.ports: dict[str, int] = {}

    def start(self) -> "OutageFakes":
        for feed, server in self.servers.items():
            server.start()
            self.ports[feed] = int(server.url.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        stopping = [threading.Thread(target=s.stop) for s in self.servers.values()]
        for thread in stopping:  # each takes up to half a second: side by side
            thread.start()
        for thread in stopping:
            thread.join()

    def __enter__(self) -> "OutageFakes":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def urls(self) -> dict[str, str]:
        return {feed: f"http://127.0.0.1:{port}" for feed, port in self.ports.items()}

    def refuse(self, feed: str) -> None:
        self.servers[feed].stop()

    def reopen(self, feed: str) -> None:
        self.servers[feed].start(self.ports[feed])

    def calls(self, feed: str | None = None, path: str = "") -> list[dict]:
        found = []
        for server in self.servers.values():
            with server._cond:
                found += [c for c in server.calls if c["path"].startswith(path)]
        return sorted((c for c in found if feed in (None, c["feed"])), key=lambda c: c["t"])

    def forget_calls(self) -> None:
        for server in self.servers.values():
            with server._cond:
                server.calls.clear()
