"""Key rotation, the emergency wipe and the retention purge."""

import os
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from bailanys.privacy import crypto, keys
from bailanys.privacy.audit import audit_record
from bailanys.privacy.fields import sealed_models
from bailanys.privacy.keys import keyring
from bailanys.privacy.ratelimit import rate_counters_clear
from bailanys.privacy.registry import personal_models, purgers


def keys_rotate(*, settle_seconds: float = 2.0) -> dict:
    """Re-wrap every data key under a new master key; messages are not decrypted.

    Other processes pick up the new key file at their next wrap (they check its
    modification time), so nothing stops. The old key is dropped only after a
    pass that finds no row still under it, taken `settle_seconds` after the
    last one, so a row written during the rotation is caught too.
    """
    if not keyring.from_environment:
        keyring.add_current(keys.new_key())
    current = keyring.master().current_id
    rewrapped = 0
    while True:
        found = _rewrap_pass(current)
        rewrapped += found
        if not found:
            if settle_seconds:
                time.sleep(settle_seconds)
                if _rewrap_pass(current):
                    continue
            break
    dropped = keyring.drop_old()
    audit_record(actor="cli", action="keys.rotate", detail=f"{rewrapped} data keys re-wrapped")
    return {"current_key": current, "rewrapped": rewrapped, "dropped_keys": dropped}


def _rewrap_pass(current: str) -> int:
    count = 0
    for model in sealed_models():
        stale = model.objects.exclude(data_key="").exclude(data_key__startswith=f"k1:{current}:")
        for row in stale.only("pk", "uid", "data_key").iterator(chunk_size=500):
            plain = crypto.data_key_unwrap(row.data_key, aad=row.key_aad())
            new = crypto.data_key_wrap(plain, aad=row.key_aad())
            # Compare-and-set: a row re-wrapped meanwhile is left as it is.
            count += model.objects.filter(pk=row.pk, data_key=row.data_key).update(data_key=new)
    return count


def _shred(path: Path) -> bool:
    """Overwrite a key file with random bytes, flush it, and remove it."""
    if not path.exists():
        return False
    size = max(path.stat().st_size, 64)
    with open(path, "r+b") as f:
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
    return True


def wipe() -> dict:
    """Destroy the keys and every personal row (crypto-shredding).

    Without the keys, ciphertext left anywhere (free pages, the WAL, a backup
    made after the last rotation) cannot be read. Keys given in the
    environment cannot be destroyed from here: the report says so.
    """
    deleted = {}
    # Every model an app registered (privacy.registry), in its order (rows that others
    # protect go after those), then any sealed model left: no row sealed under the keys
    # destroyed below may stay, or the app could not read it after the wipe.
    registered = personal_models()
    with transaction.atomic():
        for model in registered + [m for m in sealed_models() if m not in registered]:
            _n, per_model = model.objects.all().delete()
            for label, n in per_model.items():
                deleted[label] = deleted.get(label, 0) + n
    data_dir = Path(settings.DATA_DIR)
    # Flood-limit counters are keyed by hashes of addresses and contacts.
    cache.clear()
    rate_counters_clear()
    key_files = (keys.MASTER_FILE, keys.INDEX_FILE, "secret_key")
    shredded = [name for name in key_files if _shred(data_dir / name)]
    keyring.forget()
    _compact()
    audit_record(actor="cli", action="wipe", detail=f"{sum(deleted.values())} rows deleted")
    return {
        "deleted": deleted,
        "key_files_destroyed": shredded,
        "keys_in_environment": [
            name for name in ("BAILANYS_MASTER_KEY", "BAILANYS_INDEX_KEY") if os.environ.get(name)
        ],
    }


def _compact() -> None:
    """Give freed pages back so old ciphertext does not linger in the files."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif connection.vendor == "postgresql":
            cursor.execute("VACUUM")


def retention_purge(*, now=None) -> dict:
    """Delete what is past its retention limits, through every purger the apps registered.

    BAILANYS_RETENTION_DAYS after it was closed or handled, and anything after
    BAILANYS_RETENTION_MAX_DAYS. Returns the counts by what was deleted
    ({"cases": …, "requests": …, "posts": …}); an audit line says them, numbers only.
    """
    now = now or timezone.now()
    closed_before = now - timedelta(days=settings.BAILANYS_RETENTION_DAYS)
    hard_before = now - timedelta(days=settings.BAILANYS_RETENTION_MAX_DAYS)
    totals: dict[str, int] = {}
    for purger in purgers():
        for what, n in purger(now, closed_before, hard_before).items():
            totals[what] = totals.get(what, 0) + n
    if any(totals.values()):
        audit_record(
            actor="system",
            action="retention.purge",
            detail=", ".join(f"{n} {what}" for what, n in totals.items()),
        )
    return totals
