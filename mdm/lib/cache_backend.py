"""Django's Redis cache, with one client per process.

Django keeps a cache object per thread and, under ASGI, per request; each built its own client
and connection pool, so every request opened a new Redis connection. Here the objects share one
client (redis-py's pool is thread-safe), so a request reuses a connection already open.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache


class SharedRedisCache(RedisCache):
    _clients: ClassVar[dict[str, Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @cached_property
    def _cache(self) -> Any:
        # RedisCache's own attributes (django-stubs does not declare them).
        servers, options, client_class = self._servers, self._options, self._class  # type: ignore[attr-defined]
        name = repr((servers, sorted(options.items())))
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                client = self._clients[name] = client_class(servers, **options)
        return client
