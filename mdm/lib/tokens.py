"""Bearer secrets (API, enrollment and SCIM tokens): 256 random bits behind a prefix that says
what they open (`mdmat_`, `mdmet_`, `mdmst_`), stored only as their SHA-256.

The secret carries 256 random bits, so a plain hash is as strong as a slow one here, and lets
every request look its token up by index.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

# How often a token's `last_used_at` is written: at most once a minute per token, not per request.
LAST_USED_EVERY_SECONDS = 60


def token_new(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def last_used_due(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a token used `now` should have its last use written."""
    return last_used_at is None or (now - last_used_at).total_seconds() > LAST_USED_EVERY_SECONDS
