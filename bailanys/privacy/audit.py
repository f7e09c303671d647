"""The audit log: append an entry, verify the chain."""

import hashlib
import ipaddress
import json
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from bailanys.privacy.models import AuditEntry, AuditHead
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
    """Append one entry. Takes the chain's lock (the head row) for its transaction."""
    with transaction.atomic():
        head, _created = AuditHead.objects.select_for_update().get_or_create(pk=1)
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            actor=actor[:150],
            action=action[:40],
            object_type=object_type[:40],
            object_id=str(object_id)[:40],
            source=_source(request),
            detail=detail[:200],
            prev_hash=head.hash,
        )
        entry.hash = _digest(entry)
        entry.save()
        AuditHead.objects.filter(pk=1).update(seq=entry.seq, hash=entry.hash)
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken_at: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def audit_verify() -> ChainReport:
    """Walk the chain from the start; report the first entry that does not fit."""
    expected_seq, prev = 1, GENESIS
    count = 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return ChainReport(count, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return ChainReport(count, entry.seq, "does not follow the entry before it")
        if _digest(entry) != entry.hash:
            return ChainReport(count, entry.seq, "was changed after it was written")
        prev, expected_seq = entry.hash, expected_seq + 1
        count += 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.seq, head.hash) != (count, prev):
        return ChainReport(count, count + 1, f"entries after {count} were deleted")
    return ChainReport(count, None, "")
