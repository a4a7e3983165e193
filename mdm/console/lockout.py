"""Sign-in lock-out: after MDM_LOGIN_MAX_FAILURES failed sign-ins for one e-mail address within
MDM_LOGIN_LOCKOUT_MINUTES, that address cannot sign in until the window has passed, whatever the
password. Counted per address (not per client address), so a botnet gains nothing by rotating
IPs; the cost is that an attacker can lock a known address out for a while, which is the usual
trade-off and is logged."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings

from mdm.lib import cache

logger = logging.getLogger(__name__)


def _key(email: str) -> str:
    return "login-failures:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def is_locked(email: str) -> bool:
    return (cache.get(_key(email)) or 0) >= settings.MDM_LOGIN_MAX_FAILURES


def record_failure(email: str) -> None:
    count = cache.incr_in_window(_key(email), timeout=settings.MDM_LOGIN_LOCKOUT_MINUTES * 60)
    if count == settings.MDM_LOGIN_MAX_FAILURES:
        logger.warning("Sign-in locked for %s minutes after %s failures", settings.MDM_LOGIN_LOCKOUT_MINUTES, count)


def clear(email: str) -> None:
    cache.delete(_key(email))
