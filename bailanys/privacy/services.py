"""Key rotation, the emergency wipe and the retention purge."""

import os
import random
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from bailanys.privacy import crypto, keys
from bailanys.privacy.audit import audit_record
from bailanys.privacy.fields import sealed_models
from bailanys.privacy.keys import keyring
from bailanys.privacy.ratelimit import rate_counters_clear
from bailanys.privacy.registry import personal_models, purgers

# Rotation re-wraps this many rows per transaction: short enough that the server
# and the worker, writing meanwhile, never wait long for the database.
REWRAP_BATCH = 100
# A batch that meets a busy database is tried again, waiting a little longer each time.
RETRY_ATTEMPTS = 10
RETRY_FIRST_WAIT = 0.05
RETRY_MAX_WAIT = 2.0
# Rows that keep arriving under an old key after this many passes mean a process
# still wraps with it (a key given in the environment and a process not restarted).
MAX_PASSES = 20

# PostgreSQL: serialization failure, deadlock, lock not available.
_BUSY_SQLSTATES = {"40001", "40P01", "55P03"}


class RotationStalled(RuntimeError):
    """Rows keep being written under an old master key."""


def keys_rotate(*, settle_seconds: float = 2.0) -> dict:
    """Re-wrap every data key under a new master key; messages are not decrypted.

    Other processes pick up the new key file at their next wrap (they check its
    modification time), so nothing stops. Rows are re-wrapped a batch at a
    time, each batch its own short transaction, tried again when the database
    is busy. A rotation that was cut short (the keyring holds a newer key than
    some rows use) is resumed with that key instead of making another. The old
    key is dropped only after a pass that finds no row still under it, taken
    `settle_seconds` after the last one, so a row written during the rotation
    is caught too.
    """
    stats = {"rewrapped": 0, "retries": 0}
    current, resumed = _rotation_key(stats)
    passes = 0
    while True:
        passes += 1
        if passes > MAX_PASSES:
            raise RotationStalled(
                f"rows are still being written under an old master key after {MAX_PASSES} "
                "passes: is a process still running with the old key? Run the rotation "
                "again once every process has been restarted."
            )
        if _rewrap_pass(current, stats):
            continue
        if settle_seconds:
            time.sleep(settle_seconds)
            if _rewrap_pass(current, stats):
                continue
        break
    dropped = keyring.drop_old()
    detail = f"{stats['rewrapped']} data keys re-wrapped" + (" (resumed)" if resumed else "")
    _retrying(stats, audit_record, actor="cli", action="keys.rotate", detail=detail)
    return {
        "current_key": current,
        "rewrapped": stats["rewrapped"],
        "dropped_keys": dropped,
        "resumed": resumed,
        "retries": stats["retries"],
    }


def _rotation_key(stats: dict) -> tuple[str, bool]:
    """The key to re-wrap under, and whether an interrupted rotation is being resumed."""
    master = keyring.master()
    if keyring.from_environment:
        return master.current_id, False
    if len(master.keys) > 1 and _retrying(stats, _stale_exists, master.current_id):
        return master.current_id, True
    return keyring.add_current(keys.new_key()).current_id, False


def _stale(model, current: str):
    return model.objects.exclude(data_key="").exclude(data_key__startswith=f"k1:{current}:")


def _stale_exists(current: str) -> bool:
    return any(_stale(model, current).exists() for model in sealed_models())


def _rewrap_pass(current: str, stats: dict) -> int:
    """Re-wrap every row not under `current`; return how many such rows were seen."""
    seen = 0
    for model in sealed_models():
        after = None
        while True:
            rows, done = _retrying(stats, _rewrap_batch, model, current, after)
            if not rows:
                break
            seen += len(rows)
            stats["rewrapped"] += done
            after = rows[-1]
    return seen


def _rewrap_batch(model, current: str, after) -> tuple[list, int]:
    """One short transaction: the next batch of rows after pk `after`, re-wrapped."""
    with transaction.atomic():
        stale = _stale(model, current).order_by("pk")
        if after is not None:
            stale = stale.filter(pk__gt=after)
        rows = list(stale.only("pk", "uid", "data_key")[:REWRAP_BATCH])
        done = 0
        for row in rows:
            plain = crypto.data_key_unwrap(row.data_key, aad=row.key_aad())
            new = crypto.data_key_wrap(plain, aad=row.key_aad())
            # Compare-and-set: a row re-wrapped or rewritten meanwhile is left as it is.
            done += model.objects.filter(pk=row.pk, data_key=row.data_key).update(data_key=new)
    return [row.pk for row in rows], done


def _retrying(stats: dict, work, *args, **kwargs):
    """Run `work` (its own transaction), again after a short wait while the database is busy."""
    wait = RETRY_FIRST_WAIT
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return work(*args, **kwargs)
        except OperationalError as exc:
            if attempt == RETRY_ATTEMPTS or connection.in_atomic_block or not _busy(exc):
                raise
        stats["retries"] += 1
        time.sleep(wait * random.uniform(0.5, 1.0))  # noqa: S311 (a jitter, not a secret)
        wait = min(wait * 2, RETRY_MAX_WAIT)
    raise AssertionError("unreachable")


def _busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked", PostgreSQL's lock, deadlock and serialization errors."""
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text


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
