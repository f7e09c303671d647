from django.db import models


class AuditEntry(models.Model):
    """One read or change of personal data. Appended with no lock, sealed later.

    Holds who, what kind of object and which id, when and from where (a
    truncated network address), never the personal data itself. A transaction
    inserts its entry and commits it with the change it records; the sealer
    (`privacy.audit.audit_seal`, in the worker) then gives it its place in the chain:
    `seq`, and `hash` over every other field and the previous entry's hash. An
    unsealed entry has no `seq` yet. Each sealed batch ends in a signed
    `AuditCheckpoint` (`bailanys audit verify`).
    """

    seq = models.PositiveBigIntegerField(unique=True, null=True, blank=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["id"], name="audit_unsealed", condition=models.Q(seq__isnull=True))
        ]

    def __str__(self) -> str:
        return f"audit {self.seq or 'unsealed'} {self.action}"


class AuditHead(models.Model):
    """A single row naming the last sealed entry; only the sealer takes its lock."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit head {self.seq}"


class AuditCheckpoint(models.Model):
    """The chain's head after a sealed batch, signed with a key kept outside the
    database (Ed25519, privacy.keys): whoever can write to the database can recompute
    hashes, not signatures. Published elsewhere, a checkpoint also proves nothing
    before it was cut off (docs/security.md, "Audit log")."""

    seq = models.PositiveBigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    def __str__(self) -> str:
        return f"audit checkpoint {self.seq}"


class AuditViews(models.Model):
    """Status-page views, counted per request and day rather than chained one by one:
    a requester's page refreshes itself every 30 seconds."""

    request_id = models.PositiveBigIntegerField()
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request_id", "day"], name="audit_views_one_a_day")
        ]

    def __str__(self) -> str:
        return f"request {self.request_id} viewed {self.views} times on {self.day}"


class RetentionTally(models.Model):
    """What a purge leaves behind: counts, for statistics, and nothing else."""

    day = models.DateField()
    kind = models.CharField(max_length=20)
    resolution = models.CharField(max_length=20, blank=True)
    cases = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "kind", "resolution"], name="one_tally_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.resolution}: {self.cases}"


class RateCounter(models.Model):
    """One flood-limit window of one source: how many hits it has had.

    Counted with one atomic upsert (INSERT … ON CONFLICT … DO UPDATE … RETURNING), so
    concurrent requests never both see the same count, and never evicted before
    `expires_at` (a cache may cull entries under load). `key` is a keyed hash of the
    source, never an address or a contact in clear. Used when REDIS_URL is not set.
    """

    key = models.CharField(max_length=120, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"rate counter {self.pk}"
