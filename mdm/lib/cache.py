"""The cache, used as an optimisation only: when it is unreachable (Redis down), every helper
here logs and carries on as if the key were missing, so nothing that matters depends on it."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.cache import cache

from mdm.lib.redis import cache_client, key

logger = logging.getLogger(__name__)


def _failed(operation: str, key: str, exc: Exception) -> None:
    logger.warning("cache %s of %s failed (%s); carrying on without the cache", operation, key, exc)


def get(key: str, default: Any = None) -> Any:
    try:
        return cache.get(key, default)
    except Exception as exc:
        _failed("get", key, exc)
        return default


def set(key: str, value: Any, timeout: float | None) -> None:  # mirrors the cache API
    try:
        cache.set(key, value, timeout)
    except Exception as exc:
        _failed("set", key, exc)


def add(key: str, value: Any, timeout: float | None) -> None:
    """Set only if absent: a reader must never overwrite what a writer (a retire) just set."""
    try:
        cache.add(key, value, timeout)
    except Exception as exc:
        _failed("add", key, exc)


def delete(key: str) -> None:
    try:
        cache.delete(key)
    except Exception as exc:
        _failed("delete", key, exc)


def incr_in_window(key: str, timeout: float) -> int | None:
    """Count one more in `key` (created with `timeout`); None when the cache is unreachable."""
    try:
        try:
            return cache.incr(key)  # one round trip, once the window's counter exists
        except ValueError:  # the first request of the window
            if cache.add(key, 1, timeout=timeout):
                return 1
            return cache.incr(key)
    except Exception as exc:
        _failed("incr", key, exc)
        return None


# --- JSON values that hot paths read in a pipeline of their own ------------------------------------
# With Redis they are plain JSON under the key Django's cache would use (mdm.lib.redis.key), so a
# caller can fetch one in the same round trip as its other reads; without Redis, Django's cache.


def json_decode(raw: Any) -> Any:
    """A value read raw from Redis; one from Django's cache (no Redis) is already decoded."""
    if not isinstance(raw, bytes | str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return None  # not JSON (an older format): a miss


def json_get(name: str) -> Any:
    client = cache_client()
    if client is None:
        return get(name)
    try:
        return json_decode(client.get(key(name)))
    except Exception as exc:
        _failed("get", name, exc)
        return None


def json_set(name: str, value: Any, timeout: int) -> None:
    client = cache_client()
    if client is None:
        set(name, value, timeout)
        return
    try:
        client.set(key(name), json.dumps(value, separators=(",", ":")), ex=timeout)
    except Exception as exc:
        _failed("set", name, exc)


def json_delete(name: str) -> None:
    client = cache_client()
    if client is None:
        delete(name)
        return
    try:
        client.delete(key(name))
    except Exception as exc:
        _failed("delete", name, exc)
