"""Wake-ups: "you have new commands", published on Redis for long-polling agents.

A wake-up is only a hint: the commands themselves are in the database. If Redis is down or not
configured (the embedded default), nothing is lost: a waiting long poll also re-reads the
database every few seconds, and an agent not waiting sees its commands at its next check-in.
"""

from __future__ import annotations

import logging
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "mdm:wake:"


def channel(device_id) -> str:
    return f"{CHANNEL_PREFIX}{device_id}"


@cache
def _client():
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=2)


def wake_devices(device_ids) -> int:
    """Publish a wake-up to each device (one pipelined round trip). Returns how many were sent."""
    device_ids = list(device_ids)
    if not settings.REDIS_URL or not device_ids:
        return 0
    try:
        pipe = _client().pipeline(transaction=False)
        for device_id in device_ids:
            pipe.publish(channel(device_id), b"1")
        pipe.execute()
    except Exception as exc:  # a hint lost is not a command lost: log and carry on
        logger.warning("Could not publish %d wake-up(s): %s", len(device_ids), exc)
        return 0
    return len(device_ids)
