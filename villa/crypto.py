"""Field encryption with versioned keys, and the keyed blind index for equality search.

The key file holds data-encryption keys by version and, apart from them, the blind-index keys
by version. Neither is ever written to the database or to a backup. While the blind-index key
is being rotated the file also names the previous index key, and lookups try both.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from peewee import BlobField

FORMAT = 1
_HEADER = struct.Struct(">BI")  # format byte, key version
_NONCE_BYTES = 12
# How often a process looks whether another one rotated the keys (a stat of the key file).
RELOAD_SECONDS = 1.0


class KeyFileError(RuntimeError):
    """The key file is missing, unreadable, or does not belong to this database."""


class KeyRing:
    """Data-encryption keys by version, the current version, and the blind-index keys by version.

    `index_previous` is set only while the blind index is being rotated: until every row carries
    the new index, a lookup must try the previous one too (`blind_indexes`).
    """

    def __init__(
        self,
        path: Path,
        data_keys: dict[int, bytes],
        current: int,
        index_key: bytes | None = None,
        index_keys: dict[int, bytes] | None = None,
        index_current: int | None = None,
        index_previous: int | None = None,
    ):
        self.path = path
        self.data_keys = data_keys
        self.current = current
        self.index_keys = index_keys if index_keys is not None else {1: index_key}
        self.index_current = index_current if index_current is not None else max(self.index_keys)
        self.index_previous = index_previous
        self.stamp = None  # the key file's (mtime, size) when last read or written
        self.checked_at = time.monotonic()

    @property
    def index_key(self) -> bytes:
        return self.index_keys[self.index_current]

    @index_key.setter
    def index_key(self, key: bytes):
        self.index_keys[self.index_current] = key

    @classmethod
    def load(cls, path) -> "KeyRing":
        path = Path(path)
        if not path.exists():
            raise KeyFileError(
                f"key file {path} not found: run `villa init`, or restore it from safe keeping"
            )
        try:
            stamp = _stamp(path)
            raw = json.loads(path.read_text())
            data_keys = {int(v): base64.b64decode(k) for v, k in raw["data_keys"].items()}
            current = int(raw["current"])
            # Files written before index-key versions have `index_key` alone: that is version 1.
            if "index_keys" in raw:
                index_keys = {int(v): base64.b64decode(k) for v, k in raw["index_keys"].items()}
                index_current = int(raw["index_current"])
            else:
                index_keys, index_current = {1: base64.b64decode(raw["index_key"])}, 1
            previous = raw.get("index_previous")
            index_previous = int(previous) if previous is not None else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(
                f"key file {path} is unreadable or damaged ({exc.__class__.__name__})"
            ) from exc
        if current not in data_keys or any(len(k) != 32 for k in data_keys.values()):
            raise KeyFileError(f"key file {path} is damaged: keys must be 32 bytes, current must exist")
        if (
            index_current not in index_keys
            or (index_previous is not None and index_previous not in index_keys)
            or any(len(k) != 32 for k in index_keys.values())
        ):
            raise KeyFileError(f"key file {path} is damaged: blind-index keys must be 32 bytes")
        ring = cls(
            path,
            data_keys,
            current,
            index_keys=index_keys,
            index_current=index_current,
            index_previous=index_previous,
        )
        ring.stamp = stamp
        return ring

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
            # The current index key under its old name, so an older villa still reads the file.
            "index_key": base64.b64encode(self.index_key).decode(),
            "index_current": self.index_current,
            "index_keys": {str(v): base64.b64encode(k).decode() for v, k in self.index_keys.items()},
            "index_previous": self.index_previous,
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
        self.stamp = _stamp(self.path)

    def refresh(self):
        """Read the key file again, in place, if another process changed it since."""
        self.checked_at = time.monotonic()
        try:
            if _stamp(self.path) == self.stamp:
                return
            fresh = KeyRing.load(self.path)
        except (OSError, KeyFileError):
            return  # keep working with the keys in memory; startup checks report a bad file
        # Previous before current: a lookup in between tries one index too many, never too few.
        self.data_keys, self.index_keys = fresh.data_keys, fresh.index_keys
        self.index_previous = fresh.index_previous
        self.current, self.index_current, self.stamp = fresh.current, fresh.index_current, fresh.stamp

    def add_data_key(self) -> int:
        """Add a new data key, make it current and save; old versions stay for reading."""
        self.current = max(self.data_keys) + 1
        self.data_keys[self.current] = secrets.token_bytes(32)
        self.save()
        return self.current

    def add_index_key(self) -> int:
        """Add a new blind-index key and make it current; the previous one stays in use for
        lookups until `end_index_rotation()`. Saves the file."""
        previous = self.index_current
        version = max(self.index_keys) + 1
        self.index_keys[version] = secrets.token_bytes(32)
        self.index_previous, self.index_current = previous, version
        self.save()
        return version

    def end_index_rotation(self):
        """Every row carries the current index: lookups stop trying the previous key."""
        if self.index_previous is not None:
            self.index_previous = None
            self.save()

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

    def blind_index(self, kind: str, normalised: str, version: int | None = None) -> str:
        """HMAC-SHA256 over the normalised value; `kind` keeps phones and ID numbers apart."""
        key = self.index_keys[version or self.index_current]
        return hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()

    def blind_indexes(self, kind: str, normalised: str) -> list[str]:
        """The current index, then the previous one while a rotation is rewriting the rows."""
        versions = [self.index_current]
        if self.index_previous is not None and self.index_previous != self.index_current:
            versions.append(self.index_previous)
        return [self.blind_index(kind, normalised, version) for version in versions]


class _Holder:
    """The process's key ring, set once by the app factory (like the database proxy)."""

    ring: KeyRing | None = None
    error: KeyFileError | None = None


keys = _Holder()


def keyring() -> KeyRing:
    ring = keys.ring
    if ring is None:
        raise keys.error or KeyFileError("no key file loaded")
    # Another worker may have rotated a key: look at the file now and then, not on every call.
    if time.monotonic() - ring.checked_at > RELOAD_SECONDS:
        ring.refresh()
    return ring


def _stamp(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    return info.st_mtime_ns, info.st_size, info.st_ino


def load_keys(path) -> KeyRing | None:
    """Load the key file into the process; remember the error when it cannot be read."""
    try:
        keys.ring, keys.error = KeyRing.load(path), None
    except KeyFileError as exc:
        keys.ring, keys.error = None, exc
    return keys.ring


def blind_index(kind: str, normalised: str | None) -> str | None:
    return keyring().blind_index(kind, normalised) if normalised else None


def blind_indexes(kind: str, normalised: str | None) -> list[str]:
    """Every index a stored value may carry right now: the current first (see KeyRing)."""
    return keyring().blind_indexes(kind, normalised) if normalised else []


def blind_index_pair(kind: str, normalised: str) -> tuple[str, str]:
    """blind_indexes as exactly two values (the current one twice outside a rotation): a prepared
    query's `IN (?, ?)` takes the same number of arguments whatever the key ring's state."""
    indexes = blind_indexes(kind, normalised)
    return indexes[0], indexes[-1]


def looks_like_index(value: str | None) -> bool:
    """A blind index is 64 hex digits; placeholders such as "anon:12" or "merged:7" are not."""
    return bool(value) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


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
