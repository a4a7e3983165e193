"""One Redis client per process for the cache database.

Django's cache builds a client (and a connection pool) per cache object, and under ASGI every
request gets cache objects of its own: each request opened a new Redis connection. The hot
paths (the agent gate, rate limits) use this process-wide client instead, so a request costs a
round trip on a connection that is already open. It is None when Redis is not configured (the
embedded default), and callers fall back to Django's cache.
"""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings

# Short: Redis on the same network answers in well under a millisecond, and a stuck Redis must
# not hold a request (callers fail open).
SOCKET_TIMEOUT = 2.0


def _url() -> str:
    return settings.REDIS_CACHE_URL or settings.REDIS_URL


@cache
def cache_client() -> redis.Redis | None:
    """The process's client of the cache database (thread-safe: redis-py pools its connections)."""
    if not settings.REDIS_URL:
        return None
    return redis.Redis.from_url(
        _url(), socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT, health_check_interval=30
    )


def key(name: str) -> str:
    """A key in the cache's namespace, spelled as Django's cache spells it (prefix and version 1),
    so a counter written here and one written through `django.core.cache` are the same key."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:1:{name}"
