"""The audit actions about personas and the detail keys each may record; and how a persona's
diff reads in the console's audit log (its settings by name, its values in words).

`persona.devices_assigned` is written by the devices app when it moves devices to a persona (the
persona is the event's target); it is declared here with the other persona actions.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mdm.audit import detail_value, register_actions, register_detail_renderer

register_actions(
    {
        "persona.created": {"name", "preset", "revision"},
        "persona.updated": {"name", "revision", "diff"},
        "persona.deleted": {"name"},
        "persona.devices_assigned": {"devices", "device_ids"},
    }
)

# A persona's settings by their path in its spec (personas.spec), as the editor names them.
SETTING_LABELS: dict[str, Any] = {
    "name": gettext_lazy("Name"),
    "description": gettext_lazy("Description"),
    "encryption.cipher": gettext_lazy("Encryption"),
    "encryption.rotate_after_days": gettext_lazy("Renew the work profile's key every (days)"),
    "access.passcode.required": gettext_lazy("Passcode required"),
    "access.passcode.min_length": gettext_lazy("Minimum passcode length"),
    "access.passcode.complexity": gettext_lazy("Passcode complexity"),
    "access.max_offline_days": gettext_lazy("Longest time offline (days)"),
    "access.min_os_version.android": gettext_lazy("Minimum Android version"),
    "access.min_os_version.ios": gettext_lazy("Minimum iOS version"),
    "access.block_compromised": gettext_lazy("Block rooted or jailbroken devices"),
    "enforcement.block_after_days": gettext_lazy("Lock the work profile after (days not compliant)"),
    "enforcement.wipe_after_days": gettext_lazy("Wipe the work profile after (days not compliant)"),
    "data_sharing.clipboard.max_chars": gettext_lazy("Clipboard: most characters at a time"),
}
CHANNEL_LABELS: dict[str, Any] = {
    "clipboard": gettext_lazy("Clipboard"),
    "files": gettext_lazy("Files"),
    "contacts": gettext_lazy("Contacts"),
    "calendar": gettext_lazy("Calendar"),
    "share_sheet": gettext_lazy("Share sheet"),
    "notifications": gettext_lazy("Notifications"),
    "screen_capture": gettext_lazy("Screenshots"),
    "widgets": gettext_lazy("Widgets"),
}
DIRECTION_LABELS: dict[str, Any] = {
    "work_to_personal": gettext_lazy("work to personal"),
    "personal_to_work": gettext_lazy("personal to work"),
}
VALUE_WORDS: dict[str, Any] = {"allow": gettext_lazy("Allowed"), "deny": gettext_lazy("Blocked")}

_SHARING = re.compile(r"^data_sharing\.(\w+)\.(?:(exemptions)\.)?(work_to_personal|personal_to_work)$")
_CHANGE = re.compile(r"^(?P<path>[\w.\[\]-]+): (?P<old>.*) -> (?P<new>.*)$")
_APP = re.compile(r"^apps: (?P<what>added|removed|changed) (?P<app>\S+)(?: \((?P<install>\w+)\))?$")


def setting_label(path: str) -> str:
    """`access.passcode.min_length` → "Minimum passcode length"; a path with no name of its own
    reads as its parts ("Encryption: rotate after days")."""
    if path in SETTING_LABELS:
        return str(SETTING_LABELS[path])
    if match := _SHARING.match(path):
        channel, exemptions, direction = match.groups()
        channel_label = str(CHANNEL_LABELS.get(channel, channel.replace("_", " ").capitalize()))
        direction_label = str(DIRECTION_LABELS[direction])
        if exemptions:
            return _("%(channel)s, %(direction)s: apps let through") % {
                "channel": channel_label,
                "direction": direction_label,
            }
        return f"{channel_label}, {direction_label}"
    parts = [part.replace("_", " ") for part in path.split(".")]
    return ": ".join([parts[0].capitalize(), *parts[1:]])


def _value(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if value is None or value == [] or value == {}:
        return _("none")
    if isinstance(value, str) and value in VALUE_WORDS:
        return str(VALUE_WORDS[value])
    return detail_value(value)


def diff_line(line: str) -> str:
    """One line of personas.spec.diff in words: "Minimum passcode length: 6 → 8"."""
    if match := _APP.match(line):
        what, app, install = match.group("what"), match.group("app"), match.group("install")
        if what == "added" and install:
            return _("Work app added: %(app)s (%(install)s)") % {"app": app, "install": install}
        if what == "added":
            return _("Work app added: %(app)s") % {"app": app}
        if what == "removed":
            return _("Work app removed: %(app)s") % {"app": app}
        return _("Work app changed: %(app)s") % {"app": app}
    if match := _CHANGE.match(line):
        old, new = _value(match.group("old")), _value(match.group("new"))
        return f"{setting_label(match.group('path'))}: {old} → {new}"
    return line


def _diff(value: Any) -> list[str] | str:
    if isinstance(value, list):
        return [diff_line(str(line)) for line in value]
    return detail_value(value)


register_detail_renderer("diff", _diff)
