"""The Android compiler: a persona's spec -> one Android Management API `Policy`, and what of the
spec Android does not enforce on a work profile.

One AMAPI policy per persona (the lead's bridge pushes it; a device's values are Google's
business, not ours). The compiler decides, while it compiles each setting, whether the policy
expresses it; what it cannot express is recorded next to the setting's spec path
(`data_sharing.clipboard.personal_to_work`, `apps[2].min_version`), so there is no second list to
keep in step. A setting is reported when the device will not apply it as written, either way:
a restriction Android does not make (the data would cross), or a permission the policy cannot
grant without opening more than the spec says (an exemption Android cannot make for one app).

How the spec maps:

- apps -> `applications[]` (required: FORCE_INSTALLED, available: AVAILABLE, blocked: BLOCKED),
  with `managedConfiguration`, `minimumVersionCode` for a `min_version` that is a version code
  (a plain integer; Android compares version codes, not dotted version names, and takes at most
  20 per policy) and `signingKeyCerts` (hex in the spec, base64 in the API). Google Play checks an
  app's signature itself; the listed certificates are what Android uses for an app Play does not
  know. An app id that is not an Android package name (an iOS bundle id) is left out. Apps not
  listed need no rule: `playStoreMode` WHITELIST (written out, although it is the default) makes
  a work profile hold only the apps its policy lists, as our agent blocks everything unlisted.
- clipboard -> `crossProfileCopyPaste` (work to personal only: Android always lets personal text
  into work apps, and cannot limit its length or exempt one app); files and share sheet -> the one
  `crossProfileDataSharing` (intents), the stricter of the two where they differ; an app exempted
  from a denied direction of either -> `connectedWorkAndPersonalApp` ALLOWED, the only per-app
  cross-profile grant AMAPI has (the app may then talk to its own personal copy, with the user's
  consent, and to no other personal app: reported); contacts -> `showWorkContactsInPersonalProfile`
  and its allowlist of personal apps (by package name: an exempted work app's personal copy);
  widgets -> `workProfileWidgetsDefault`, exemptions as the app's `workProfileWidgets`; screen
  capture of work apps -> `screenCaptureDisabled` (for the whole work profile: no exemption).
  AMAPI has no setting for calendars or notifications across profiles (`keyguardDisabledFeatures`
  governs only the lock screen, not the shade where work and personal notifications show
  together): their denied directions are reported. Directions that do not exist on Android (a
  work profile has no home screen for personal widgets) are left alone.
- passcode -> `passwordPolicies` for the work profile (SCOPE_PROFILE), by complexity band
  (none and low: COMPLEXITY_LOW, the lowest band: any PIN, pattern or password). Android ignores
  `passwordMinimumLength` with a complexity band, so a minimum length above what the band implies
  is reported rather than written.
- enforcement -> one `policyEnforcementRules` entry per setting of the policy a device can fail
  (applications, passwordPolicies, minimumApiLevel): block the work profile only, after N days.
  The wipe after M days is the server's (devices.wipe.enforcement_apply, through the corporate
  wipe service), never Google's `wipeAction`: on a company-owned device that resets the whole
  phone, personal profile included, and one policy serves both ownerships. Nothing is reported:
  both days are enforced, by the device and by the server.
- `access.min_os_version.android` -> `minimumApiLevel` (API_LEVELS); a version not in the table
  is reported.
- encryption: Android encrypts the work profile with its own keys; our container cipher and its
  rotation are reported.

Not reported: `access.max_offline_days` and `access.block_compromised`. The server enforces both
itself for Android devices, from the device's last status report and its security posture.

Default where the spec says nothing: `statusReportingSettings` turns on what the server needs
for those two checks and for the device page (application reports, software info, device
settings; the security posture comes with every report) and nothing more: no network info (it
carries identifiers such as the IMEI and Wi-Fi MAC) and no hardware status.

The compiled policy is checked against the discovery document shipped in google-api-python-client
(strictly: no read-only, deprecated or unknown field or enum value); a fault raises PolicyInvalid,
a bug that is never sent to Google.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from mdm.lib import discovery
from personas.choices import Channel, Decision, Direction, InstallMode, PasscodeComplexity
from personas.compiler import PolicyInvalid
from personas.spec import ANDROID_PACKAGE

# Android versions as people name them -> API levels (what `minimumApiLevel` takes).
API_LEVELS = {
    "8.0": 26,
    "8.1": 27,
    "9": 28,
    "10": 29,
    "11": 30,
    "12": 31,
    "13": 33,
    "14": 34,
    "15": 35,
    "16": 36,
}
# The first API level that applies `exemptionsToShowWorkContactsInPersonalProfile` (Android 14).
CONTACT_EXEMPTIONS_API_LEVEL = 34
# "At most 20 apps may specify a minimum version code per policy" (ApplicationPolicy).
MAX_MINIMUM_VERSION_CODES = 20

INSTALL_TYPES = {
    InstallMode.REQUIRED: "FORCE_INSTALLED",
    InstallMode.AVAILABLE: "AVAILABLE",
    InstallMode.BLOCKED: "BLOCKED",
}
PASSWORD_QUALITIES = {
    PasscodeComplexity.NONE: "COMPLEXITY_LOW",
    PasscodeComplexity.LOW: "COMPLEXITY_LOW",
    PasscodeComplexity.MEDIUM: "COMPLEXITY_MEDIUM",
    PasscodeComplexity.HIGH: "COMPLEXITY_HIGH",
}
# The shortest passcode each band accepts (PINs and patterns have at least 4; COMPLEXITY_HIGH asks
# for 6 letters or 8 digits).
BAND_MIN_LENGTH = {"COMPLEXITY_LOW": 4, "COMPLEXITY_MEDIUM": 4, "COMPLEXITY_HIGH": 6}
# The top-level settings of our policies that a device can fail, each given the spec's enforcement.
ENFORCED_SETTINGS = ("applications", "passwordPolicies", "minimumApiLevel")
STATUS_REPORTING = {
    "applicationReportsEnabled": True,
    "softwareInfoEnabled": True,
    "deviceSettingsEnabled": True,
    "networkInfoEnabled": False,
    "hardwareStatusEnabled": False,
}

W2P, P2W = Direction.WORK_TO_PERSONAL.value, Direction.PERSONAL_TO_WORK.value


@dataclass(frozen=True)
class Unenforced:
    """A setting of the spec that Android does not apply as written, by its spec path."""

    path: str
    message: str


@dataclass(frozen=True)
class AndroidPolicy:
    """What a persona compiles to: the AMAPI Policy JSON body, and what it leaves unenforced."""

    policy: dict[str, Any]
    unenforced: list[Unenforced]


def api_level(version: str) -> int | None:
    """The API level of an Android version ("13", "13.0", "8.1"), or None when it has none in the
    table (trailing ".0" parts name the same release)."""
    parts = version.split(".")
    while len(parts) > 1 and parts[-1].strip("0") == "":
        parts.pop()
    name = ".".join(parts)
    return API_LEVELS.get("8.0" if name == "8" else name)


class _Compilation:
    """One compilation: the policy built so far and the settings it could not express."""

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.policy: dict[str, Any] = {}
        self.unenforced: list[Unenforced] = []
        # Fields the sharing rules add to an app's ApplicationPolicy, by package name.
        self.app_fields: dict[str, dict[str, str]] = {}
        self.api_level = api_level(spec["access"]["min_os_version"].get("android", "") or "")

    def note(self, path: str, message: str) -> None:
        self.unenforced.append(Unenforced(path=path, message=message))

    def rule(self, channel: str) -> dict[str, Any]:
        rule: dict[str, Any] = self.spec["data_sharing"][channel]
        return rule

    def denied(self, channel: str, direction: str) -> bool:
        return bool(self.rule(channel)[direction] == Decision.DENY)

    def exempt(self, channel: str, direction: str) -> list[str]:
        """The Android apps exempted from a denied direction (an iOS bundle id is left out with its
        app, and reported there)."""
        if not self.denied(channel, direction):
            return []
        apps: list[str] = self.rule(channel)["exemptions"].get(direction, [])
        return [app for app in apps if ANDROID_PACKAGE.match(app)]

    def grant(self, package: str, field: str, value: str) -> None:
        self.app_fields.setdefault(package, {})[field] = value


def compile_android_policy(spec: dict[str, Any]) -> AndroidPolicy:
    """The AMAPI Policy a (validated) persona spec compiles to, and the settings Android does not
    enforce; PolicyInvalid when the discovery document refuses the policy (a bug)."""
    work = _Compilation(spec)
    cross: dict[str, Any] = {}
    _clipboard(work, cross)
    _data_sharing(work, cross)
    _contacts(work, cross)
    _widgets(work, cross)
    _unmanaged_channels(work)
    work.policy["crossProfilePolicies"] = cross
    _screen_capture(work)
    _applications(work)
    _passcode(work)
    _min_os(work)
    _enforcement(work)
    _encryption(work)
    work.policy["statusReportingSettings"] = dict(STATUS_REPORTING)
    faults = discovery.validate(discovery.document(), "Policy", work.policy, strict=True)
    if faults:
        raise PolicyInvalid(f"{len(faults)} fault(s) against the AMAPI Policy schema; first: {faults[0]}")
    return AndroidPolicy(policy=work.policy, unenforced=work.unenforced)


def unenforced_paths(spec: dict[str, Any]) -> dict[str, str]:
    """The settings Android does not enforce, path -> message (several messages of one path are
    joined), for the pages that show them next to each setting."""
    paths: dict[str, str] = {}
    for item in compile_android_policy(spec).unenforced:
        paths[item.path] = f"{paths[item.path]} {item.message}" if item.path in paths else item.message
    return paths


def _clipboard(work: _Compilation, cross: dict[str, Any]) -> None:
    channel = Channel.CLIPBOARD.value
    if work.denied(channel, W2P):
        cross["crossProfileCopyPaste"] = "COPY_FROM_WORK_TO_PERSONAL_DISALLOWED"
        if work.exempt(channel, W2P):
            work.note(
                f"data_sharing.{channel}.exemptions.{W2P}",
                _("Android cannot exempt single apps: no work app's text can be pasted into personal apps."),
            )
    else:
        cross["crossProfileCopyPaste"] = "CROSS_PROFILE_COPY_PASTE_ALLOWED"
    if work.denied(channel, P2W):
        work.note(f"data_sharing.{channel}.{P2W}", _("Android always lets personal text be pasted into work apps."))
    if work.rule(channel).get("max_chars"):
        work.note(
            f"data_sharing.{channel}.max_chars",
            _("Android cannot limit how much text is pasted between work and personal apps."),
        )


DATA_SHARING = {
    (False, False): "CROSS_PROFILE_DATA_SHARING_ALLOWED",
    (True, False): "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED",
    # Android has no "personal to work only" refusal: refusing personal data refuses both ways.
    (False, True): "CROSS_PROFILE_DATA_SHARING_DISALLOWED",
    (True, True): "CROSS_PROFILE_DATA_SHARING_DISALLOWED",
}


def _data_sharing(work: _Compilation, cross: dict[str, Any]) -> None:
    """Files and the share sheet both travel as intents, which one AMAPI setting governs."""
    channels = (Channel.FILES.value, Channel.SHARE_SHEET.value)
    w2p = any(work.denied(channel, W2P) for channel in channels)
    p2w = any(work.denied(channel, P2W) for channel in channels)
    cross["crossProfileDataSharing"] = DATA_SHARING[(w2p, p2w)]
    applied = {W2P: w2p or p2w, P2W: p2w}
    for channel in channels:
        for direction in (W2P, P2W):
            if applied[direction] and not work.denied(channel, direction):
                if direction == W2P and not w2p:
                    why = _(
                        "Android cannot keep personal data out of work apps and still let work data out: "
                        "both are refused."
                    )
                else:
                    why = _(
                        "Android has one setting for sharing files and sharing through the share sheet: "
                        "the stricter rule applies to both."
                    )
                work.note(f"data_sharing.{channel}.{direction}", why)
            if apps := work.exempt(channel, direction):
                for app in apps:
                    work.grant(app, "connectedWorkAndPersonalApp", "CONNECTED_WORK_AND_PERSONAL_APP_ALLOWED")
                work.note(
                    f"data_sharing.{channel}.exemptions.{direction}",
                    _(
                        "On Android an exempt app may share only with its own copy on the other side "
                        "(connected work and personal apps), once the user agrees; not with other apps."
                    ),
                )


def _contacts(work: _Compilation, cross: dict[str, Any]) -> None:
    channel = Channel.CONTACTS.value
    if not work.denied(channel, W2P):
        cross["showWorkContactsInPersonalProfile"] = "SHOW_WORK_CONTACTS_IN_PERSONAL_PROFILE_ALLOWED"
    else:
        cross["showWorkContactsInPersonalProfile"] = "SHOW_WORK_CONTACTS_IN_PERSONAL_PROFILE_DISALLOWED"
        if apps := work.exempt(channel, W2P):
            cross["exemptionsToShowWorkContactsInPersonalProfile"] = {"packageNames": apps}
            if work.api_level is None or work.api_level < CONTACT_EXEMPTIONS_API_LEVEL:
                work.note(
                    f"data_sharing.{channel}.exemptions.{W2P}",
                    _(
                        "Android applies these exemptions from Android 14 on; on older versions no personal app "
                        "sees work contacts."
                    ),
                )
    if not work.denied(channel, P2W):
        work.note(f"data_sharing.{channel}.{P2W}", _("Android never lets work apps read personal contacts."))
    elif work.exempt(channel, P2W):
        work.note(
            f"data_sharing.{channel}.exemptions.{P2W}",
            _("Android never lets work apps read personal contacts, exempt apps included."),
        )


def _widgets(work: _Compilation, cross: dict[str, Any]) -> None:
    channel = Channel.WIDGETS.value
    if work.denied(channel, W2P):
        cross["workProfileWidgetsDefault"] = "WORK_PROFILE_WIDGETS_DEFAULT_DISALLOWED"
        for app in work.exempt(channel, W2P):
            work.grant(app, "workProfileWidgets", "WORK_PROFILE_WIDGETS_ALLOWED")
    else:
        cross["workProfileWidgetsDefault"] = "WORK_PROFILE_WIDGETS_DEFAULT_ALLOWED"


def _unmanaged_channels(work: _Compilation) -> None:
    messages = {
        Channel.CALENDAR.value: _(
            "The Android Management API has no setting for calendars across work and personal: it depends on "
            "the device and on the user's settings."
        ),
        Channel.NOTIFICATIONS.value: _(
            "Android shows work and personal notifications together; the Android Management API cannot keep them apart."
        ),
    }
    for channel, message in messages.items():
        for direction in (W2P, P2W):
            if work.denied(channel, direction):
                work.note(f"data_sharing.{channel}.{direction}", message)


def _screen_capture(work: _Compilation) -> None:
    channel = Channel.SCREEN_CAPTURE.value
    work.policy["screenCaptureDisabled"] = work.denied(channel, W2P)
    if work.exempt(channel, W2P):
        work.note(
            f"data_sharing.{channel}.exemptions.{W2P}",
            _("Android blocks screenshots for the whole work profile: exempt apps cannot take them either."),
        )
    if work.denied(channel, P2W):
        work.note(
            f"data_sharing.{channel}.{P2W}",
            _("A work profile has no say over screenshots of personal apps."),
        )


def _applications(work: _Compilation) -> None:
    applications = []
    version_codes = 0
    for index, rule in enumerate(work.spec["apps"]):
        if not ANDROID_PACKAGE.match(rule["id"]):
            work.note(
                f"apps[{index}].id",
                _("%(app)s is not an Android package name (an iOS bundle id?): it is left out on Android.")
                % {"app": rule["id"]},
            )
            continue
        app: dict[str, Any] = {"packageName": rule["id"], "installType": INSTALL_TYPES[InstallMode(rule["install"])]}
        if rule["managed_config"]:
            app["managedConfiguration"] = rule["managed_config"]
        version = rule["min_version"]
        if version and not version.isdigit():
            work.note(
                f"apps[{index}].min_version",
                _("Android compares version codes (a whole number such as 4210), not version names such as %(v)s.")
                % {"v": version},
            )
        elif version and version_codes >= MAX_MINIMUM_VERSION_CODES:
            work.note(
                f"apps[{index}].min_version",
                _("Android takes a minimum version for at most %(n)s apps of a policy.")
                % {"n": MAX_MINIMUM_VERSION_CODES},
            )
        elif version:
            app["minimumVersionCode"] = int(version)
            version_codes += 1
        if rule["signing_cert_sha256"]:
            app["signingKeyCerts"] = [
                {"signingKeyCertFingerprintSha256": base64.b64encode(bytes.fromhex(cert)).decode()}
                for cert in rule["signing_cert_sha256"]
            ]
        app.update(work.app_fields.get(rule["id"], {}))
        applications.append(app)
    work.policy["playStoreMode"] = "WHITELIST"
    if applications:
        work.policy["applications"] = applications


def _passcode(work: _Compilation) -> None:
    passcode = work.spec["access"]["passcode"]
    if not passcode["required"]:
        return
    quality = PASSWORD_QUALITIES[PasscodeComplexity(passcode["complexity"])]
    work.policy["passwordPolicies"] = [{"passwordScope": "SCOPE_PROFILE", "passwordQuality": quality}]
    if passcode["min_length"] > BAND_MIN_LENGTH[quality]:
        work.note(
            "access.passcode.min_length",
            _(
                "Android asks for a passcode by complexity, not by length: at this complexity it accepts "
                "%(band)s characters, where this persona asks for %(length)s."
            )
            % {"band": BAND_MIN_LENGTH[quality], "length": passcode["min_length"]},
        )


def _min_os(work: _Compilation) -> None:
    version = work.spec["access"]["min_os_version"].get("android")
    if not version:
        return
    if work.api_level is None:
        work.note(
            "access.min_os_version.android",
            _("Android %(v)s is not a release Android can require (one of: %(known)s).")
            % {"v": version, "known": ", ".join(API_LEVELS)},
        )
        return
    work.policy["minimumApiLevel"] = work.api_level


def _enforcement(work: _Compilation) -> None:
    block = work.spec["enforcement"]["block_after_days"]
    if block is None:
        return
    rules = [
        {"settingName": setting, "blockAction": {"blockAfterDays": block, "blockScope": "BLOCK_SCOPE_WORK_PROFILE"}}
        for setting in ENFORCED_SETTINGS
        if setting in work.policy
    ]
    # With nothing on the device that can fail, the server's own checks are all there is to enforce.
    if rules:
        work.policy["policyEnforcementRules"] = rules


def _encryption(work: _Compilation) -> None:
    message = _("Android encrypts the work profile with its own keys, which it manages itself.")
    work.note("encryption.cipher", message)
    work.note("encryption.rotate_after_days", message)
