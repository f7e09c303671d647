"""The outbox pump: a worker's senders, with as many sends in flight as each channel needs.

One thread asks each channel for its due messages in batches (outbox_claim: SKIP LOCKED,
no task row per message) and hands them to sending threads. A channel keeps about its
rate times a round trip in flight (Telegram at 30 a second with answers 0.1 s away: 4),
at most BAILANYS_WORKER_SENDERS; a channel with no stated rate (the status page, the
log) keeps two. The round trip is each channel's own, measured on its last sends, less
what they waited for a rate limit (counted in, the waits for Telegram's next slot made
the pump start ever more senders, up to the most allowed). A channel that had nothing
due is asked again after IDLE_SECONDS; one that had more is asked again as soon as a
send finishes. Each message is marked sent by the thread that
sent it the moment its answer arrives (outbox_deliver_taken).
"""

import logging
import math
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection

from bailanys.outbox.senders import sender_codes, sender_get, waited_take
from bailanys.outbox.services import outbox_claim, outbox_deliver_taken

logger = logging.getLogger("bailanys.outbox")

# How long a channel that had nothing due waits before it is asked again: the most a
# new message waits for a free worker.
IDLE_SECONDS = 0.25
# How often a channel's rate is read again (the SMS pool's comes from the database).
RATE_KNOWN_SECONDS = 10.0
# Sends in flight for a channel with no stated rate.
UNLIMITED_IN_FLIGHT = 2


class _Lane:
    """One channel as the pump sees it."""

    def __init__(self, code: str):
        self.code = code
        self.running = 0
        self.asked_at = -math.inf  # when it last had nothing more due (monotonic)
        self.round_trip = 0.1  # seconds, a running mean of its sends
        self._rate: float | None = None
        self._rate_at = -math.inf

    def rate(self) -> float | None:
        now = time.monotonic()
        if now - self._rate_at >= RATE_KNOWN_SECONDS:
            self._rate_at = now
            try:
                self._rate = sender_get(self.code).per_second()
            except Exception:
                logger.exception("could not read the %s channel's rate", self.code)
        return self._rate

    def in_flight(self) -> int:
        """Rate x round trip, and one more so the limit never waits on an answer."""
        most = settings.BAILANYS_WORKER_SENDERS
        rate = self.rate()
        if rate is None:
            return min(most, UNLIMITED_IN_FLIGHT)
        return max(1, min(most, math.ceil(rate * self.round_trip) + 1))

    def finished(self, seconds: float) -> None:
        self.running -= 1
        self.round_trip += (seconds - self.round_trip) / 8


def _send(message, again: bool) -> float:
    """Send a taken message; returns the seconds it took, waits for rate limits left out."""
    waited_take()
    started = time.monotonic()
    try:
        outbox_deliver_taken(message, again=again)
    except Exception:
        # Left "sending": its lease runs out and it is sent again, labelled so.
        logger.exception("outbox %s: sending failed unexpectedly", message.pk)
        connection.close()  # this thread's, maybe broken: the next send opens another
    return max(0.0, time.monotonic() - started - waited_take())


def outbox_pump(stop: threading.Event) -> None:
    """Send due messages until `stop` is set, then finish the sends in hand."""
    lanes = [_Lane(code) for code in sender_codes()]
    most = settings.BAILANYS_WORKER_SENDERS
    pool = ThreadPoolExecutor(max_workers=most * len(lanes), thread_name_prefix="send")
    running: dict[Future, _Lane] = {}
    try:
        while not stop.is_set():
            now = time.monotonic()
            for lane in lanes:
                free = lane.in_flight() - lane.running
                if free <= 0 or now - lane.asked_at < IDLE_SECONDS:
                    continue
                try:
                    taken = outbox_claim(channel=lane.code, limit=free)
                except Exception:
                    logger.exception("could not take due %s messages", lane.code)
                    connection.close()
                    taken = []
                if len(taken) < free:
                    lane.asked_at = now
                for message, again in taken:
                    lane.running += 1
                    running[pool.submit(_send, message, again)] = lane
            if running:
                done, _ = wait(running, timeout=IDLE_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future).finished(future.result())
            else:
                stop.wait(IDLE_SECONDS)
    finally:
        pool.shutdown(wait=True)  # the sends in hand finish and are marked
        connection.close()
