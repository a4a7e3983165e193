"""Durations as people type them: `90s`, `30m`, `1h`, `7d`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    match = _PATTERN.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30m, 1h or 7d.")
    amount, unit = match.groups()
    return timedelta(**{_UNITS[unit]: int(amount)})
