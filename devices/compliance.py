"""Whether a device complies, from the facts its agent reports.

The baseline every device must meet: a compliant container passcode and no sign of being
rooted or jailbroken. (The persona's own access settings add their rules once personas carry
them.)
"""

from __future__ import annotations


def evaluate_compliance(*, device, facts: dict, os_version: str) -> tuple[bool | None, list[str]]:
    """(compliant, reasons it is not). None when the agent reported no facts at all."""
    if not facts:
        return None, []
    reasons = []
    if facts.get("passcode_compliant") is not True:
        reasons.append("The work profile's passcode does not meet the policy.")
    if facts.get("compromised") is not False:
        reasons.append("The device appears rooted or jailbroken.")
    return not reasons, reasons
