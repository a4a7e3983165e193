"""What an employee's organization can and cannot see and do, in plain words, computed from the
policy document the device actually enforces (so the two can never drift apart)."""

from __future__ import annotations

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


def _sentence(channel: str, direction: str, decision: str, max_chars: int, exempt: list[str]) -> str:
    text = SENTENCES[(channel, direction)].format(can="can" if decision == "allow" else "cannot")
    if channel == "clipboard":
        if decision == "allow" and max_chars:
            text += f" (at most {max_chars} characters at a time)"
        text += "."
    if decision == "deny" and exempt:
        # What the device enforces: these apps are let through anyway.
        text = text[:-1] + f", except for {', '.join(exempt)}."
    return text


def privacy_summary(policy: dict | None) -> dict:
    """The privacy page's content. Without a policy yet, only the fixed facts."""
    sharing = []
    if policy is not None:
        rules = policy["data_sharing"]
        max_chars = rules["clipboard"].get("max_chars", 0)
        for channel, direction in SENTENCES:
            exempt = rules[channel].get("exemptions", {}).get(direction, [])
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
