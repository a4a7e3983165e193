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

Validation names the field at fault with a dotted path (`apps[2].signing_cert_sha256`).
"""

from __future__ import annotations

import copy
import json
import re

from rest_framework import serializers

from mdm.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField
from mdm.lib import jsonsafe
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


def version_tuple(value: str) -> tuple[int, ...]:
    return tuple(int(part) for part in value.split("."))


class AppIdField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=255, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not is_app_id(value):
            raise serializers.ValidationError(
                "Not an app id: an Android package name (com.example.app) or an iOS bundle id."
            )
        return value


class AppRuleSpec(serializers.Serializer):
    id = AppIdField()
    install = serializers.ChoiceField(choices=InstallMode.choices, default=InstallMode.AVAILABLE)
    min_version = StrictCharField(allow_blank=True, allow_null=True, required=False, default=None, max_length=32)
    signing_cert_sha256 = serializers.ListField(
        child=StrictCharField(), required=False, default=list, max_length=MAX_CERTS_PER_APP
    )
    managed_config = serializers.DictField(required=False, default=dict)

    def validate_min_version(self, value):
        if value in (None, ""):
            return None
        if not VERSION.match(value):
            raise serializers.ValidationError("A version such as 3, 3.2 or 3.2.1.")
        return value

    def validate_signing_cert_sha256(self, value):
        cleaned = []
        for item in value:
            if not SHA256_HEX.match(item):
                raise serializers.ValidationError(f"{item!r} is not a SHA-256 hash (64 hex characters).")
            if item.lower() in cleaned:
                raise serializers.ValidationError(f"{item} is listed twice.")
            cleaned.append(item.lower())
        return cleaned

    def validate_managed_config(self, value):
        # Before anything walks it recursively: depth, size, and what PostgreSQL's jsonb cannot
        # store (NUL, lone surrogates, NaN and infinite numbers), refused here, naming the field.
        try:
            jsonsafe.check(
                value, max_depth=MAX_MANAGED_CONFIG_DEPTH, text_safe=True, max_nodes=MAX_MANAGED_CONFIG_BYTES
            )
        except jsonsafe.UnsafeJSON as exc:
            raise serializers.ValidationError(str(exc)) from exc
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        if len(text.encode()) > MAX_MANAGED_CONFIG_BYTES:
            raise serializers.ValidationError(f"At most {MAX_MANAGED_CONFIG_BYTES // 1024} KiB of JSON.")
        return value

    def validate(self, attrs):
        if attrs["install"] == InstallMode.BLOCKED and (attrs.get("min_version") or attrs.get("managed_config")):
            raise serializers.ValidationError(
                {"install": ["A blocked app cannot have a minimum version or a managed configuration."]}
            )
        return attrs


class ExemptionsSpec(serializers.Serializer):
    work_to_personal = serializers.ListField(
        child=AppIdField(), required=False, default=list, max_length=MAX_EXEMPTIONS
    )
    personal_to_work = serializers.ListField(
        child=AppIdField(), required=False, default=list, max_length=MAX_EXEMPTIONS
    )


class ChannelSpec(serializers.Serializer):
    work_to_personal = serializers.ChoiceField(choices=Decision.choices)
    personal_to_work = serializers.ChoiceField(choices=Decision.choices)
    exemptions = ExemptionsSpec(required=False)

    def validate(self, attrs):
        attrs.setdefault("exemptions", {"work_to_personal": [], "personal_to_work": []})
        for direction in Direction.values:
            if attrs["exemptions"].get(direction) and attrs[direction] == Decision.ALLOW:
                raise serializers.ValidationError(
                    {"exemptions": [f"Exemptions apply to a denied direction; {direction} is allowed."]}
                )
        return attrs


class ClipboardSpec(ChannelSpec):
    max_chars = StrictIntegerField(min_value=0, max_value=1_000_000, default=0, help_text="0: no limit.")


class DataSharingSpec(serializers.Serializer):
    clipboard = ClipboardSpec()
    files = ChannelSpec()
    contacts = ChannelSpec()
    calendar = ChannelSpec()
    share_sheet = ChannelSpec()
    notifications = ChannelSpec()
    screen_capture = ChannelSpec()
    widgets = ChannelSpec()


class EncryptionSpec(serializers.Serializer):
    cipher = serializers.ChoiceField(choices=CIPHERS, default="AES-256-GCM")
    rotate_after_days = StrictIntegerField(min_value=1, max_value=365)


class PasscodeSpec(serializers.Serializer):
    required = StrictBooleanField()
    min_length = StrictIntegerField(min_value=4, max_value=16)
    complexity = serializers.ChoiceField(choices=PasscodeComplexity.choices)


class AccessSpec(serializers.Serializer):
    passcode = PasscodeSpec()
    max_offline_days = StrictIntegerField(min_value=1, max_value=365)
    min_os_version = serializers.DictField(child=StrictCharField(max_length=32), required=False, default=dict)
    block_compromised = StrictBooleanField()

    def validate_min_os_version(self, value):
        for platform, version in value.items():
            if platform not in PLATFORMS:
                raise serializers.ValidationError(f"Unknown platform {platform!r}; one of: {', '.join(PLATFORMS)}.")
            if not VERSION.match(version):
                raise serializers.ValidationError(f"{platform}: a version such as 14 or 16.4.")
        return value


class EnforcementSpec(serializers.Serializer):
    block_after_days = StrictIntegerField(min_value=0, max_value=365, allow_null=True, required=False, default=None)
    wipe_after_days = StrictIntegerField(min_value=1, max_value=365, allow_null=True, required=False, default=None)

    def validate(self, attrs):
        block, wipe = attrs.get("block_after_days"), attrs.get("wipe_after_days")
        if block is not None and wipe is not None and wipe <= block:
            raise serializers.ValidationError(
                {"wipe_after_days": [f"Must be more than block_after_days ({block}): lock first, wipe later."]}
            )
        return attrs


class PersonaSpec(serializers.Serializer):
    name = StrictCharField(max_length=100)
    description = StrictCharField(allow_blank=True, required=False, default="", max_length=2000)
    apps = AppRuleSpec(many=True, max_length=MAX_APPS)
    data_sharing = DataSharingSpec()
    encryption = EncryptionSpec()
    access = AccessSpec()
    enforcement = EnforcementSpec()

    def validate_name(self, value):
        if not value.strip():
            raise serializers.ValidationError("A persona needs a name.")
        return value.strip()

    def validate(self, attrs):
        errors: dict[str, list[str]] = {}
        seen: dict[str, int] = {}
        for index, rule in enumerate(attrs["apps"]):
            if rule["id"] in seen:
                errors[f"apps[{index}].id"] = [f"{rule['id']} is already listed (apps[{seen[rule['id']]}])."]
            seen.setdefault(rule["id"], index)
        listed = {rule["id"]: rule["install"] for rule in attrs["apps"]}
        for channel, rules in attrs["data_sharing"].items():
            for direction, apps in rules["exemptions"].items():
                for app in apps:
                    if listed.get(app) in (None, InstallMode.BLOCKED):
                        errors.setdefault(f"data_sharing.{channel}.exemptions.{direction}", []).append(
                            f"{app} is exempt but is not an allowed app of this persona."
                        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def validate_spec(spec: dict) -> dict:
    """The cleaned spec, or serializers.ValidationError with errors by field path."""
    serializer = PersonaSpec(data=spec)
    serializer.is_valid(raise_exception=True)
    return json.loads(json.dumps(serializer.validated_data))


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


def _sharing(w2p: dict[str, str], p2w: dict[str, str], max_chars: int = 0) -> dict:
    sharing = {}
    for channel in Channel.values:
        sharing[channel] = {
            "work_to_personal": w2p.get(channel, w2p.get("*", "deny")),
            "personal_to_work": p2w.get(channel, p2w.get("*", "deny")),
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
