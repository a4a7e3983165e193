"""Durations as people type them: `90s`, `30m`, `1h`, `7d`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# ASCII digits only: Python's \d also takes other scripts' digits (Arabic-Indic "7d", say).
_PATTERN = re.compile(r"^\s*([0-9]{1,6})\s*([smhdw])\s*$")
# Far past anything a token or a lifetime here may be, and far below what datetime overflows at.
CEILING = timedelta(days=3650)


def parse_duration(text: str, *, maximum: timedelta | None = None) -> timedelta:
    """The duration `text` names; ValueError, with a message for a person, for anything else or
    for more than `maximum` (at most ten years, so that adding it to a date never overflows)."""
    match = _PATTERN.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30m, 1h or 7d.")
    amount, unit = match.groups()
    duration = timedelta(**{_UNITS[unit]: int(amount)})
    limit = min(maximum or CEILING, CEILING)
    if duration > limit:
        raise ValueError(f"At most {_describe(limit)}.")
    return duration


def _describe(duration: timedelta) -> str:
    if duration.days and not duration.seconds:
        return f"{duration.days} days"
    return f"{int(duration.total_seconds())} seconds"
