"""Proxies handed out the way Tor hands out bridges (docs/proxies.md).

A *proxy* is one link (MTProto or SOCKS5) in a *pool*: public (anyone), trusted (numbers a
volunteer vouched for) or reserved (kept back until a coordinator releases it, in waves).
Proxies are handed out in *buckets* of 2-3; a bucket serves at most a few requesters, and a
*requester* (a keyed hash of a number or a Telegram id, never the number) keeps its bucket,
so asking again reveals nothing new.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bailanys.privacy.fields import SealedModel, SealedTextField


class Pool(models.TextChoices):
    PUBLIC = "public", _("Public")
    TRUSTED = "trusted", _("Trusted")
    RESERVED = "reserved", _("Reserved")


class Bucket(models.Model):
    """A few proxies handed out together, to at most BAILANYS_PROXY_BUCKET_REQUESTERS."""

    pool = models.CharField(max_length=10, choices=Pool.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    # Requesters ever given this bucket (moved ones included): the bucket is full at the limit.
    joined = models.PositiveIntegerField(default=0)
    # A proxy of it was blocked: a censor had the bucket; its requesters were moved.
    blocked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"bucket {self.pk} ({self.pool})"


class Proxy(SealedModel):
    class Kind(models.TextChoices):
        MTPROTO = "mtproto", "MTProto"
        SOCKS = "socks", "SOCKS5"

    class State(models.TextChoices):
        STOCKED = "stocked", _("Stocked")  # never handed out
        ACTIVE = "active", _("Active")  # in a bucket people hold
        SUSPECT = "suspect", _("Suspect")  # two signals say blocked: handed out no more
        BLOCKED = "blocked", _("Blocked")  # blocked: its bucket's requesters were moved
        RETIRED = "retired", _("Retired")  # taken out by a coordinator

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The whole link (server, port, secret, SOCKS password): sealed like any personal field.
    link = SealedTextField()
    # Keyed hash of what makes it this proxy: the same link twice is one proxy.
    fingerprint = models.CharField(max_length=64, unique=True)
    pool = models.CharField(max_length=10, choices=Pool.choices, default=Pool.PUBLIC)
    state = models.CharField(max_length=10, choices=State.choices, default=State.STOCKED)
    bucket = models.ForeignKey(
        Bucket, null=True, blank=True, on_delete=models.SET_NULL, related_name="proxies"
    )
    # Health checks from this server: failures in a row, and since when it is down (3 in a row).
    check_failures = models.PositiveSmallIntegerField(default=0)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True)
    down_since = models.DateTimeField(null=True, blank=True)
    # A reserved proxy released by a coordinator (a wave): it may be handed out.
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["pool", "state"], name="proxy_pool_state")]

    def __str__(self) -> str:
        return f"proxy {self.pk} ({self.pool}, {self.state})"  # never the address


class ProxyRequester(models.Model):
    """Someone who asked for proxies, or was vouched for: a keyed hash, never a number."""

    key = models.CharField(max_length=64, unique=True)
    bucket = models.ForeignKey(
        Bucket, null=True, blank=True, on_delete=models.SET_NULL, related_name="requesters"
    )
    # Buckets given over its lifetime (BAILANYS_PROXY_BUCKETS_PER_REQUESTER caps them).
    buckets_given = models.PositiveSmallIntegerField(default=0)
    vouched_at = models.DateTimeField(null=True, blank=True)
    last_answer_at = models.DateTimeField(null=True, blank=True)
    # The one "too soon" reply of the current window went out: further asks get silence.
    warned_at = models.DateTimeField(null=True, blank=True)
    # The bucket changed since the last answer (moved after a report or a block): the next
    # ask is answered at once, whatever the 3-hour limit says.
    moved = models.BooleanField(default=False)
    # Its bucket was blocked: the next bucket does not count against the lifetime cap.
    block_moved = models.BooleanField(default=False)
    # Salmon: each blocked bucket of n requesters multiplies this by (n-1)/n.
    innocence = models.FloatField(default=1.0)
    first_seen = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"proxy requester {self.pk}"


class ProxyReport(models.Model):
    """A requester said a proxy of its bucket does not work (NOWORK)."""

    proxy = models.ForeignKey(Proxy, on_delete=models.CASCADE, related_name="reports")
    requester = models.ForeignKey(ProxyRequester, on_delete=models.CASCADE)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proxy", "requester"], name="one_report_per_requester")
        ]

    def __str__(self) -> str:
        return f"report on proxy {self.proxy_id}"


class ProxyEvent(models.Model):
    """Counts for the coordinator page: hand-outs, blocks, waves. No requester in it."""

    class Kind(models.TextChoices):
        HANDED = "handed", _("Hand-out")
        SUSPECT = "suspect", _("Proxy suspect")
        BLOCKED = "blocked", _("Bucket blocked")
        DOWN = "down", _("Proxy down")
        UP = "up", _("Proxy back up")
        RELEASED = "released", _("Reserve released")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    pool = models.CharField(max_length=10, choices=Pool.choices, blank=True)
    channel = models.CharField(max_length=10, blank=True)
    count = models.PositiveIntegerField(default=1)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} x{self.count}"


class ProxySwitch(models.Model):
    """The coordinator's switch: a full shutdown, when proxies cannot help (one row)."""

    full_shutdown = models.BooleanField(default=False)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "full shutdown" if self.full_shutdown else "proxies handed out"
