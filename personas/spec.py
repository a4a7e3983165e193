"""A persona's settings as one document (the "spec"), its validation, and the presets.

The spec has the shape of the policy document's matching parts, so what an admin edits is what
a device receives:

    {"name", "description",
     "apps": [{"id", "install", "min_version", "signing_cert_sha256": [...], "managed_config": {}}],
     "data_sharing": {channel: {"work_to_personal": "allow|deny", "personal_to_work": "allow|deny",
                                "exemptions": {"work_to_personal": [app ids], "personal_to_work": [...]}},
                      "clipboard": {..., "max_chars": 0}},
     "encryption": {"cipher": "AES-256-GCM", "rotate_after_days": 90},
     "access": {"passcode": {"required", "min_length", "complexity"}, "max_offline_days",
                "min_os_version": {platform: version}, "block_compromised"},
     "enforcement": {"block_after_days": N | null, "wipe_after_days": M | null}}

`SPEC` declares that shape once (with mdm.lib.validation, plain Python): `validate_spec` enforces
it, refusing with a ServiceError whose errors name each field at fault by its path
(`apps[2].signing_cert_sha256`), and the admin API's schema is built from it.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from django.utils.translation import gettext as _

from mdm.lib import jsonsafe
from mdm.lib.validation import (
    Boolean,
    Choice,
    Integer,
    Invalid,
    ListOf,
    MapOf,
    Object,
    ObjectList,
    Text,
    validate,
)
from personas.choices import CIPHERS, PLATFORMS, Channel, Decision, Direction, InstallMode, PasscodeComplexity

# Android package names (segments start with a letter) and iOS bundle ids (letters, digits, '-').
ANDROID_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
IOS_BUNDLE_ID = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# ASCII digits only: Python's \d also matches other scripts' digits, JSON Schema's does not.
VERSION = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$")
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_MANAGED_CONFIG_BYTES = 16 * 1024
# Android's managed configurations nest bundles in bundle arrays; nothing real goes past a few levels.
MAX_MANAGED_CONFIG_DEPTH = 10
MAX_APPS = 500
MAX_CERTS_PER_APP = 10
MAX_EXEMPTIONS = 50


def is_app_id(value: str) -> bool:
    return len(value) <= 255 and bool(ANDROID_PACKAGE.match(value) or IOS_BUNDLE_ID.match(value))


class AppId(Text):
    """An Android package name or an iOS bundle id (what is not one is refused before its length)."""

    def __init__(self, **kwargs: Any):
        super().__init__(max_length=255, **kwargs)

    def parse(self, value: Any, path: str) -> str:
        text = super().parse(value, path)
        if not is_app_id(text):
            raise Invalid(_("Not an app id: an Android package name (com.example.app) or an iOS bundle id."))
        return text


# --- Checks: each receives a cleaned value and returns it (or its normal form) ---------------------


def _min_version(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not VERSION.match(value):
        raise Invalid(_("A version such as 3, 3.2 or 3.2.1."))
    return value


def _signing_certs(value: list[str]) -> list[str]:
    cleaned: list[str] = []
    for item in value:
        if not SHA256_HEX.match(item):
            raise Invalid(_("%(item)r is not a SHA-256 hash (64 hex characters).") % {"item": item})
        if item.lower() in cleaned:
            raise Invalid(_("%(item)s is listed twice.") % {"item": item})
        cleaned.append(item.lower())
    return cleaned


def _managed_config(value: dict[str, Any]) -> dict[str, Any]:
    # Before anything walks it recursively: depth, size, and what PostgreSQL's jsonb cannot
    # store (NUL, lone surrogates, NaN and infinite numbers), refused here, naming the field.
    try:
        jsonsafe.check(value, max_depth=MAX_MANAGED_CONFIG_DEPTH, text_safe=True, max_nodes=MAX_MANAGED_CONFIG_BYTES)
    except jsonsafe.UnsafeJSON as exc:
        raise Invalid(str(exc)) from exc
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if len(text.encode()) > MAX_MANAGED_CONFIG_BYTES:
        raise Invalid(_("At most %(kib)s KiB of JSON.") % {"kib": MAX_MANAGED_CONFIG_BYTES // 1024})
    return value


def _app_rule(rule: dict[str, Any]) -> dict[str, Any]:
    if rule["install"] == InstallMode.BLOCKED and (rule.get("min_version") or rule.get("managed_config")):
        raise Invalid(
            errors={"install": [_("A blocked app cannot have a minimum version or a managed configuration.")]}
        )
    return rule


def _channel(rules: dict[str, Any]) -> dict[str, Any]:
    rules.setdefault("exemptions", {"work_to_personal": [], "personal_to_work": []})
    for direction in Direction.values:
        if rules["exemptions"].get(direction) and rules[direction] == Decision.ALLOW:
            message = _("Exemptions apply to a denied direction; %(direction)s is allowed.") % {"direction": direction}
            raise Invalid(errors={"exemptions": [message]})
    return rules


def _min_os_versions(value: dict[str, str]) -> dict[str, str]:
    for platform, version in value.items():
        if platform not in PLATFORMS:
            raise Invalid(
                _("Unknown platform %(platform)r; one of: %(platforms)s.")
                % {"platform": platform, "platforms": ", ".join(PLATFORMS)}
            )
        if not VERSION.match(version):
            raise Invalid(_("%(platform)s: a version such as 14 or 16.4.") % {"platform": platform})
    return value


def _enforcement(attrs: dict[str, Any]) -> dict[str, Any]:
    block, wipe = attrs.get("block_after_days"), attrs.get("wipe_after_days")
    if block is not None and wipe is not None and wipe <= block:
        message = _("Must be more than block_after_days (%(block)s): lock first, wipe later.") % {"block": block}
        raise Invalid(errors={"wipe_after_days": [message]})
    return attrs


def _name(value: str) -> str:
    if not value.strip():
        raise Invalid(_("A persona needs a name."))
    return value.strip()


def _persona(attrs: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for index, rule in enumerate(attrs["apps"]):
        if rule["id"] in seen:
            message = _("%(app)s is already listed (apps[%(first)s]).") % {"app": rule["id"], "first": seen[rule["id"]]}
            errors[f"apps[{index}].id"] = [message]
        seen.setdefault(rule["id"], index)
    listed = {rule["id"]: rule["install"] for rule in attrs["apps"]}
    for channel, rules in attrs["data_sharing"].items():
        for direction, apps in rules["exemptions"].items():
            for app in apps:
                if listed.get(app) in (None, InstallMode.BLOCKED):
                    errors.setdefault(f"data_sharing.{channel}.exemptions.{direction}", []).append(
                        _("%(app)s is exempt but is not an allowed app of this persona.") % {"app": app}
                    )
    if errors:
        raise Invalid(errors=errors)
    return attrs


# --- The shape of a spec --------------------------------------------------------------------------


_CHANNEL_FIELDS = {
    "work_to_personal": Choice(choices=Decision.choices),
    "personal_to_work": Choice(choices=Decision.choices),
    "exemptions": Object(
        "Exemptions",
        {
            "work_to_personal": ListOf(AppId(), default=list, max_length=MAX_EXEMPTIONS),
            "personal_to_work": ListOf(AppId(), default=list, max_length=MAX_EXEMPTIONS),
        },
        required=False,
    ),
}
_CHANNEL = Object("Channel", _CHANNEL_FIELDS, check=_channel)
_CLIPBOARD = Object(
    "Clipboard",
    {**_CHANNEL_FIELDS, "max_chars": Integer(min_value=0, max_value=1_000_000, default=0, help_text="0: no limit.")},
    check=_channel,
)

APP_RULE = Object(
    "AppRule",
    {
        "id": AppId(),
        "install": Choice(choices=InstallMode.choices, default=InstallMode.AVAILABLE),
        "min_version": Text(allow_blank=True, allow_null=True, default=None, max_length=32, check=_min_version),
        "signing_cert_sha256": ListOf(Text(), default=list, max_length=MAX_CERTS_PER_APP, check=_signing_certs),
        "managed_config": MapOf(default=dict, check=_managed_config),
    },
    check=_app_rule,
)

SPEC = Object(
    "Persona",
    {
        "name": Text(max_length=100, check=_name),
        "description": Text(allow_blank=True, default="", max_length=2000),
        "apps": ObjectList(APP_RULE, max_length=MAX_APPS),
        "data_sharing": Object(
            "DataSharing",
            {channel: _CLIPBOARD if channel == Channel.CLIPBOARD else _CHANNEL for channel in Channel.values},
        ),
        "encryption": Object(
            "Encryption",
            {
                "cipher": Choice(choices=CIPHERS, default="AES-256-GCM"),
                "rotate_after_days": Integer(min_value=1, max_value=365),
            },
        ),
        "access": Object(
            "Access",
            {
                "passcode": Object(
                    "Passcode",
                    {
                        "required": Boolean(),
                        "min_length": Integer(min_value=4, max_value=16),
                        "complexity": Choice(choices=PasscodeComplexity.choices),
                    },
                ),
                "max_offline_days": Integer(min_value=1, max_value=365),
                "min_os_version": MapOf(Text(max_length=32), default=dict, check=_min_os_versions),
                "block_compromised": Boolean(),
            },
        ),
        "enforcement": Object(
            "Enforcement",
            {
                "block_after_days": Integer(min_value=0, max_value=365, allow_null=True, default=None),
                "wipe_after_days": Integer(min_value=1, max_value=365, allow_null=True, default=None),
            },
            check=_enforcement,
        ),
    },
    check=_persona,
)
"""The shape of a persona spec: what `validate_spec` enforces, and what the admin API documents."""


def validate_spec(spec: Any) -> dict[str, Any]:
    """The cleaned spec, or ServiceError (code `invalid`) with the messages by field path."""
    return json.loads(json.dumps(validate(SPEC, spec)))


def merge(base: dict, changes: dict) -> dict:
    """`changes` laid over `base`, nested objects merged key by key (lists are replaced)."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def diff(old: dict, new: dict, path: str = "") -> list[str]:
    """What changed between two specs, one line per leaf: `access.max_offline_days: 30 -> 7`."""
    lines = []
    for key in sorted(set(old) | set(new), key=str):
        where = f"{path}.{key}" if path else str(key)
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines.extend(diff(a, b, where))
        elif key == "apps" and isinstance(a, list) and isinstance(b, list):
            before, after = {r["id"]: r for r in a}, {r["id"]: r for r in b}
            lines += [f"apps: removed {app}" for app in sorted(set(before) - set(after))]
            lines += [f"apps: added {app} ({after[app]['install']})" for app in sorted(set(after) - set(before))]
            lines += [f"apps: changed {app}" for app in sorted(set(before) & set(after)) if before[app] != after[app]]
        elif a != b:
            lines.append(f"{where}: {json.dumps(a)} -> {json.dumps(b)}")
    return lines


# --- Defaults and presets -----------------------------------------------------------------------


def _sharing(w2p: dict[str, str], p2w: dict[str, str], max_chars: int = 0) -> dict[str, Any]:
    sharing: dict[str, dict[str, Any]] = {}
    for channel in Channel.values:
        sharing[channel] = {
            "work_to_personal": w2p.get(channel, w2p.get("*", Decision.DENY.value)),
            "personal_to_work": p2w.get(channel, p2w.get("*", Decision.DENY.value)),
            "exemptions": {"work_to_personal": [], "personal_to_work": []},
        }
    sharing["clipboard"]["max_chars"] = max_chars
    return sharing


# Safe defaults: nothing leaves work for personal; personal text and files may come in.
DEFAULT_SHARING = _sharing({"*": "deny"}, {"clipboard": "allow", "files": "allow"})

PRESETS: dict[str, dict] = {
    # Like Intune's level 1 (basic data protection): for personal phones where the work side is
    # mail and chat. Work data stays in; personal data may come in.
    "byod-basic": {
        "description": "Personal device, basic protection: work data stays in the work profile; "
        "text and files may come in from personal apps. A PIN, and a wipe after 30 days offline.",
        "apps": [],
        "data_sharing": DEFAULT_SHARING,
        "encryption": {"cipher": "AES-256-GCM", "rotate_after_days": 90},
        "access": {
            "passcode": {"required": True, "min_length": 4, "complexity": "low"},
            "max_offline_days": 30,
            "min_os_version": {},
            "block_compromised": True,
        },
        "enforcement": {"block_after_days": 7, "wipe_after_days": 30},
    },
    # Like Intune's level 2 (enhanced): people with access to sensitive data.
    "byod-strict": {
        "description": "Personal device, enhanced protection: nothing crosses either way except short "
        "pasted text into work apps; no screenshots; a stronger passcode; recent OS versions only.",
        "apps": [],
        "data_sharing": _sharing({"*": "deny"}, {"clipboard": "allow"}, max_chars=500),
        "encryption": {"cipher": "AES-256-GCM", "rotate_after_days": 30},
        "access": {
            "passcode": {"required": True, "min_length": 6, "complexity": "medium"},
            "max_offline_days": 7,
            "min_os_version": {"android": "13", "ios": "16"},
            "block_compromised": True,
        },
        "enforcement": {"block_after_days": 1, "wipe_after_days": 14},
    },
    # Like Intune's level 3 (high), on a device the organization owns.
    "corporate-owned": {
        "description": "Corporate-owned device, high protection: work data never leaves the work side; "
        "work notifications may show on the lock screen; strongest passcode; quick enforcement.",
        "apps": [],
        "data_sharing": _sharing({"notifications": "allow"}, {"clipboard": "allow", "files": "allow"}),
        "encryption": {"cipher": "AES-256-GCM", "rotate_after_days": 30},
        "access": {
            "passcode": {"required": True, "min_length": 6, "complexity": "high"},
            "max_offline_days": 14,
            "min_os_version": {"android": "14", "ios": "17"},
            "block_compromised": True,
        },
        "enforcement": {"block_after_days": 0, "wipe_after_days": 7},
    },
}
DEFAULT_PRESET = "byod-basic"


def preset_spec(preset: str, *, name: str) -> dict:
    if preset not in PRESETS:
        raise KeyError(preset)
    return {"name": name, **copy.deepcopy(PRESETS[preset])}
