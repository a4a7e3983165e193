"""Fixed-window rate limits kept in the shared cache (Redis in production).

With Redis a hit is one round trip on the process's client (INCR and EXPIRE NX, pipelined), and
callers with more to ask Redis (the agent gate) add the same two commands to their own pipeline.
With the cache down the limit is not enforced (fail open): the agent API keeps working, and the
limits come back with the cache.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from rest_framework.exceptions import Throttled

from mdm.lib import cache
from mdm.lib.redis import cache_client, key

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """The current window of one limit for one caller."""

    limit: int
    seconds: int
    start: int
    now: int
    name: str  # the counter's name in the cache

    def queue(self, pipe: redis.client.Pipeline) -> None:
        """Count one hit in a Redis pipeline (two commands; the count is the first's result)."""
        counter = key(self.name)
        pipe.incr(counter)
        pipe.expire(counter, self.seconds + 1, nx=True)

    def retry_after(self, count: int | None) -> int | None:
        """None while `count` is under the limit, else the seconds until the window resets."""
        if count is not None and count > self.limit:
            return max(1, self.start + self.seconds - self.now)
        return None


def window(name: str, ident: str) -> Window:
    limit, seconds = settings.MDM_RATE_LIMITS[name]
    now = int(time.time())
    start = now - now % seconds
    return Window(limit=limit, seconds=seconds, start=start, now=now, name=f"rl:{name}:{ident}:{start}")


def hit(name: str, ident: str) -> int | None:
    """Count one request of `ident` against the limit `name` (settings.MDM_RATE_LIMITS).

    Returns None while under the limit, else the seconds until the window resets.
    """
    current = window(name, ident)
    client = cache_client()
    if client is None:
        return current.retry_after(cache.incr_in_window(current.name, timeout=current.seconds + 1))
    try:
        pipe = client.pipeline(transaction=False)
        current.queue(pipe)
        count, _ = pipe.execute()
    except Exception as exc:
        logger.warning("rate limit %s not counted (%s); carrying on without it", name, exc)
        return None
    return current.retry_after(count)


def throttled(retry_after: int) -> Throttled:
    return Throttled(wait=retry_after, detail=f"Too many requests; retry in {retry_after} s.")


def enforce(name: str, ident: str) -> None:
    """Raise DRF's Throttled (429 with Retry-After) when `ident` is over the limit `name`."""
    retry_after = hit(name, ident)
    if retry_after is not None:
        raise throttled(retry_after)
