"""The shutdown's state (docs/status.md): what works where, now, and since when.

Outside feeds (IODA, OONI, Cloudflare Radar) and our own sensors (SMS delivery reports,
call outcomes) give *readings*; the rules turn them into a *status* per entity (the
country, a region, a network) and channel. Statuses change; each change is kept, so a
timeline can be drawn for any past day. Nothing here names a person.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    INTERNET = "internet", _("Internet")
    TELEGRAM = "telegram", "Telegram"
    WHATSAPP = "whatsapp", "WhatsApp"
    SIGNAL = "signal", "Signal"
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Calls")


class State(models.TextChoices):
    UP = "up", _("Works")
    DEGRADED = "degraded", _("Partly")
    DOWN = "down", _("Down")
    BLOCKED = "blocked", _("Blocked")
    UNKNOWN = "unknown", _("Unknown")


class Entity(models.Model):
    """What IODA watches and we show: the country, its regions, its networks (ASNs)."""

    class Kind(models.TextChoices):
        COUNTRY = "country", _("Country")
        REGION = "region", _("Region")
        ASN = "asn", _("Network")

    key = models.CharField(max_length=40, unique=True)  # "country/KZ", "region/1507", "asn/9198"
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=80)
    # A mobile operator's name in phonenumbers' carrier data ("Beeline"); "" for others.
    carrier = models.CharField(max_length=40, blank=True)
    mobile = models.BooleanField(default=False)
    # For a region: the city it is named after or holds (parsing.cities), to match the
    # recipient's city; "" when none matched.
    city = models.CharField(max_length=60, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.key


class Fetch(models.Model):
    """One request to a feed, answered or not: an operator sees what was asked, when."""

    feed = models.CharField(max_length=10)
    path = models.CharField(max_length=200)  # no query string, never a token
    at = models.DateTimeField(db_index=True)
    ok = models.BooleanField()
    status = models.PositiveSmallIntegerField(null=True)
    note = models.CharField(max_length=200, blank=True)
    ms = models.PositiveIntegerField(default=0)
    replayed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.feed} {self.path} {self.at:%Y-%m-%d %H:%M}"


class Feed(models.Model):
    """A feed's back-off: failures in a row and when to ask it again."""

    name = models.CharField(max_length=10, unique=True)
    failures = models.PositiveIntegerField(default=0)
    next_at = models.DateTimeField(null=True)
    last_ok_at = models.DateTimeField(null=True)
    last_try_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return self.name


class Reading(models.Model):
    """The latest figure a feed gave for an entity and a metric (bgp, telegram, event…)."""

    source = models.CharField(max_length=10)
    entity = models.CharField(max_length=40)
    metric = models.CharField(max_length=20)
    at = models.DateTimeField()
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "entity", "metric"], name="outage_reading_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.entity} {self.metric}"


class Sensor(models.Model):
    """What our own traffic saw: an SMS delivered or failed, a call reached or not."""

    class Kind(models.TextChoices):
        SMS = "sms", _("SMS")
        VOICE = "voice", _("Call")
        TELEGRAM = "telegram", "Telegram"
        GATEWAY = "gateway", _("Gateway")

    class Result(models.TextChoices):
        OK = "ok", _("Went through")
        FAIL = "fail", _("Failed")
        RANG = "rang", _("Rang, no answer")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    operator = models.CharField(max_length=40, blank=True)  # a carrier name, not a number
    region = models.CharField(max_length=40, blank=True)  # an entity key, or ""
    result = models.CharField(max_length=5, choices=Result.choices)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "at"], name="outage_sensor_kind_at")]

    def __str__(self) -> str:
        return f"{self.kind} {self.result}"


class Status(models.Model):
    """The state of a channel on an entity now (the rules' latest word)."""

    entity = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    state = models.CharField(max_length=10, choices=State.choices)
    since = models.DateTimeField()
    confidence = models.PositiveSmallIntegerField(default=0)
    evidence = models.JSONField(default=list)
    evaluated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "channel"], name="outage_status_once")
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.channel}: {self.state}"


class StatusChange(models.Model):
    """A channel on an entity changed state: kept for good, never changed (the timeline)."""

    entity = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    state = models.CharField(max_length=10, choices=State.choices)
    at = models.DateTimeField()
    confidence = models.PositiveSmallIntegerField(default=0)
    evidence = models.JSONField(default=list)
    replayed = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["entity", "channel", "at"], name="outage_change_lookup"),
            models.Index(fields=["at"], name="outage_change_at"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.channel}: {self.state} at {self.at:%Y-%m-%d %H:%M}"


class Announce(models.Model):
    """Posting state changes to a Telegram channel (one row): what GlobalCheck did by hand.

    The chat is a public channel or group ("@kz_status", "-100…"), not a person."""

    chat = models.CharField(max_length=64, blank=True)
    on = models.BooleanField(default=False)
    language = models.CharField(max_length=5, default="ru")
    # Changes from a replayed timeline (a rehearsal) are posted only when this is on.
    rehearsals = models.BooleanField(default=False)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"announce {'on' if self.on else 'off'}"
