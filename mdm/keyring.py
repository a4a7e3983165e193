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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.db import transaction

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

    def unwrap(self, blob: bytes | memoryview, *, context: str) -> bytes:
        blob = bytes(blob)
        if len(blob) < 1 + 8 + 12 + 16 or blob[:1] != FORMAT_V1:
            raise UnwrapError("Not a wrapped secret of a known format.")
        kek = self._kek_for(blob[1:9])
        try:
            return AESGCM(kek).decrypt(blob[9:21], blob[21:], _AAD_PREFIX + context.encode())
        except InvalidTag as exc:
            raise UnwrapError("The wrapped secret does not open for this purpose.") from exc

    def needs_rewrap(self, blob: bytes | memoryview) -> bool:
        return bytes(blob)[1:9] != self.current_id

    def rewrap(self, blob: bytes | memoryview, *, context: str) -> bytes:
        """The same secret wrapped under the current KEK (unchanged when it already is)."""
        if not self.needs_rewrap(blob):
            return bytes(blob)
        return self.wrap(self.unwrap(blob, context=context), context=context)


def keyring() -> Keyring:
    return Keyring.from_settings()


# --- Every wrapped secret at rest, for KEK rotation ------------------------------------------------


@dataclass(frozen=True)
class WrappedField:
    """A model field that holds secrets wrapped by this keyring, and each row's context."""

    model: str  # "app_label.ModelName"
    field: str
    context: Callable[[Any], str]  # the row's purpose string, the associated data of its wrap


WRAPPED_FIELDS: list[WrappedField] = []


def register_wrapped(model: str, field: str, context: Callable[[Any], str]) -> None:
    if not any(w.model == model and w.field == field for w in WRAPPED_FIELDS):
        WRAPPED_FIELDS.append(WrappedField(model, field, context))


def rewrap_all(*, ring: Keyring | None = None, batch_size: int = 500, limit: int | None = None) -> dict[str, int]:
    """Re-wrap every registered secret still under an older KEK with the current one.

    Each row is rewritten on its own, with a compare-and-set on the old bytes, so the work can be
    interrupted at any point and run again: what was done stays done, and a row changed meanwhile
    (rotated, destroyed) is left to its new owner. `limit` stops after that many rows.
    """
    ring = ring or keyring()
    done: dict[str, int] = {}
    budget = limit
    for wrapped in WRAPPED_FIELDS:
        model = apps.get_model(wrapped.model)
        label = f"{wrapped.model}.{wrapped.field}"
        done[label] = 0
        last_pk = None
        while budget is None or budget > 0:
            rows = model.objects.filter(**{f"{wrapped.field}__isnull": False}).order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(rows[:batch_size])
            if not batch:
                break
            last_pk = batch[-1].pk
            with transaction.atomic():
                for row in batch:
                    blob = bytes(getattr(row, wrapped.field))
                    if not ring.needs_rewrap(blob):
                        continue
                    if budget is not None and budget <= 0:
                        break
                    fresh = ring.rewrap(blob, context=wrapped.context(row))
                    changed = model.objects.filter(pk=row.pk, **{wrapped.field: blob}).update(**{wrapped.field: fresh})
                    done[label] += changed
                    if budget is not None:
                        budget -= 1
    return done


def count_not_current(ring: Keyring | None = None) -> dict[str, int]:
    """How many registered secrets are still wrapped under an older KEK."""
    ring = ring or keyring()
    counts = {}
    for wrapped in WRAPPED_FIELDS:
        model = apps.get_model(wrapped.model)
        blobs = model.objects.filter(**{f"{wrapped.field}__isnull": False}).values_list(wrapped.field, flat=True)
        counts[f"{wrapped.model}.{wrapped.field}"] = sum(1 for blob in blobs.iterator() if ring.needs_rewrap(blob))
    return counts
