"""Where the keys live: never in the database.

Two kinds of key, kept apart from the data:

- master keys wrap the per-record data keys (envelope encryption). The first
  is current; older ones stay only until `bailanys keys rotate` has re-wrapped
  everything under the current one.
- the index key makes the blind index (a keyed HMAC of phone numbers).
- the audit key signs the audit log's checkpoints (Ed25519), so whoever can write
  to the database cannot rewrite the log unseen.

They come from BAILANYS_MASTER_KEY / BAILANYS_INDEX_KEY / BAILANYS_AUDIT_KEY
(url-safe base64 of 32 bytes; several master keys separated by commas, current
first), or in the embedded default from files in the data directory created on
first use with mode 0600: `master.keys`, `index.key` and `audit.key`.
"""

import base64
import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_BYTES = 32
MASTER_FILE = "master.keys"
INDEX_FILE = "index.key"
AUDIT_FILE = "audit.key"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def decode_key(text: str, *, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError):
        raise ImproperlyConfigured(f"{source}: not url-safe base64") from None
    if len(key) != KEY_BYTES:
        raise ImproperlyConfigured(f"{source}: a key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _write_private(path: Path, text: str, *, replace: bool = True) -> None:
    """Write a file only its owner can read, all at once or not at all.

    With `replace`, it takes the place of an existing file (rename); without,
    a file that another process has just made wins and this one is dropped,
    so two processes starting together end up with the same key.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if the file exists
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


@dataclass(frozen=True)
class MasterKeys:
    current_id: str
    keys: dict[str, bytes]

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


class Keyring:
    """Loads keys on first use and again whenever the key file changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._master: MasterKeys | None = None
        self._master_stamp: float | None = None
        self._single_keys: dict[str, tuple[float | None, bytes]] = {}

    @property
    def data_dir(self) -> Path:
        return Path(settings.DATA_DIR)

    @property
    def from_environment(self) -> bool:
        return bool(os.environ.get("BAILANYS_MASTER_KEY"))

    def master(self) -> MasterKeys:
        path = self.data_dir / MASTER_FILE
        stamp = None if self.from_environment else _mtime(path)
        with self._lock:
            if self._master is None or stamp != self._master_stamp:
                self._master = self._load_master(path)
                self._master_stamp = None if self.from_environment else _mtime(path)
            return self._master

    def _load_master(self, path: Path) -> MasterKeys:
        raw = os.environ.get("BAILANYS_MASTER_KEY")
        if raw:
            keys = [decode_key(p, source="BAILANYS_MASTER_KEY") for p in raw.split(",") if p]
            return MasterKeys(key_id(keys[0]), {key_id(k): k for k in keys})
        if not path.exists():
            key = new_key()
            _create_master(path, MasterKeys(key_id(key), {key_id(key): key}))
        try:
            data = json.loads(path.read_text())
            keys = {kid: decode_key(k, source=str(path)) for kid, k in data["keys"].items()}
            return MasterKeys(data["current"], keys)
        except (KeyError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"{path} is damaged ({exc}); restore it from backup"
            ) from None

    def index_key(self) -> bytes:
        return self._single("BAILANYS_INDEX_KEY", INDEX_FILE)

    def audit_signing_key(self) -> Ed25519PrivateKey:
        """The key that signs the audit log's checkpoints (an Ed25519 seed)."""
        return Ed25519PrivateKey.from_private_bytes(self._single("BAILANYS_AUDIT_KEY", AUDIT_FILE))

    def _single(self, variable: str, filename: str) -> bytes:
        """One key: from the environment, or a file made on first use (mode 0600)."""
        path = self.data_dir / filename
        raw = os.environ.get(variable)
        stamp = None if raw else _mtime(path)
        with self._lock:
            known = self._single_keys.get(variable)
            if known is None or stamp != known[0]:
                if raw:
                    key = decode_key(raw, source=variable)
                else:
                    if not path.exists():
                        _write_private(path, encode_key(new_key()), replace=False)
                    stamp = _mtime(path)
                    key = decode_key(path.read_text(), source=str(path))
                known = self._single_keys[variable] = (stamp, key)
            return known[1]

    def add_current(self, key: bytes) -> MasterKeys:
        """Make `key` the current master key, keeping the old ones (file mode only)."""
        if self.from_environment:
            raise ImproperlyConfigured(
                "Master keys come from BAILANYS_MASTER_KEY: put the new key first there, "
                "keep the old ones after it, and run `bailanys keys rotate` again."
            )
        old = self.master()
        master = MasterKeys(key_id(key), {**old.keys, key_id(key): key})
        _write_master(self.data_dir / MASTER_FILE, master)
        self.forget()
        return master

    def drop_old(self) -> list[str]:
        """Remove every master key but the current one (file mode only)."""
        master = self.master()
        dropped = [kid for kid in master.keys if kid != master.current_id]
        if dropped and not self.from_environment:
            _write_master(
                self.data_dir / MASTER_FILE,
                MasterKeys(master.current_id, {master.current_id: master.current}),
            )
            self.forget()
        return dropped

    def forget(self) -> None:
        with self._lock:
            self._master = None
            self._master_stamp = None
            self._single_keys = {}


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _master_json(master: MasterKeys) -> str:
    keys = {k: encode_key(v) for k, v in master.keys.items()}
    return json.dumps({"current": master.current_id, "keys": keys}, indent=1)


def _write_master(path: Path, master: MasterKeys) -> None:
    _write_private(path, _master_json(master))


def _create_master(path: Path, master: MasterKeys) -> None:
    _write_private(path, _master_json(master), replace=False)


keyring = Keyring()
