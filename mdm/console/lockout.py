"""Sign-in lock-out: after MDM_LOGIN_MAX_FAILURES failed sign-ins for one e-mail address within
MDM_LOGIN_LOCKOUT_MINUTES, that address cannot sign in until the window has passed, whatever the
password. Counted per address (not per client address), so rotating IPs gains nothing; the cost
is that someone can lock a known address out for a while, which is the usual trade-off.

Every attempt is counted before the password is checked (so parallel guesses cannot all slip
in), and a success clears the count. Addresses are compared case-folded and NFKC-normalised, the
way the database matches them, so a look-alike spelling does not get a fresh counter. With the
cache unreachable the lock-out is not enforced (it fails open) and that is logged.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata

from django.conf import settings

from mdm.lib import cache

logger = logging.getLogger(__name__)


def _key(email: str) -> str:
    normalised = unicodedata.normalize("NFKC", email.strip()).casefold().upper()
    return "login-attempts:" + hashlib.sha256(normalised.encode()).hexdigest()


def attempt(email: str) -> bool:
    """Count an attempt; False when the address is locked out (then do not check the password)."""
    count = cache.incr_in_window(_key(email), timeout=settings.MDM_LOGIN_LOCKOUT_MINUTES * 60)
    if count is not None and count > settings.MDM_LOGIN_MAX_FAILURES:
        if count == settings.MDM_LOGIN_MAX_FAILURES + 1:
            logger.warning("Sign-in locked for %s minutes after repeated failures", settings.MDM_LOGIN_LOCKOUT_MINUTES)
        return False
    return True


def clear(email: str) -> None:
    cache.delete(_key(email))
