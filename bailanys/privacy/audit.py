"""The audit log: append an entry (no lock), seal and sign in the worker, verify."""

import hashlib
import ipaddress
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.http import HttpRequest
from django.utils import timezone

from bailanys.privacy.keys import keyring
from bailanys.privacy.models import AuditCheckpoint, AuditEntry, AuditHead, AuditViews
from bailanys.privacy.network import client_ip

GENESIS = "0" * 64


def _source(request: HttpRequest | None) -> str:
    """The network the request came from, never the full address: /24 or /48."""
    if request is None:
        return "local"
    raw = client_ip(request)
    if raw is None:
        return "unknown"
    address = ipaddress.ip_address(raw)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _digest(entry: AuditEntry) -> str:
    body = json.dumps(
        [
            entry.seq,
            entry.at.isoformat(),
            entry.actor,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.source,
            entry.detail,
            entry.prev_hash,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def actor_label(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return f"user:{user.pk}"


def audit_record(
    *,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: object = "",
    request: HttpRequest | None = None,
    detail: str = "",
) -> AuditEntry:
    """Append one entry: one INSERT in the caller's transaction, no lock. The worker's
    sealer chains and signs it about a second after it commits (audit_seal)."""
    return AuditEntry.objects.create(
        at=timezone.now(),
        actor=actor[:150],
        action=action[:40],
        object_type=object_type[:40],
        object_id=str(object_id)[:40],
        source=_source(request),
        detail=detail[:200],
    )


def audit_view_count(*, request_id: int) -> None:
    """A status page was viewed: counted for its request and day, not chained (the page
    refreshes itself every 30 seconds)."""
    day = timezone.localdate()
    views = AuditViews.objects.filter(request_id=request_id, day=day)
    if views.update(views=F("views") + 1):
        return
    try:
        with transaction.atomic():
            AuditViews.objects.create(request_id=request_id, day=day, views=1)
    except IntegrityError:  # another view made the row meanwhile
        views.update(views=F("views") + 1)


def audit_views_today() -> int:
    day = timezone.localdate()
    return AuditViews.objects.filter(day=day).aggregate(n=Sum("views"))["n"] or 0


SEAL_BATCH = 5000


def _checkpoint_message(seq: int, head: str, at) -> bytes:
    return f"bailanys-audit-checkpoint:{seq}:{head}:{at.isoformat()}".encode()


def audit_seal(*, limit: int = SEAL_BATCH) -> int:
    """Chain the entries written since the last seal, oldest first, and sign the new head.

    One sealer at a time: it takes the head row's lock, which nothing else takes (an
    append never waits for it). An entry whose transaction has not committed yet is not
    seen, and is sealed by a later call, after what was sealed before it. Returns how
    many entries were sealed.
    """
    unsealed = AuditEntry.objects.filter(seq__isnull=True)
    if not unsealed.exists():  # the usual answer, from the partial index: no lock taken
        return 0
    AuditHead.objects.get_or_create(pk=1)
    with transaction.atomic():
        # The update takes the lock on SQLite (a write) and PostgreSQL (the row) alike.
        AuditHead.objects.filter(pk=1).update(seq=F("seq"))
        head = AuditHead.objects.get(pk=1)
        batch = list(unsealed.order_by("id")[:limit])
        if not batch:
            return 0
        seq, prev = head.seq, head.hash
        for entry in batch:
            seq += 1
            entry.seq, entry.prev_hash = seq, prev
            entry.hash = prev = _digest(entry)
        AuditEntry.objects.bulk_update(batch, ["seq", "prev_hash", "hash"], batch_size=500)
        AuditHead.objects.filter(pk=1).update(seq=seq, hash=prev)
        _checkpoint(seq, prev)
    return len(batch)


def _checkpoint(seq: int, head: str) -> None:
    at = timezone.now()
    signing = keyring.audit_signing_key()
    AuditCheckpoint.objects.create(
        seq=seq,
        hash=head,
        at=at,
        key_id=audit_key_id(signing.public_key()),
        signature=signing.sign(_checkpoint_message(seq, head, at)).hex(),
    )


def audit_checkpoint_head() -> bool:
    """Sign the head if no checkpoint does: a log chained before checkpoints existed (the
    worker does this once as it starts). Returns whether it signed."""
    with transaction.atomic():
        AuditHead.objects.filter(pk=1).update(seq=F("seq"))  # the sealer's lock
        head = AuditHead.objects.filter(pk=1).first()
        if head is None or not head.seq or AuditCheckpoint.objects.filter(seq=head.seq).exists():
            return False
        _checkpoint(head.seq, head.hash)
    return True


def audit_key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(public.public_bytes_raw()).hexdigest()[:16]


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken_at: int | None
    reason: str
    unsealed: int = 0
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def audit_verify() -> ChainReport:
    """Walk the sealed chain from the start; report the first entry that does not fit.

    Each checkpoint's signature is checked with the audit key's public half, and its head
    against the chain at its place: a chain recomputed after an edit no longer matches a
    signature nobody without the key can make. The unsealed tail is counted.
    """
    public = keyring.audit_signing_key().public_key()
    our_key = audit_key_id(public)
    checkpoints = {c.seq: c for c in AuditCheckpoint.objects.all()}
    unsealed = AuditEntry.objects.filter(seq__isnull=True).count()
    expected_seq, prev = 1, GENESIS
    count = 0

    def report(at: int | None, reason: str = "") -> ChainReport:
        return ChainReport(count, at, reason, unsealed, len(checkpoints))

    sealed = AuditEntry.objects.filter(seq__isnull=False).order_by("seq")
    for entry in sealed.iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return report(expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return report(entry.seq, "does not follow the entry before it")
        if _digest(entry) != entry.hash:
            return report(entry.seq, "was changed after it was written")
        checkpoint = checkpoints.get(entry.seq)
        if checkpoint is not None:
            if checkpoint.hash != entry.hash:
                return report(entry.seq, "does not match its signed checkpoint")
            problem = _signature_problem(checkpoint, public, our_key)
            if problem:
                return report(entry.seq, problem)
        prev, expected_seq = entry.hash, expected_seq + 1
        count += 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.seq, head.hash) != (count, prev):
        return report(count + 1, f"entries after {count} were deleted")
    if checkpoints and max(checkpoints) > count:
        return report(count + 1, f"entries after {count} were deleted")
    if count and count not in checkpoints:
        return report(
            count, "the chain's head has no signed checkpoint (`bailanys audit seal` signs it)"
        )
    return report(None)


def _signature_problem(checkpoint, public: Ed25519PublicKey, our_key: str) -> str:
    if checkpoint.key_id != our_key:
        return f"its checkpoint was signed with another key ({checkpoint.key_id})"
    try:
        public.verify(
            bytes.fromhex(checkpoint.signature),
            _checkpoint_message(checkpoint.seq, checkpoint.hash, checkpoint.at),
        )
    except (InvalidSignature, ValueError):
        return "its checkpoint's signature does not verify"
    return ""


def audit_checkpoint_latest() -> str | None:
    """The latest checkpoint as one line to publish outside the server, with the public
    key that checks it: "seq hash at key_id signature public_key" (hex)."""
    latest = AuditCheckpoint.objects.order_by("-seq").first()
    if latest is None:
        return None
    public = keyring.audit_signing_key().public_key().public_bytes_raw().hex()
    parts = [str(latest.seq), latest.hash, latest.at.isoformat(), latest.key_id]
    return " ".join([*parts, latest.signature, public])
