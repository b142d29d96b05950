"""Field encryption with versioned keys, and the keyed blind index for equality search.

The key file holds data-encryption keys by version and, apart from them, the blind-index key.
Neither is ever written to the database or to a backup.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from peewee import BlobField

FORMAT = 1
_HEADER = struct.Struct(">BI")  # format byte, key version
_NONCE_BYTES = 12


class KeyFileError(RuntimeError):
    """The key file is missing, unreadable, or does not belong to this database."""


class KeyRing:
    """Data-encryption keys by version, the current version, and the blind-index key."""

    def __init__(self, path: Path, data_keys: dict[int, bytes], current: int, index_key: bytes):
        self.path = path
        self.data_keys = data_keys
        self.current = current
        self.index_key = index_key

    @classmethod
    def load(cls, path) -> "KeyRing":
        path = Path(path)
        if not path.exists():
            raise KeyFileError(
                f"key file {path} not found: run `villa init`, or restore it from safe keeping"
            )
        try:
            raw = json.loads(path.read_text())
            data_keys = {int(v): base64.b64decode(k) for v, k in raw["data_keys"].items()}
            index_key = base64.b64decode(raw["index_key"])
            current = int(raw["current"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(
                f"key file {path} is unreadable or damaged ({exc.__class__.__name__})"
            ) from exc
        if current not in data_keys or any(len(k) != 32 for k in data_keys.values()):
            raise KeyFileError(f"key file {path} is damaged: keys must be 32 bytes, current must exist")
        if len(index_key) != 32:
            raise KeyFileError(f"key file {path} is damaged: blind-index key must be 32 bytes")
        return cls(path, data_keys, current, index_key)

    @classmethod
    def create(cls, path) -> "KeyRing":
        """Write a new key file, mode 0600; refuse to overwrite one."""
        path = Path(path)
        if path.exists():
            raise KeyFileError(f"key file {path} already exists; refusing to overwrite it")
        ring = cls(path, {1: secrets.token_bytes(32)}, 1, secrets.token_bytes(32))
        ring.save()
        return ring

    def save(self):
        """Replace the key file atomically, never readable by others even for a moment."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "format": FORMAT,
            "current": self.current,
            "data_keys": {str(v): base64.b64encode(k).decode() for v, k in self.data_keys.items()},
            "index_key": base64.b64encode(self.index_key).decode(),
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(body, out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add_data_key(self) -> int:
        """Add a new data key, make it current and save; old versions stay for reading."""
        self.current = max(self.data_keys) + 1
        self.data_keys[self.current] = secrets.token_bytes(32)
        self.save()
        return self.current

    def encrypt(self, plaintext: str, context: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self.data_keys[self.current]).encrypt(nonce, plaintext.encode(), context)
        return _HEADER.pack(FORMAT, self.current) + nonce + sealed

    def decrypt(self, blob: bytes, context: bytes) -> str:
        fmt, version = _HEADER.unpack_from(blob)
        if fmt != FORMAT:
            raise KeyFileError(f"unknown ciphertext format {fmt}")
        key = self.data_keys.get(version) or self._reloaded_key(version)
        nonce = blob[_HEADER.size : _HEADER.size + _NONCE_BYTES]
        try:
            return AESGCM(key).decrypt(nonce, blob[_HEADER.size + _NONCE_BYTES :], context).decode()
        except InvalidTag as exc:
            raise KeyFileError("a stored value does not decrypt with the key file: wrong key file?") from exc

    def _reloaded_key(self, version: int) -> bytes:
        # Another process rotated the keys since this one started: read the file again.
        fresh = KeyRing.load(self.path)
        if version not in fresh.data_keys:
            raise KeyFileError(f"data key version {version} is not in {self.path}: wrong key file?")
        self.data_keys, self.current = fresh.data_keys, fresh.current
        return self.data_keys[version]

    def key_version(self, blob: bytes) -> int:
        return _HEADER.unpack_from(blob)[1]

    def blind_index(self, kind: str, normalised: str) -> str:
        """HMAC-SHA256 over the normalised value; `kind` keeps phones and ID numbers apart."""
        message = f"{kind}:{normalised}".encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()


class _Holder:
    """The process's key ring, set once by the app factory (like the database proxy)."""

    ring: KeyRing | None = None
    error: KeyFileError | None = None


keys = _Holder()


def keyring() -> KeyRing:
    if keys.ring is None:
        raise keys.error or KeyFileError("no key file loaded")
    return keys.ring


def load_keys(path) -> KeyRing | None:
    """Load the key file into the process; remember the error when it cannot be read."""
    try:
        keys.ring, keys.error = KeyRing.load(path), None
    except KeyFileError as exc:
        keys.ring, keys.error = None, exc
    return keys.ring


def blind_index(kind: str, normalised: str | None) -> str | None:
    return keyring().blind_index(kind, normalised) if normalised else None


class EncryptedField(BlobField):
    """A text column stored as AES-GCM ciphertext that names its key version.

    The table and column are bound in as associated data, so a ciphertext copied into
    another column or table does not decrypt.
    """

    def _context(self) -> bytes:
        return f"{self.model._meta.table_name}.{self.column_name}".encode()

    def db_value(self, value):
        if value is None or value == "":
            return None
        return super().db_value(keyring().encrypt(str(value), self._context()))

    def python_value(self, value):
        if value is None:
            return None
        return keyring().decrypt(bytes(value), self._context())
