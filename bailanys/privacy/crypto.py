"""Envelope encryption of personal fields, and the blind index.

Every row that holds personal data has its own random data key (AES-256),
stored only wrapped by the current master key. Each personal field is
AES-256-GCM under that data key, with associated data naming the table, the
column and the row's uid: a ciphertext copied into another row or column does
not decrypt. Rotating the master key re-wraps data keys and never touches the
messages themselves.
"""

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bailanys.privacy.keys import keyring

NONCE_BYTES = 12
WRAP_PREFIX = "k1"


class DecryptionError(Exception):
    """A ciphertext did not authenticate: wrong row, wrong key, or tampering."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def _seal(key: bytes, plaintext: bytes, aad: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())


def _open(key: bytes, blob: bytes, aad: str) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
    except (InvalidTag, ValueError):
        raise DecryptionError(aad.split(":")[0]) from None


def data_key_new() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def data_key_wrap(data_key: bytes, *, aad: str) -> str:
    """`k1:<master key id>:<base64>`: the data key sealed by the current master key."""
    master = keyring.master()
    return f"{WRAP_PREFIX}:{master.current_id}:{_b64(_seal(master.current, data_key, aad))}"


def wrapped_key_id(wrapped: str) -> str:
    return wrapped.split(":", 2)[1]


def data_key_unwrap(wrapped: str, *, aad: str) -> bytes:
    try:
        prefix, kid, blob = wrapped.split(":", 2)
    except ValueError:
        raise DecryptionError("malformed wrapped key") from None
    master = keyring.master()
    if prefix != WRAP_PREFIX or kid not in master.keys:
        raise DecryptionError(f"master key {kid} is not in the keyring")
    return _open(master.keys[kid], _unb64(blob), aad)


def seal_text(data_key: bytes, text: str, *, aad: str) -> str:
    return _b64(_seal(data_key, text.encode(), aad))


def open_text(data_key: bytes, blob: str, *, aad: str) -> str:
    return _open(data_key, _unb64(blob), aad).decode()


def blind_index(value: str) -> str:
    """HMAC-SHA256 under the index key. Unkeyed, a phone hash falls to brute force."""
    return hmac.new(keyring.index_key(), value.encode(), hashlib.sha256).hexdigest()
