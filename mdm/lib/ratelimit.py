"""Fixed-window rate limits kept in the shared cache (Redis in production)."""

from __future__ import annotations

import time

from django.conf import settings
from rest_framework.exceptions import Throttled

from mdm.lib import cache


def hit(name: str, ident: str) -> int | None:
    """Count one request of `ident` against the limit `name` (settings.MDM_RATE_LIMITS).

    Returns None while under the limit, else the seconds until the window resets.
    """
    limit, window = settings.MDM_RATE_LIMITS[name]
    now = int(time.time())
    window_start = now - now % window
    # incr is atomic on Redis. With the cache down the limit is not enforced (fail open): the
    # agent API keeps working, and the limits come back with the cache.
    count = cache.incr_in_window(f"rl:{name}:{ident}:{window_start}", timeout=window + 1)
    if count is not None and count > limit:
        return max(1, window_start + window - now)
    return None


def enforce(name: str, ident: str) -> None:
    """Raise DRF's Throttled (429 with Retry-After) when `ident` is over the limit `name`."""
    retry_after = hit(name, ident)
    if retry_after is not None:
        raise Throttled(wait=retry_after, detail=f"Too many requests; retry in {retry_after} s.")
