"""Whether a device complies, and what its owner can do about it, from the facts its agent
reports and its persona's access settings."""

from __future__ import annotations

from devices.choices import Platform


def _version(value: str) -> tuple[int, ...]:
    parts = []
    for part in (value or "").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def evaluate_compliance(*, device, facts: dict, os_version: str) -> tuple[bool | None, list[str]]:
    """(compliant, what to do about each problem, in plain words). None when nothing was reported."""
    if not facts:
        return None, []
    persona = device.persona
    reasons = []
    if facts.get("passcode_compliant") is not True:
        length = persona.passcode_min_length if persona else 4
        reasons.append(f"Set a passcode of at least {length} characters for your work profile.")
    if facts.get("compromised") is not False and (persona is None or persona.block_compromised):
        reasons.append("This device appears rooted or jailbroken: work apps stay blocked on it.")
    minimum = (persona.min_os_version if persona else {}).get(device.platform)
    if minimum and _version(os_version) < _version(minimum):
        name = Platform(device.platform).label if device.platform in Platform.values else device.platform
        reasons.append(f"Update to {name} {minimum} to regain access to work apps.")
    return not reasons, reasons
