"""What an employee's organization can and cannot see and do, in plain words, computed from the
policy document the device actually enforces (so the two can never drift apart).

A device managed through Google's Android Management API enforces the AMAPI policy its persona
compiles to (personas.android): its page is computed from the persona's spec, less what Android
does not apply, which it lists with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from personas.android import compile_android_policy

# One sentence per channel and direction; {can} becomes "can" or "cannot".
SENTENCES = {
    ("clipboard", "personal_to_work"): "You {can} paste from personal apps into work apps",
    ("clipboard", "work_to_personal"): "You {can} copy from work apps into personal apps",
    ("files", "personal_to_work"): "Work apps {can} open files from your personal side.",
    ("files", "work_to_personal"): "You {can} save or share work files to your personal side.",
    ("contacts", "personal_to_work"): "Work apps {can} see your personal contacts.",
    ("contacts", "work_to_personal"): "Personal apps {can} see your work contacts.",
    ("calendar", "personal_to_work"): "Work apps {can} see your personal calendar.",
    ("calendar", "work_to_personal"): "Personal apps {can} see your work calendar.",
    ("share_sheet", "personal_to_work"): "You {can} share from personal apps to work apps.",
    ("share_sheet", "work_to_personal"): "You {can} share from work apps to personal apps.",
    ("notifications", "personal_to_work"): "Personal notifications {can} show inside the work profile.",
    ("notifications", "work_to_personal"): "Work notifications {can} show on your personal side.",
    ("screen_capture", "personal_to_work"): "Screenshots of personal apps {can} be saved in the work profile.",
    ("screen_capture", "work_to_personal"): "Screenshots of work apps {can} be taken.",
    ("widgets", "personal_to_work"): "Personal widgets {can} be added to the work profile.",
    ("widgets", "work_to_personal"): "Work widgets {can} show on your personal home screen.",
}

CAN_SEE = [
    "the device's model, platform and operating system version",
    "whether the device meets the work profile's rules (passcode set, not rooted or jailbroken)",
    "the work apps installed in the work profile, and their versions",
    "when the device last checked in",
]

CANNOT_SEE = [
    "your personal apps",
    "your personal files, photos and videos",
    "your messages, calls and contacts outside the work profile",
    "your browsing history",
    "your location",
    "anything outside the work profile",
]

CAN_DO = [
    "install and remove work apps, and configure them",
    "lock the work profile, or erase it (work apps and work data only)",
]

CANNOT_DO = [
    "read, change or erase anything personal",
    "erase the whole device",
]


def _sentence(channel: str, direction: str, decision: str, max_chars: int, exempt: Collection[str]) -> str:
    text = SENTENCES[(channel, direction)].format(can="can" if decision == "allow" else "cannot")
    if channel == "clipboard":
        if decision == "allow" and max_chars:
            text += f" (at most {max_chars} characters at a time)"
        text += "."
    if decision == "deny" and exempt:
        # What the device enforces: these apps are let through anyway.
        text = text[:-1] + f", except for {', '.join(exempt)}."
    return text


def privacy_summary(policy: dict | None, *, not_applied: Collection[str] = ()) -> dict:
    """The privacy page's content. Without a policy yet, only the fixed facts. `not_applied`: the
    spec paths the device does not apply, whose sentences (or parts of one) are left out."""
    sharing = []
    if policy is not None:
        rules = policy["data_sharing"]
        max_chars = 0 if "data_sharing.clipboard.max_chars" in not_applied else rules["clipboard"].get("max_chars", 0)
        for channel, direction in SENTENCES:
            if f"data_sharing.{channel}.{direction}" in not_applied:
                continue
            exempt = rules[channel].get("exemptions", {}).get(direction, [])
            if f"data_sharing.{channel}.exemptions.{direction}" in not_applied:
                exempt = []
            sharing.append(_sentence(channel, direction, rules[channel][direction], max_chars, exempt))
    access = policy["access"] if policy else None
    return {
        "can_see": CAN_SEE,
        "cannot_see": CANNOT_SEE,
        "can_do": CAN_DO,
        "cannot_do": CANNOT_DO,
        "sharing": sharing,
        "offline_days": access["max_offline_days"] if access else None,
        "passcode": access["passcode"] if access else None,
    }


def android_privacy_summary(spec: dict[str, Any]) -> dict:
    """The privacy page of a device managed through Google's Android Management API, from its
    persona's spec: the rules Android applies, and (`not_applied`) those it does not, each as the
    rule in plain words and why Android does not apply it. The offline timer is the server's on
    Android (from the device's last status report), not the device's own (`android`)."""
    unenforced = compile_android_policy(spec).unenforced
    summary = privacy_summary(spec, not_applied={item.path for item in unenforced})
    summary["android"] = True
    summary["not_applied"] = [{"rule": _rule(spec, item.path), "why": item.message} for item in unenforced]
    return summary


_SHARING_PATH = re.compile(r"^data_sharing\.(\w+)\.(?:(exemptions)\.)?(work_to_personal|personal_to_work)$")
_APP_PATH = re.compile(r"^apps\[(\d+)\]\.(id|min_version)$")


def _rule(spec: dict[str, Any], path: str) -> str:
    """A spec setting as the rule it states, for an employee (empty for a path it has no words for:
    the reason is then shown alone)."""
    if match := _SHARING_PATH.match(path):
        channel, exemptions, direction = match.groups()
        rule = spec["data_sharing"][channel]
        exempt = rule["exemptions"][direction] if exemptions else []
        return _sentence(channel, direction, rule[direction], 0, exempt)
    if match := _APP_PATH.match(path):
        app = spec["apps"][int(match.group(1))]
        if match.group(2) == "id":
            return f"The work app {app['id']}."
        return f"{app['id']} must be version {app['min_version']} or later."
    access, enforcement = spec["access"], spec["enforcement"]
    rules = {
        "data_sharing.clipboard.max_chars": (
            f"At most {spec['data_sharing']['clipboard']['max_chars']} characters may be pasted across at a time."
        ),
        "access.passcode.min_length": f"Your work passcode has at least {access['passcode']['min_length']} characters.",
        "access.min_os_version.android": f"Android {access['min_os_version'].get('android')} or later is required.",
        "enforcement.block_after_days": (
            f"If the device breaks these rules, its work profile is locked in {enforcement['block_after_days']} days."
        ),
        "enforcement.wipe_after_days": (
            f"If the device breaks these rules, its work profile is removed in {enforcement['wipe_after_days']} days."
        ),
        "encryption.cipher": f"Work data is encrypted ({spec['encryption']['cipher']}) with your organization's key.",
        "encryption.rotate_after_days": (
            f"The work profile's key is renewed every {spec['encryption']['rotate_after_days']} days."
        ),
    }
    return rules.get(path, "")


def persona_preview(spec: dict[str, Any]) -> dict:
    """What a persona means for an employee before they enroll, in the privacy page's words: the
    same lists and sharing sentences, and its rules (passcode, OS versions, what happens to a
    device that breaks them) as sentences."""
    summary = privacy_summary(spec)
    access, enforcement = spec["access"], spec["enforcement"]
    rules = []
    if access["passcode"]["required"]:
        rules.append(_rule(spec, "access.passcode.min_length"))
    versions = access.get("min_os_version") or {}
    if versions.get("android"):
        rules.append(_rule(spec, "access.min_os_version.android"))
    if versions.get("ios"):
        rules.append(f"iOS {versions['ios']} or later is required.")
    if access.get("block_compromised"):
        rules.append("Work apps stay blocked on a rooted or jailbroken device.")
    if enforcement.get("block_after_days") == 0:
        rules.append("If the device breaks these rules, its work profile is locked at once.")
    elif enforcement.get("block_after_days") is not None:
        rules.append(_rule(spec, "enforcement.block_after_days"))
    if enforcement.get("wipe_after_days") is not None:
        rules.append(_rule(spec, "enforcement.wipe_after_days"))
    summary["rules"] = rules
    return summary
