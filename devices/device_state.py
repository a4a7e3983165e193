"""What the agent API knows of a device on every request: its organization and its state.

It is cached for CACHE_SECONDS, and a change of state (a retire, an unenroll) overwrites the
cached value after commit, so a retired device is refused at once. With Redis the read shares a
round trip with the request's rate-limit count (`read`); without Redis (the embedded default) the
same values live in Django's cache.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import transaction

from devices.models import Device
from mdm.lib import cache
from mdm.lib.ratelimit import Window
from mdm.lib.redis import cache_client, key

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30


@dataclass(frozen=True)
class CachedState:
    organization_id: uuid.UUID
    state: str

    def encode(self) -> str:
        return f"{self.organization_id} {self.state}"

    @classmethod
    def decode(cls, raw: bytes | str | None) -> CachedState | None:
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else raw
        organization, _, state = text.partition(" ")
        try:
            return cls(uuid.UUID(organization), state)
        except ValueError:
            return None  # not ours (an older format): read the database instead


@dataclass(frozen=True)
class Gate:
    """One request's look at Redis: the device's cached state and its rate-limit count."""

    state: CachedState | None
    count: int | None  # None: not counted (no window asked, or the cache is down: fail open)
    also: tuple = ()  # the other values asked for, as stored


def cache_name(device_id) -> str:
    return f"device-state:{device_id}"


def load(device_id) -> CachedState | None:
    """From the database (a cache miss); None for an unknown device."""
    row = Device.objects.filter(pk=device_id).values_list("organization_id", "state").first()
    return None if row is None else CachedState(row[0], row[1])


def remember(device_id, value: CachedState) -> None:
    """Cache what a reader found, unless a writer got there first (a reader must never overwrite
    the state a retire just set)."""
    client = cache_client()
    if client is None:
        cache.add(cache_name(device_id), value.encode(), CACHE_SECONDS)
        return
    try:
        client.set(key(cache_name(device_id)), value.encode(), ex=CACHE_SECONDS, nx=True)
    except Exception as exc:
        logger.warning("device state of %s not cached (%s)", device_id, exc)


def publish(device: Device) -> None:
    """Overwrite the cached state of `device` after the transaction commits (deleting it now too,
    so nothing reads the old state from the cache meanwhile)."""
    name = cache_name(device.pk)
    value = CachedState(device.organization_id, device.state).encode()
    client = cache_client()
    if client is None:
        cache.delete(name)
        transaction.on_commit(lambda: cache.set(name, value, CACHE_SECONDS))
        return

    def write(delete_only: bool = False) -> None:
        try:
            if delete_only:
                client.delete(key(name))
            else:
                client.set(key(name), value, ex=CACHE_SECONDS)
        except Exception as exc:
            logger.warning("device state of %s not published (%s)", device.pk, exc)

    write(delete_only=True)
    transaction.on_commit(write)


def read(device_id, rate: Window | None = None, also: tuple[str, ...] = ()) -> Gate:
    """The cached state, `rate` counted, and the raw cached values named `also`: one round trip."""
    client = cache_client()
    name = cache_name(device_id)
    if client is None:
        count = cache.incr_in_window(rate.name, timeout=rate.seconds + 1) if rate else None
        return Gate(CachedState.decode(cache.get(name)), count, tuple(cache.get(other) for other in also))
    try:
        pipe = client.pipeline(transaction=False)
        if rate:
            rate.queue(pipe)
        pipe.get(key(name))
        for other in also:
            pipe.get(key(other))
        results = pipe.execute()
    except Exception as exc:
        logger.warning("agent gate: cache unreachable (%s); reading the database, no rate limit", exc)
        return Gate(None, None, (None,) * len(also))
    found = results[2:] if rate else results
    return Gate(CachedState.decode(found[0]), results[0] if rate else None, tuple(found[1:]))
