import logging
import os
import signal
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from bailanys.bulletins.services import bulletins_fanout_pending
from bailanys.channels.sms.services import sms_sweep
from bailanys.conversations.bridge import bridges_sweep
from bailanys.outages.services import outages_due
from bailanys.outbox.pump import outbox_pump
from bailanys.outbox.services import outbox_send_due
from bailanys.privacy.audit import audit_checkpoint_head, audit_seal
from bailanys.privacy.ratelimit import rate_counters_expire
from bailanys.privacy.services import retention_purge
from bailanys.proxies.services import proxies_check
from bailanys.relay.services import claims_expire

logger = logging.getLogger("bailanys.worker")


def sweep(*, purge: bool) -> None:
    """The safety net: return lapsed leases, send what is due but was not enqueued, seal
    the audit log's tail.

    With `purge`, also delete what is past its retention limit.
    """
    _audit_seal_all()
    try:
        returned = claims_expire()
        sms_sweep()
        bridges_sweep()
        sent = outbox_send_due()
        if returned or sent:
            logger.info("sweep: %d leases returned, %d messages sent", returned, sent)
        if purge:
            purged = retention_purge()
            if purged["cases"]:
                logger.info("retention: %d cases purged", purged["cases"])
            task_results_prune()
            rate_counters_expire()
    except Exception:
        logger.exception("sweep failed; it runs again shortly")
    try:
        proxies_health()
    except Exception:
        logger.exception("proxy health check failed; it runs again shortly")
    try:
        # A fan-out cut short (a crash, a lost task) is finished: one query when none is.
        written = bulletins_fanout_pending()
        if written:
            logger.info("sweep: %d bulletin messages written", written)
    except Exception:
        logger.exception("bulletin fan-out failed; it runs again shortly")
    finally:
        close_old_connections()


# How often the sweep looks for proxies due a health check (each proxy is checked every
# BAILANYS_PROXY_CHECK_SECONDS): a proxy is checked at most this much late.
PROXY_LOOK_SECONDS = 30
_proxies_looked_at = None  # when this worker last looked (its own clock, the sweep's thread)


def proxies_health(now=None) -> dict[str, int] | None:
    """Check the proxies due for it; None when it was not time to look.

    The sweep runs every second or so: between looks this is no query at all, and a look
    that finds nothing due is one query and no network.
    """
    global _proxies_looked_at
    now = now or timezone.now()
    gap = timedelta(seconds=min(settings.BAILANYS_PROXY_CHECK_SECONDS, PROXY_LOOK_SECONDS))
    last = _proxies_looked_at
    if last is not None and last <= now < last + gap:  # (a clock set back looks again)
        return None
    counts = proxies_check(now=now, limit=PROXY_CHECK_BATCH)
    # A full batch may have left others due: look again at the next sweep.
    _proxies_looked_at = None if counts["checked"] >= PROXY_CHECK_BATCH else now
    if counts["checked"]:
        logger.info(
            "proxies checked: %d, failed %d, newly down %d, back up %d",
            counts["checked"],
            counts["failed"],
            counts["down"],
            counts["up"],
        )
    return counts


PROXY_CHECK_BATCH = 200


# Finished background tasks leave a row each (thousands an hour under load); the outbox,
# not these rows, is what says a message went. Failed ones are kept longer to look into.
TASK_RESULTS_KEPT = timedelta(hours=1)
FAILED_TASK_RESULTS_KEPT = timedelta(days=7)


def task_results_prune() -> int:
    """Delete finished task results past their keeping time; returns how many."""
    now = timezone.now()
    deleted, _per_model = (
        DBTaskResult.objects.finished()
        .filter(
            Q(status=TaskResultStatus.SUCCESSFUL, finished_at__lt=now - TASK_RESULTS_KEPT)
            | Q(status=TaskResultStatus.FAILED, finished_at__lt=now - FAILED_TASK_RESULTS_KEPT)
        )
        .delete()
    )
    return deleted


def _sweep_forever(interval: int, purge_every: int) -> None:
    last_purge = time.monotonic()
    while True:
        time.sleep(interval)
        due = time.monotonic() - last_purge >= purge_every
        sweep(purge=due)
        if due:
            last_purge = time.monotonic()


OUTAGES_LOOK_SECONDS = 10


def _outages_forever() -> None:
    """Poll the outage feeds when due (docs/status.md), on a thread of its own: a feed
    that takes its time to answer must not hold up the outbox."""
    while True:
        time.sleep(OUTAGES_LOOK_SECONDS)
        try:
            outages_due()
        finally:
            close_old_connections()


AUDIT_SEAL_SECONDS = 1.0


def _audit_seal_all() -> None:
    try:
        while audit_seal():
            pass
    except Exception:
        logger.exception("audit seal failed; it runs again shortly")


def _audit_seal_forever() -> None:
    """Chain and sign the audit entries written since the last look (docs/security.md):
    appends take no lock, so a sealer must follow them. One query when none was written."""
    while True:
        time.sleep(AUDIT_SEAL_SECONDS)
        try:
            audit_seal()
        except Exception:
            # Two workers sealing at once on SQLite: one is refused and the other sealed.
            logger.exception("audit seal failed; it runs again shortly")
        finally:
            close_old_connections()


def _follow_parent(pid: int) -> None:
    """Ask this worker to stop, as Ctrl-C would, once its parent is gone (it was killed
    outright, so it could not stop us itself); it finishes the task in hand first."""
    while os.getppid() == pid:
        time.sleep(1)
    logger.warning("the process that started this worker is gone: stopping")
    os.kill(os.getpid(), signal.SIGTERM)


class Command(BaseCommand):
    help = "Run a background worker: outbox delivery, lease expiry, retries."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", action="store_true", help="Sweep once, run every queued task, then exit."
        )
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")
        parser.add_argument(
            "--with-parent",
            type=int,
            metavar="PID",
            help="Stop when process PID is gone (bailanys up passes its own).",
        )

    def handle(self, *, batch: bool, interval: float, with_parent: int | None = None, **options):
        if with_parent:
            threading.Thread(
                target=_follow_parent, args=(with_parent,), daemon=True, name="parent"
            ).start()
        try:
            audit_checkpoint_head()  # a log chained before checkpoints existed
        except Exception:
            logger.exception("could not sign the audit log's head; verify will say so")
        sweep(purge=True)
        if not batch:
            threading.Thread(
                target=_sweep_forever,
                args=(
                    settings.BAILANYS_WORKER_SWEEP_SECONDS,
                    settings.BAILANYS_PURGE_EVERY_SECONDS,
                ),
                daemon=True,
                name="sweep",
            ).start()
            threading.Thread(target=_outages_forever, daemon=True, name="outages").start()
            threading.Thread(target=_audit_seal_forever, daemon=True, name="audit").start()
        worker = Worker(
            queue_names=["*"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=not batch,
            max_tasks=None,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )
        if batch:
            worker.run()
            outbox_send_due()  # what the tasks just wrote
            _audit_seal_all()  # and its audit entries
            return
        _run_together(worker)


def _run_together(worker: Worker) -> None:
    """Run the task loop in this thread and the outbox pump in another (its sends in
    threads of their own, bailanys.outbox.pump).

    SIGTERM or Ctrl-C stops both after what they have in hand: the task running, the
    sends in flight, each marked as it went. A second one exits at once."""
    stopping = threading.Event()

    def stop(signum, frame) -> None:
        if stopping.is_set():
            os._exit(1)
        logger.warning("%s: stopping after the tasks and sends in hand", signal.strsignal(signum))
        stopping.set()
        worker.running = False

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    pump = threading.Thread(target=outbox_pump, args=(stopping,), name="outbox")
    pump.start()
    try:
        worker.run()
    finally:
        stopping.set()
        pump.join()
