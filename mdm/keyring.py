"""The key-encryption key (KEK) and what it wraps.

Every secret the server keeps at rest (the private halves of its signing keys, each device's
container data key) is stored only wrapped: AES-256-GCM under the KEK, with the purpose of the
secret (for example `container-key|<key_id>|<version>`) as associated data, so a wrapped blob
cannot be moved to another row or purpose and still open. The KEK itself never touches the
database: it comes from MDM_KEK or MDM_KEK_FILE.

A wrapped blob is `0x01 || kek_id (8 bytes) || nonce (12 bytes) || ciphertext+tag`. The kek_id
(the first 8 bytes of SHA-256 of the KEK) tells which KEK opens it, so during a KEK rotation the
previous keys (MDM_KEK_PREVIOUS) still unwrap, and `rewrap` moves a blob to the current one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

FORMAT_V1 = b"\x01"
_AAD_PREFIX = b"mdm/wrap/v1|"


class UnwrapError(Exception):
    """A wrapped secret could not be opened: unknown KEK, other purpose, or tampered bytes."""


def kek_id(kek: bytes) -> bytes:
    return hashlib.sha256(kek).digest()[:8]


@dataclass(frozen=True)
class Keyring:
    current: bytes
    previous: tuple[bytes, ...] = ()

    @classmethod
    def from_settings(cls) -> Keyring:
        return cls(current=settings.MDM_KEK, previous=tuple(settings.MDM_KEK_PREVIOUS))

    @property
    def current_id(self) -> bytes:
        return kek_id(self.current)

    def _kek_for(self, wanted: bytes) -> bytes:
        for candidate in (self.current, *self.previous):
            if kek_id(candidate) == wanted:
                return candidate
        raise UnwrapError("Wrapped with a key-encryption key this server does not have.")

    def wrap(self, secret: bytes, *, context: str) -> bytes:
        nonce = os.urandom(12)
        sealed = AESGCM(self.current).encrypt(nonce, secret, _AAD_PREFIX + context.encode())
        return FORMAT_V1 + self.current_id + nonce + sealed

    def unwrap(self, blob: bytes, *, context: str) -> bytes:
        blob = bytes(blob)
        if len(blob) < 1 + 8 + 12 + 16 or blob[:1] != FORMAT_V1:
            raise UnwrapError("Not a wrapped secret of a known format.")
        kek = self._kek_for(blob[1:9])
        try:
            return AESGCM(kek).decrypt(blob[9:21], blob[21:], _AAD_PREFIX + context.encode())
        except InvalidTag as exc:
            raise UnwrapError("The wrapped secret does not open for this purpose.") from exc

    def needs_rewrap(self, blob: bytes) -> bool:
        return bytes(blob)[1:9] != self.current_id

    def rewrap(self, blob: bytes, *, context: str) -> bytes:
        """The same secret wrapped under the current KEK (unchanged when it already is)."""
        if not self.needs_rewrap(blob):
            return bytes(blob)
        return self.wrap(self.unwrap(blob, context=context), context=context)


def keyring() -> Keyring:
    return Keyring.from_settings()
