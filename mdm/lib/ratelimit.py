"""Fixed-window rate limits kept in the shared cache (Redis in production)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled


def hit(name: str, ident: str) -> int | None:
    """Count one request of `ident` against the limit `name` (settings.MDM_RATE_LIMITS).

    Returns None while under the limit, else the seconds until the window resets.
    """
    limit, window = settings.MDM_RATE_LIMITS[name]
    now = int(time.time())
    window_start = now - now % window
    key = f"rl:{name}:{ident}:{window_start}"
    # add() creates the counter with its expiry; incr() is atomic on Redis.
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        return max(1, window_start + window - now)
    return None


def enforce(name: str, ident: str) -> None:
    """Raise DRF's Throttled (429 with Retry-After) when `ident` is over the limit `name`."""
    retry_after = hit(name, ident)
    if retry_after is not None:
        raise Throttled(wait=retry_after, detail=f"Too many requests; retry in {retry_after} s.")
