"""Handing out proxies: the pool, buckets, asking, reports, trust, health (docs/proxies.md).

Callers (the SMS keywords, the Telegram bot, the CLI, the console) pass a requester *key*
(`key_for_number`, `key_for_telegram`): a keyed hash, so this app never holds a number.
Each function that changes state runs in one transaction and takes the requester's row
first, so two SMS from one number at once cannot both be answered.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from bailanys.outages.services import mobile_data_down
from bailanys.privacy.audit import audit_record
from bailanys.privacy.crypto import blind_index
from bailanys.privacy.ratelimit import Limit, rate_limit_hit
from bailanys.proxies.links import LinkError, ProxyLink, parse_link
from bailanys.proxies.models import (
    Bucket,
    Pool,
    Proxy,
    ProxyEvent,
    ProxyReport,
    ProxyRequester,
    ProxySwitch,
)

logger = logging.getLogger("bailanys.proxies")

DOWN_AFTER = 3  # health-check failures in a row that mark a proxy down
HANDED_OUT = (Proxy.State.ACTIVE,)


# --- Keys -----------------------------------------------------------------------


def key_for_number(e164: str) -> str:
    """A requester asking by SMS: the keyed hash of its E.164 number."""
    return blind_index(f"proxy-requester:sms:{e164}")


def key_for_telegram(user_id: int | str) -> str:
    """A requester asking through the bot: the keyed hash of its Telegram user id."""
    return blind_index(f"proxy-requester:telegram:{user_id}")


# --- The pool ---------------------------------------------------------------------


def _fingerprint(link: ProxyLink) -> str:
    return blind_index(f"proxy:{link.identity()}")


@dataclass
class ImportResult:
    added: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def proxies_import(lines, *, pool: str = Pool.PUBLIC, actor: str = "cli") -> ImportResult:
    """Add one link a line; blank lines and lines starting with # are skipped.

    Every good line is added even when others are refused; a refused line is reported with
    its number and the reason (never its secret). A link already in the pool, in any pool,
    counts as a duplicate and is left as it is.
    """
    if pool not in Pool.values:
        raise ValueError(f"no pool {pool!r}")
    result = ImportResult()
    seen: set[str] = set()
    with transaction.atomic():
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                link = parse_link(text)
            except LinkError as exc:
                result.errors.append((number, str(exc)))
                continue
            fingerprint = _fingerprint(link)
            if fingerprint in seen or Proxy.objects.filter(fingerprint=fingerprint).exists():
                result.duplicates += 1
                continue
            seen.add(fingerprint)
            try:
                with transaction.atomic():  # another import adding it at this moment
                    Proxy.objects.create(
                        kind=link.kind, link=link.tg_url(), fingerprint=fingerprint, pool=pool
                    )
            except IntegrityError:
                result.duplicates += 1
                continue
            result.added += 1
        if result.added:
            audit_record(
                actor=actor,
                action="proxy.import",
                object_type="proxy",
                detail=f"{result.added} added to {pool}",
            )
    return result


def proxy_find(text: str) -> Proxy | None:
    """The proxy a link names (LinkError if it is not a link)."""
    return Proxy.objects.filter(fingerprint=_fingerprint(parse_link(text))).first()


def proxy_link(proxy: Proxy) -> ProxyLink:
    return parse_link(proxy.link)


def _usable() -> Q:
    return Q(state__in=HANDED_OUT, down_since__isnull=True)


def _usable_links(bucket: Bucket | None) -> list[ProxyLink]:
    if bucket is None or bucket.blocked_at is not None:
        return []
    return [proxy_link(p) for p in bucket.proxies.filter(_usable()).order_by("pk")]


# --- Asking -----------------------------------------------------------------------


class Outcome(StrEnum):
    LINKS = "links"  # here are your proxies
    TOO_SOON = "too_soon"  # the one reply of a window: ask again later
    SILENT = "silent"  # asked again in the window after "too soon": no answer at all
    SHUTDOWN = "shutdown"  # a full shutdown: proxies cannot help now
    NO_DATA = "no_data"  # the feeds say mobile internet is down everywhere (docs/status.md)
    NONE_LEFT = "none_left"  # no proxy to give now
    NO_MORE = "no_more"  # this requester may get no new bucket (cap, or Salmon)
    NO_BUCKET = "no_bucket"  # a report from someone we gave nothing
    NOTED = "noted"  # a report recorded; one more signal is needed


@dataclass
class Answer:
    outcome: Outcome
    links: list[ProxyLink] = field(default_factory=list)
    since: datetime | None = None  # NO_DATA: since when mobile internet is down


def _no_data() -> Answer | None:
    """Mobile internet is down everywhere we can tell (the shutdown's state): a proxy
    cannot help, so none is handed out and the requester's window is not used: asked
    again once the internet is back, the links come at once. The coordinators' switch
    (SHUTDOWN) comes first and works as it always did."""
    if shutdown_on():
        return None
    cut = mobile_data_down()
    return None if cut is None else Answer(Outcome.NO_DATA, since=cut.since)


def shutdown_on() -> bool:
    """Proxies cannot help now: a coordinator said the shutdown is total (docs/proxies.md)."""
    switch = ProxySwitch.objects.filter(pk=1).first()
    return bool(switch and switch.full_shutdown)


def shutdown_set(*, on: bool, actor: str, request=None) -> None:
    ProxySwitch.objects.update_or_create(pk=1, defaults={"full_shutdown": on})
    audit_record(
        actor=actor,
        action="proxy.shutdown" if on else "proxy.resume",
        object_type="proxy",
        request=request,
    )


def _requester(key: str) -> ProxyRequester:
    ProxyRequester.objects.get_or_create(key=key)
    return ProxyRequester.objects.select_for_update().get(key=key)


def _window_open(requester: ProxyRequester, now) -> bool:
    """An answer went out less than BAILANYS_PROXY_ANSWER_HOURS ago."""
    hours = settings.BAILANYS_PROXY_ANSWER_HOURS
    last = requester.last_answer_at
    return last is not None and now - last < timedelta(hours=hours)


def _suspicious(requester: ProxyRequester) -> bool:
    return 1 - requester.innocence >= settings.BAILANYS_PROXY_MAX_SUSPICION / 100


def _pools_for(requester: ProxyRequester) -> list[str]:
    """Vouched numbers get the trusted pool first; anyone else the public pool only."""
    return [Pool.TRUSTED, Pool.PUBLIC] if requester.vouched_at else [Pool.PUBLIC]


def _bucket_join(pool: str, *, avoid) -> Bucket | None:
    """The bucket now being filled in `pool` (one with room and a usable proxy, not in
    `avoid`), else a new one made of stocked proxies; None when the pool has neither."""
    limit = settings.BAILANYS_PROXY_BUCKET_REQUESTERS
    open_buckets = (
        Bucket.objects.filter(pool=pool, blocked_at__isnull=True, joined__lt=limit)
        .exclude(pk__in=avoid)
        .filter(proxies__in=Proxy.objects.filter(_usable()))
        .distinct()
        .order_by("pk")
    )
    for bucket in open_buckets[:5]:
        if Bucket.objects.filter(pk=bucket.pk, joined__lt=limit).update(joined=F("joined") + 1):
            return bucket
    size = settings.BAILANYS_PROXY_BUCKET_SIZE
    stock = list(
        Proxy.objects.select_for_update(skip_locked=True)
        .filter(pool=pool, state=Proxy.State.STOCKED, down_since__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:size]
    )
    if len(stock) < 2:
        return None
    bucket = Bucket.objects.create(pool=pool, joined=1)
    now = timezone.now()
    Proxy.objects.filter(pk__in=stock, state=Proxy.State.STOCKED).update(
        bucket=bucket, state=Proxy.State.ACTIVE, state_changed_at=now
    )
    return bucket


def _new_bucket(requester: ProxyRequester, *, channel: str, exempt: bool) -> Outcome | None:
    """Give `requester` a fresh bucket; None when done, else why not."""
    if _suspicious(requester):
        return Outcome.NO_MORE
    if not exempt and requester.buckets_given >= settings.BAILANYS_PROXY_BUCKETS_PER_REQUESTER:
        return Outcome.NO_MORE
    # Never back to the bucket it holds or one it reported.
    avoid = {requester.bucket_id} - {None}
    avoid |= set(
        ProxyReport.objects.filter(requester=requester).values_list("proxy__bucket", flat=True)
    ) - {None}
    for pool in _pools_for(requester):
        bucket = _bucket_join(pool, avoid=avoid)
        if bucket is not None:
            requester.bucket = bucket
            requester.buckets_given += 1
            requester.block_moved = False
            return None
    return Outcome.NONE_LEFT


def proxies_ask(key: str, *, channel: str) -> Answer:
    """Someone asked for proxies (PROXY, /proxy): what to answer.

    The same requester gets the same bucket; one answer per BAILANYS_PROXY_ANSWER_HOURS (a
    single "too soon", then silence), except right after its bucket was moved.
    """
    now = timezone.now()
    with transaction.atomic():
        requester = _requester(key)
        if _window_open(requester, now) and not requester.moved:
            if requester.warned_at is None or requester.warned_at < requester.last_answer_at:
                requester.warned_at = now
                requester.save(update_fields=["warned_at"])
                return Answer(Outcome.TOO_SOON)
            return Answer(Outcome.SILENT)
        if (no_data := _no_data()) is not None:
            return no_data
        requester.last_answer_at = now
        requester.moved = False
        if shutdown_on():
            requester.save()
            return Answer(Outcome.SHUTDOWN)
        answer = _links_for(requester, channel=channel)
        requester.save()
        return answer


def _links_for(requester: ProxyRequester, *, channel: str) -> Answer:
    """The requester's bucket's usable proxies, giving it a bucket first if it needs one."""
    links = _usable_links(requester.bucket)
    if not links:
        # Only a move its own reports caused (it then holds no bucket) counts against the
        # lifetime cap; a bucket blocked, retired or down is not the requester's doing.
        exempt = requester.block_moved or requester.bucket is not None
        refused = _new_bucket(requester, channel=channel, exempt=exempt)
        if refused is not None:
            return Answer(refused)
        links = _usable_links(requester.bucket)
    ProxyEvent.objects.create(
        kind=ProxyEvent.Kind.HANDED, pool=requester.bucket.pool, channel=channel
    )
    return Answer(Outcome.LINKS, links)


# --- Reports, suspicion, blocks ---------------------------------------------------


def proxies_report(key: str, *, channel: str) -> Answer:
    """A requester says its proxies do not work (NOWORK, the bot's button).

    Each handed-out proxy of its bucket gets a report. A proxy is suspect when two
    independent signals agree: reports from two requesters, or a report and a failed health
    check. The requesters who reported a suspect proxy get a fresh bucket (this one at
    once); a bucket left with nothing but suspect proxies is blocked.
    """
    now = timezone.now()
    with transaction.atomic():
        requester = ProxyRequester.objects.select_for_update().filter(key=key).first()
        if requester is None or requester.bucket is None:
            return Answer(Outcome.NO_BUCKET)
        bucket = requester.bucket
        new = 0
        for proxy in bucket.proxies.filter(state__in=HANDED_OUT):
            new += ProxyReport.objects.get_or_create(proxy=proxy, requester=requester)[1]
            _judge(proxy, now)
        requester.refresh_from_db()
        if requester.bucket_id == bucket.pk and _usable_links(bucket):
            # Reported before and nothing new to say: no second "thank you" SMS.
            return Answer(Outcome.NOTED if new else Outcome.SILENT)
        # Moved (or its bucket has nothing left): the new links at once, not in 3 hours.
        if (no_data := _no_data()) is not None:
            return no_data
        requester.last_answer_at = now
        requester.moved = False
        if shutdown_on():
            requester.save()
            return Answer(Outcome.SHUTDOWN)
        answer = _links_for(requester, channel=channel)
        requester.save()
        return answer


def _judge(proxy: Proxy, now) -> None:
    """Make `proxy` suspect if two independent signals now agree."""
    if proxy.state not in HANDED_OUT:
        return
    reporters = proxy.reports.values("requester").distinct().count()
    failed_check = proxy.last_check_ok is False
    if reporters >= 2 or (reporters >= 1 and failed_check):
        Proxy.objects.filter(pk=proxy.pk).update(state=Proxy.State.SUSPECT, state_changed_at=now)
        ProxyEvent.objects.create(kind=ProxyEvent.Kind.SUSPECT, pool=proxy.pool)
        logger.warning("proxy %s is suspect (%d reports)", proxy.pk, reporters)
        _move_reporters(proxy)
        bucket = proxy.bucket
        if bucket is not None and not bucket.proxies.filter(state__in=HANDED_OUT).exists():
            bucket_block(bucket, now=now)


def _move_reporters(proxy: Proxy) -> None:
    """The requesters who reported `proxy` and still hold its bucket lose it (marked moved):
    their next answer, at once, is a fresh bucket, counted against their cap."""
    ProxyRequester.objects.filter(
        pk__in=proxy.reports.values("requester"), bucket_id=proxy.bucket_id
    ).update(bucket_id=None, moved=True)


def bucket_block(bucket: Bucket, *, now=None) -> None:
    """A censor had this bucket: its proxies are blocked, every requester of it is moved
    (the next bucket outside their cap), and each one's innocence shrinks as in Salmon."""
    now = now or timezone.now()
    if Bucket.objects.filter(pk=bucket.pk, blocked_at__isnull=True).update(blocked_at=now) == 0:
        return
    bucket.proxies.filter(state__in=(Proxy.State.ACTIVE, Proxy.State.SUSPECT)).update(
        state=Proxy.State.BLOCKED, state_changed_at=now
    )
    holders = ProxyRequester.objects.filter(bucket=bucket)
    # Everyone ever given the bucket shares the blame (Salmon: n users, innocence * (n-1)/n).
    # n is the bucket's full size even when fewer joined: two people in a young bucket found
    # by a scan are not banned for it at once (a third of 1/2 would ban both).
    n = max(bucket.joined, settings.BAILANYS_PROXY_BUCKET_REQUESTERS)
    holders.update(innocence=F("innocence") * (n - 1) / n, moved=True, block_moved=True)
    ProxyRequester.objects.filter(
        pk__in=ProxyReport.objects.filter(proxy__bucket=bucket).values("requester")
    ).exclude(bucket=bucket).update(innocence=F("innocence") * (n - 1) / n)
    ProxyEvent.objects.create(kind=ProxyEvent.Kind.BLOCKED, pool=bucket.pool)
    logger.warning("proxy bucket %s is blocked; its requesters are moved", bucket.pk)


def proxy_block(proxy: Proxy, *, actor: str, request=None) -> None:
    """A coordinator knows this proxy is blocked: its whole bucket is."""
    with transaction.atomic():
        now = timezone.now()
        if proxy.bucket is not None:
            bucket_block(proxy.bucket, now=now)
        _proxy_set(proxy, Proxy.State.BLOCKED, "proxy.block", now=now, actor=actor, request=request)


def proxy_retire(proxy: Proxy, *, actor: str, request=None) -> None:
    """Take a proxy out of circulation (its server is gone): no one is blamed."""
    with transaction.atomic():
        _proxy_set(
            proxy,
            Proxy.State.RETIRED,
            "proxy.retire",
            now=timezone.now(),
            actor=actor,
            request=request,
        )


def _proxy_set(proxy: Proxy, state: str, action: str, *, now, actor: str, request) -> None:
    """A coordinator's decision on one proxy: its new state, audited as `action`."""
    Proxy.objects.filter(pk=proxy.pk).update(state=state, state_changed_at=now)
    audit_record(
        actor=actor,
        action=action,
        object_type="proxy",
        object_id=proxy.pk,
        request=request,
    )


# --- Trust and the reserve --------------------------------------------------------


def proxy_vouch(key: str, *, actor: str, request=None) -> bool:
    """A volunteer or coordinator vouches for a number: it gets the trusted pool. Returns
    False when it was already vouched for; Throttled past BAILANYS_PROXY_VOUCH_LIMIT
    numbers for one account."""
    with transaction.atomic():
        requester = _requester(key)
        if requester.vouched_at is not None:
            return False
        rate_limit_hit(
            scope="proxy-vouch",
            source=actor,
            limit=Limit.parse(settings.BAILANYS_PROXY_VOUCH_LIMIT),
        )
        requester.vouched_at = timezone.now()
        requester.save(update_fields=["vouched_at"])
        audit_record(
            actor=actor,
            action="proxy.vouch",
            object_type="proxy-requester",
            object_id=requester.pk,
            request=request,
        )
    return True


def too_many_vouches() -> str:
    """What an account past BAILANYS_PROXY_VOUCH_LIMIT is told."""
    return _("You have vouched for many numbers today. Try again tomorrow.")


def proxies_release(count: int, *, to: str, actor: str, request=None) -> int:
    """A wave: `count` reserved proxies go to the `to` pool, to be handed out. Returns how
    many (fewer when the reserve holds fewer)."""
    if to not in (Pool.PUBLIC, Pool.TRUSTED):
        raise ValueError(f"cannot release to {to!r}")
    with transaction.atomic():
        now = timezone.now()
        chosen = list(
            Proxy.objects.filter(pool=Pool.RESERVED, state=Proxy.State.STOCKED)
            .order_by("pk")
            .values_list("pk", flat=True)[: max(count, 0)]
        )
        released = Proxy.objects.filter(pk__in=chosen).update(pool=to, released_at=now)
        if released:
            ProxyEvent.objects.create(kind=ProxyEvent.Kind.RELEASED, pool=to, count=released)
            audit_record(
                actor=actor,
                action="proxy.release",
                object_type="proxy",
                detail=f"{released} to {to}",
                request=request,
            )
    return released


# --- Health -----------------------------------------------------------------------


def proxies_check(*, now=None, limit: int = 200) -> dict[str, int]:
    """Check the stocked and handed-out proxies due for it (every
    BAILANYS_PROXY_CHECK_SECONDS): a TCP connect, and for fake-TLS secrets a TLS handshake
    naming the secret's domain. DOWN_AFTER failures in a row mark a proxy down (not handed
    out) until a check passes again. Returns counts."""
    from bailanys.proxies.probe import probe_many

    now = now or timezone.now()
    due_before = now - timedelta(seconds=settings.BAILANYS_PROXY_CHECK_SECONDS)
    due = list(
        Proxy.objects.filter(state__in=(Proxy.State.STOCKED, Proxy.State.ACTIVE))
        .filter(Q(last_check_at__isnull=True) | Q(last_check_at__lte=due_before))
        .order_by(F("last_check_at").asc(nulls_first=True), "pk")[:limit]
    )
    targets = []
    for proxy in due:
        link = proxy_link(proxy)
        targets.append((proxy.pk, link.server, link.port, link.fake_tls_domain or None))
    results = probe_many(targets, timeout=5.0) if targets else {}
    counts = {"checked": len(due), "failed": 0, "down": 0, "up": 0}
    for proxy in due:
        reason = results.get(proxy.pk, "no result")
        with transaction.atomic():
            if reason is None:
                Proxy.objects.filter(pk=proxy.pk).update(
                    check_failures=0, last_check_ok=True, last_check_at=now, down_since=None
                )
                if proxy.down_since is not None:
                    counts["up"] += 1
                    ProxyEvent.objects.create(kind=ProxyEvent.Kind.UP, pool=proxy.pool)
                continue
            counts["failed"] += 1
            failures = proxy.check_failures + 1
            down = proxy.down_since or (now if failures >= DOWN_AFTER else None)
            Proxy.objects.filter(pk=proxy.pk).update(
                check_failures=failures, last_check_ok=False, last_check_at=now, down_since=down
            )
            if down is not None and proxy.down_since is None:
                counts["down"] += 1
                ProxyEvent.objects.create(kind=ProxyEvent.Kind.DOWN, pool=proxy.pool)
                logger.warning(
                    "proxy %s is down (%s, %d checks in a row)", proxy.pk, reason, failures
                )
            proxy.refresh_from_db()
            _judge(proxy, now)  # a failed check and a report are two signals
    return counts


# --- What coordinators see, and forgetting ------------------------------------------


def proxies_overview(*, days: int = 7) -> dict:
    """Counts only: the pool by pool and state, proxies down, hand-outs and blocks a day."""
    by = {
        (row["pool"], row["state"]): row["n"]
        for row in Proxy.objects.values("pool", "state").annotate(n=Count("pk"))
    }
    since = timezone.now() - timedelta(days=days)
    daily = (
        ProxyEvent.objects.filter(at__gte=since)
        .annotate(day=TruncDate("at"))
        .values("day", "kind")
        .annotate(n=Count("pk"), total=Sum("count"))
        .order_by("-day")
    )
    per_day: dict = {}
    for row in daily:
        per_day.setdefault(row["day"], {})[row["kind"]] = row["total"] or row["n"]
    return {
        "pools": [
            {
                "pool": pool,
                "label": Pool(pool).label,
                "states": {state: by.get((pool, state), 0) for state in Proxy.State.values},
                "down": Proxy.objects.filter(pool=pool, down_since__isnull=False)
                .exclude(state__in=(Proxy.State.BLOCKED, Proxy.State.RETIRED))
                .count(),
                # What new buckets can be made of (as _bucket_join takes it): stocked, not
                # down, and for the reserve only what was released.
                "stock": Proxy.objects.filter(
                    pool=pool, state=Proxy.State.STOCKED, down_since__isnull=True
                )
                .filter(Q(released_at__isnull=False) | ~Q(pool=Pool.RESERVED))
                .count(),
            }
            for pool in Pool.values
        ],
        "days": [{"day": day, **kinds} for day, kinds in sorted(per_day.items(), reverse=True)],
        "requesters": ProxyRequester.objects.count(),
        "vouched": ProxyRequester.objects.filter(vouched_at__isnull=False).count(),
        "buckets": Bucket.objects.count(),
        "buckets_blocked": Bucket.objects.filter(blocked_at__isnull=False).count(),
        "full_shutdown": shutdown_on(),
    }


def proxies_purge(now, closed_before, hard_before) -> dict[str, int]:
    """Requesters not answered for BAILANYS_PROXY_REQUESTER_DAYS and never vouched for are
    forgotten, with their reports."""
    cutoff = now - timedelta(days=settings.BAILANYS_PROXY_REQUESTER_DAYS)
    stale = ProxyRequester.objects.filter(vouched_at__isnull=True).filter(
        Q(last_answer_at__lt=cutoff) | Q(last_answer_at__isnull=True, first_seen__lt=cutoff)
    )
    deleted, _ = stale.delete()
    return {"proxy requesters": deleted}
