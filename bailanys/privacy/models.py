from django.db import models


class AuditEntry(models.Model):
    """One read or change of personal data. Append-only, hash-chained.

    Holds who, what kind of object and which id, when and from where (a
    truncated network address), never the personal data itself. `hash` covers
    every other field and the previous entry's hash, so editing or deleting an
    entry breaks the chain at that point (`bailanys audit verify`).
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit {self.seq} {self.action}"


class AuditHead(models.Model):
    """A single row naming the last entry; appends lock it, so the chain is a line."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit head {self.seq}"


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
