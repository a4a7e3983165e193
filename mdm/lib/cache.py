"""The cache, used as an optimisation only: when it is unreachable (Redis down), every helper
here logs and carries on as if the key were missing, so nothing that matters depends on it."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

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
