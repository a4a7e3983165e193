"""A persona's settings in words for the people who edit them: each field's label (by its path in
the spec, as the editor names its inputs and the validation names its errors), the platforms'
names, the presets' names, and what changed between two specs, field by field.

The spec's paths (`access.passcode.min_length`, `apps[2].id`) are for programs; a page shows
these words instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from personas.choices import PLATFORMS, Channel, Decision, Direction, InstallMode, PasscodeComplexity

PLATFORM_LABELS = {
    "android": "Android",
    "ios": "iOS",
    "windows": "Windows",
    "macos": "macOS",
    "linux": "Linux",
}
"""Each platform's name as its maker writes it."""

PRESET_LABELS = {
    "byod-basic": "Personal device, basic protection",
    "byod-strict": "Personal device, enhanced protection",
    "corporate-owned": "Corporate-owned device, high protection",
}


def platform_label(platform: str) -> str:
    return PLATFORM_LABELS.get(platform, platform)


def preset_label(preset: str) -> str:
    return PRESET_LABELS.get(preset, preset)


def platform_choices() -> list[tuple[str, str]]:
    return [(platform, platform_label(platform)) for platform in PLATFORMS]


def _fields() -> dict[str, str]:
    fields = {
        "name": _("Name"),
        "description": _("Description"),
        "apps": _("Work apps"),
        "data_sharing": _("Data sharing"),
        "data_sharing.clipboard.max_chars": _("Clipboard: most characters pasted across"),
        "encryption": _("Encryption"),
        "encryption.cipher": _("Container cipher"),
        "encryption.rotate_after_days": _("Rotate the container key every (days)"),
        "access": _("Access"),
        "access.passcode.required": _("Passcode required for the work profile"),
        "access.passcode.min_length": _("Passcode minimum length"),
        "access.passcode.complexity": _("Passcode complexity"),
        "access.max_offline_days": _("Wipe the work profile after this many days offline"),
        "access.min_os_version": _("Minimum OS versions"),
        "access.block_compromised": _("Block rooted or jailbroken devices"),
        "enforcement": _("Enforcement"),
        "enforcement.block_after_days": _("Lock the work profile after (days)"),
        "enforcement.wipe_after_days": _("Wipe the work profile after (days)"),
        "non_field_errors": _("The whole form"),
    }
    for platform in PLATFORMS:
        fields[f"access.min_os_version.{platform}"] = _("Minimum %(platform)s version") % {
            "platform": platform_label(platform)
        }
    for channel, channel_label in Channel.choices:
        fields[f"data_sharing.{channel}"] = str(channel_label)
        for direction, direction_label in Direction.choices:
            words = {"channel": channel_label, "direction": str(direction_label).lower()}
            fields[f"data_sharing.{channel}.{direction}"] = _("%(channel)s, %(direction)s") % words
            fields[f"data_sharing.{channel}.exemptions.{direction}"] = (
                _("%(channel)s, apps exempt from %(direction)s") % words
            )
        fields[f"data_sharing.{channel}.exemptions"] = _("%(channel)s, exempt apps") % {"channel": channel_label}
    return fields


APP_FIELDS = {
    "id": "App id",
    "install": "Install",
    "min_version": "Minimum version",
    "signing_cert_sha256": "Allowed signing certificates",
    "managed_config": "Managed configuration",
}
_APP_PATH = re.compile(r"^apps\[(\d+)\](?:\.(\w+))?$")


def field_label(path: str, spec: dict[str, Any] | None = None) -> str:
    """A field's label by its spec path: `access.passcode.min_length` is "Passcode minimum
    length", `apps[2].min_version` "App 3 (com.acme.mail): Minimum version" (with the app's id
    when `spec` is given). A path it has no label for is named by its nearest labelled parent."""
    if match := _APP_PATH.match(path):
        index, field = int(match.group(1)), match.group(2)
        app = _("App %(n)s") % {"n": index + 1}
        apps = (spec or {}).get("apps") or []
        if index < len(apps) and isinstance(apps[index], dict) and apps[index].get("id"):
            app = f"{app} ({apps[index]['id']})"
        return f"{app}: {_(APP_FIELDS.get(field, field))}" if field else app
    fields = _fields()
    path = path.removesuffix(".non_field_errors")
    if path in fields:
        return fields[path]
    parent = path.rpartition(".")[0]
    while parent and parent not in fields:
        parent = parent.rpartition(".")[0]
    words = path.rpartition(".")[2].replace("_", " ")
    return f"{fields[parent]}: {words}" if parent else words.capitalize()


# --- Values in words --------------------------------------------------------------------------


_CHOICES: dict[str, str] = {
    **{value: str(label) for value, label in Decision.choices},
    **{value: str(label) for value, label in InstallMode.choices},
}


def value_words(path: str, value: Any) -> str:
    """A setting's value as a person reads it: Yes/No, "not set", the choice's label."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value is None or value == "" or value == [] or value == {}:
        if path.startswith("enforcement."):
            return _("never")
        return _("none") if isinstance(value, (list, dict)) else _("not set")
    if path == "access.passcode.complexity":
        return str(dict(PasscodeComplexity.choices).get(value, value))
    if path == "data_sharing.clipboard.max_chars" and value == 0:
        return _("no limit")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, str) and value in _CHOICES:
        return _CHOICES[value]
    return str(value)


@dataclass(frozen=True)
class Change:
    """One line of a diff in words: the field, its value before, its value after."""

    label: str
    old: str
    new: str


def _leaves(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    leaves: dict[str, Any] = {}
    for key, value in spec.items():
        path = f"{prefix}.{key}" if prefix else key
        if key == "apps" and not prefix:
            continue
        if isinstance(value, dict) and path != "access.min_os_version":
            leaves.update(_leaves(value, path))
        else:
            leaves[path] = value
    return leaves


def _app_words(rule: dict[str, Any]) -> str:
    words = [value_words("install", rule.get("install"))]
    if rule.get("min_version"):
        words.append(_("version %(v)s or later") % {"v": rule["min_version"]})
    if rule.get("signing_cert_sha256"):
        words.append(_("%(n)s signing certificates") % {"n": len(rule["signing_cert_sha256"])})
    if rule.get("managed_config"):
        words.append(_("with a managed configuration"))
    return "; ".join(words)


def human_diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What changed between two specs, field by field in the editor's order, in words."""
    changes: list[Change] = []
    before, after = _leaves(old), _leaves(new)
    for path in [*before, *(p for p in after if p not in before)]:
        a, b = before.get(path), after.get(path)
        if a == b:
            continue
        if path == "access.min_os_version":
            a, b = a or {}, b or {}
            for platform in [*PLATFORMS, *sorted((set(a) | set(b)) - set(PLATFORMS))]:
                if a.get(platform) != b.get(platform):
                    sub = f"{path}.{platform}"
                    changes.append(
                        Change(field_label(sub), value_words(sub, a.get(platform)), value_words(sub, b.get(platform)))
                    )
            continue
        changes.append(Change(field_label(path), value_words(path, a), value_words(path, b)))
    old_apps = {rule["id"]: rule for rule in old.get("apps") or []}
    new_apps = {rule["id"]: rule for rule in new.get("apps") or []}
    for app_id in [*old_apps, *(a for a in new_apps if a not in old_apps)]:
        a, b = old_apps.get(app_id), new_apps.get(app_id)
        if a == b:
            continue
        label = _("Work app %(app)s") % {"app": app_id}
        was = _app_words(a) if a else _("not listed (blocked)")
        will = _app_words(b) if b else _("removed (blocked)")
        if a and b and was == will:
            # Only the certificates' or the configuration's content changed: say which.
            parts = [
                str(_(APP_FIELDS[field])).lower()
                for field in ("signing_cert_sha256", "managed_config")
                if a.get(field) != b.get(field)
            ]
            will = _("%(words)s (%(parts)s changed)") % {"words": will, "parts": _(" and ").join(parts)}
        changes.append(Change(label, was, will))
    return changes


# The spec's own words in the validation's messages (which the admin API returns as they are):
# the console shows them in words.
_DIRECTIONS = dict(Direction.choices)
_KEYS_IN_MESSAGES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"\bapps\[(\d+)\]"), lambda m: _("app %(n)s") % {"n": int(m.group(1)) + 1}),
    (re.compile(r"\bblock_after_days\b"), lambda m: _("the days before the lock")),
    (re.compile(r"\bwipe_after_days\b"), lambda m: _("the days before the wipe")),
    (re.compile(r"\b(work_to_personal|personal_to_work)\b"), lambda m: str(_DIRECTIONS[m.group(1)]).lower()),
    (re.compile(rf"^({'|'.join(PLATFORMS)}):"), lambda m: f"{platform_label(m.group(1))}:"),
]


def in_words(message: str) -> str:
    """A validation message with the spec's keys it names (`apps[2]`, `block_after_days`) in words."""
    for pattern, words in _KEYS_IN_MESSAGES:
        message = pattern.sub(words, message)
    return message
