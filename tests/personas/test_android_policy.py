"""The Android compiler: persona spec -> AMAPI Policy, and what Android does not enforce."""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm.lib import discovery
from personas.android import API_LEVELS, MAX_MINIMUM_VERSION_CODES, compile_android_policy, unenforced_paths
from personas.choices import Channel, Direction, InstallMode, PasscodeComplexity
from personas.compiler import PolicyInvalid
from personas.spec import ANDROID_PACKAGE, PRESETS, merge, preset_spec, validate_spec

CERT = "ab" * 32
ANDROID_APPS = ["com.example.mail", "com.example.chat", "org.example.docs", "com.example.maps_2"]
IOS_APPS = ["com.example-ios.mail", "com.example.chat-ios"]


def spec(**changes: Any) -> dict[str, Any]:
    """A validated byod-basic spec with `changes` laid over it."""
    return validate_spec(merge(preset_spec("byod-basic", name="Test"), changes))


def sharing(
    channel: str, w2p: str = "deny", p2w: str = "deny", *, exempt_w2p: list[str] = (), exempt_p2w: list[str] = ()
) -> dict[str, Any]:
    rule: dict[str, Any] = {"work_to_personal": w2p, "personal_to_work": p2w}
    rule["exemptions"] = {"work_to_personal": list(exempt_w2p), "personal_to_work": list(exempt_p2w)}
    return {"data_sharing": {channel: rule}}


def paths(spec_: dict[str, Any]) -> set[str]:
    return {item.path for item in compile_android_policy(spec_).unenforced}


def resolve(spec_: dict[str, Any], path: str) -> Any:
    """The value at a spec path (`apps[2].min_version`), or KeyError/IndexError if there is none."""
    value: Any = spec_
    for name, index in re.findall(r"([a-z_]+)(?:\[(\d+)\])?", path):
        value = value[name]
        if index:
            value = value[int(index)]
    return value


# --- Every persona compiles to a policy Google accepts ---------------------------------------------


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_compiles_to_a_policy_the_discovery_document_accepts(preset):
    compiled = compile_android_policy(validate_spec(preset_spec(preset, name=preset)))
    assert discovery.validate(discovery.document(), "Policy", compiled.policy, strict=True) == []
    assert compiled.unenforced  # the container cipher at least


def _app_rule(app_id: str, install: str, min_version: str | None, certs: int, config: bool) -> dict[str, Any]:
    blocked = install == InstallMode.BLOCKED
    return {
        "id": app_id,
        "install": install,
        "min_version": None if blocked else min_version,
        "signing_cert_sha256": [f"{n:02x}" * 32 for n in range(certs)],
        "managed_config": {"server": "mail.example.com", "retries": 3} if config and not blocked else {},
    }


@st.composite
def personas(draw: st.DrawFn) -> dict[str, Any]:
    """Valid persona specs: every field drawn within what validate_spec accepts."""
    ids = draw(st.lists(st.sampled_from(ANDROID_APPS + IOS_APPS), unique=True, max_size=6))
    apps = [
        _app_rule(
            app_id,
            draw(st.sampled_from(InstallMode.values)),
            draw(st.sampled_from([None, "42", "999999", "3.2.1"])),
            draw(st.integers(0, 2)),
            draw(st.booleans()),
        )
        for app_id in ids
    ]
    allowed = [app["id"] for app in apps if app["install"] != InstallMode.BLOCKED]
    data_sharing: dict[str, Any] = {}
    for channel in Channel.values:
        rule: dict[str, Any] = {"exemptions": {}}
        for direction in Direction.values:
            rule[direction] = draw(st.sampled_from(["allow", "deny"]))
            exempt = (
                draw(st.lists(st.sampled_from(allowed), unique=True)) if allowed and rule[direction] == "deny" else []
            )
            rule["exemptions"][direction] = exempt
        data_sharing[channel] = rule
    data_sharing["clipboard"]["max_chars"] = draw(st.sampled_from([0, 500]))
    block = draw(st.one_of(st.none(), st.integers(0, 30)))
    wipe = draw(st.one_of(st.none(), st.integers((block or 0) + 1, 365)))
    android = draw(st.sampled_from(["", "8", "8.1", "12", "13.0", "16", "7", "17", "13.1"]))
    return {
        "name": "Generated",
        "apps": apps,
        "data_sharing": data_sharing,
        "encryption": {"cipher": "AES-256-GCM", "rotate_after_days": draw(st.integers(1, 365))},
        "access": {
            "passcode": {
                "required": draw(st.booleans()),
                "min_length": draw(st.integers(4, 16)),
                "complexity": draw(st.sampled_from(PasscodeComplexity.values)),
            },
            "max_offline_days": draw(st.integers(1, 365)),
            "min_os_version": {"android": android, "ios": "16"} if android else {},
            "block_compromised": draw(st.booleans()),
        },
        "enforcement": {"block_after_days": block, "wipe_after_days": wipe},
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(personas())
def test_any_valid_persona_compiles_to_a_policy_the_discovery_document_accepts(raw):
    cleaned = validate_spec(raw)  # the strategy makes valid specs only: a refusal here fails the test
    compiled = compile_android_policy(cleaned)
    assert discovery.validate(discovery.document(), "Policy", compiled.policy, strict=True) == []
    packages = [app["packageName"] for app in compiled.policy.get("applications", [])]
    assert packages == [app["id"] for app in cleaned["apps"] if ANDROID_PACKAGE.match(app["id"])]
    for item in compiled.unenforced:
        resolve(cleaned, item.path)  # every report names a setting the spec has
        assert item.message
    reported = {item.path for item in compiled.unenforced}
    assert {"encryption.cipher", "encryption.rotate_after_days"} <= reported
    assert not reported & {"access.max_offline_days", "access.block_compromised"}


# --- Apps -----------------------------------------------------------------------------------------


def test_apps_map_to_application_policies_field_by_field():
    compiled = compile_android_policy(
        spec(
            apps=[
                {
                    "id": "com.example.mail",
                    "install": "required",
                    "min_version": "4210",
                    "signing_cert_sha256": [CERT],
                    "managed_config": {"server": "mail.example.com"},
                },
                {"id": "com.example.chat", "install": "available"},
                {"id": "com.example.games", "install": "blocked"},
            ]
        )
    )
    assert compiled.policy["applications"] == [
        {
            "packageName": "com.example.mail",
            "installType": "FORCE_INSTALLED",
            "managedConfiguration": {"server": "mail.example.com"},
            "minimumVersionCode": 4210,
            "signingKeyCerts": [{"signingKeyCertFingerprintSha256": base64.b64encode(bytes.fromhex(CERT)).decode()}],
        },
        {"packageName": "com.example.chat", "installType": "AVAILABLE"},
        {"packageName": "com.example.games", "installType": "BLOCKED"},
    ]
    assert compiled.policy["playStoreMode"] == "WHITELIST"
    assert not {p for p in paths(spec(apps=[{"id": "com.example.chat", "min_version": "12"}])) if p.startswith("apps")}


def test_a_version_name_cannot_be_a_minimum_on_android():
    compiled = compile_android_policy(spec(apps=[{"id": "com.example.mail", "min_version": "3.2.1"}]))
    assert "minimumVersionCode" not in compiled.policy["applications"][0]
    assert [u.path for u in compiled.unenforced if u.path.startswith("apps")] == ["apps[0].min_version"]
    assert (
        "version codes"
        in unenforced_paths(spec(apps=[{"id": "com.example.mail", "min_version": "3.2"}]))["apps[0].min_version"]
    )


def test_at_most_twenty_apps_get_a_minimum_version_code():
    apps = [{"id": f"com.example.app{n}", "min_version": str(n + 1)} for n in range(MAX_MINIMUM_VERSION_CODES + 2)]
    compiled = compile_android_policy(spec(apps=apps))
    with_codes = [app for app in compiled.policy["applications"] if "minimumVersionCode" in app]
    assert len(with_codes) == MAX_MINIMUM_VERSION_CODES
    assert {u.path for u in compiled.unenforced if u.path.startswith("apps")} == {
        "apps[20].min_version",
        "apps[21].min_version",
    }


def test_an_ios_bundle_id_is_left_out_and_reported():
    compiled = compile_android_policy(
        spec(apps=[{"id": "com.example-ios.mail", "install": "required"}, {"id": "com.example.chat"}])
    )
    assert [app["packageName"] for app in compiled.policy["applications"]] == ["com.example.chat"]
    messages = {u.path: u.message for u in compiled.unenforced}
    assert "com.example-ios.mail" in messages["apps[0].id"]


def test_a_persona_without_apps_lists_none():
    assert "applications" not in compile_android_policy(spec(apps=[])).policy


# --- Sharing --------------------------------------------------------------------------------------


def test_clipboard_work_to_personal_is_enforced_and_the_rest_reported():
    denied = compile_android_policy(spec(**sharing("clipboard", "deny", "deny")))
    assert denied.policy["crossProfilePolicies"]["crossProfileCopyPaste"] == "COPY_FROM_WORK_TO_PERSONAL_DISALLOWED"
    assert unenforced_paths(spec(**sharing("clipboard", "deny", "deny")))[
        "data_sharing.clipboard.personal_to_work"
    ] == ("Android always lets personal text be pasted into work apps.")
    allowed = spec(**merge(sharing("clipboard", "allow", "allow"), {"data_sharing": {"clipboard": {"max_chars": 0}}}))
    assert compile_android_policy(allowed).policy["crossProfilePolicies"]["crossProfileCopyPaste"] == (
        "CROSS_PROFILE_COPY_PASTE_ALLOWED"
    )
    assert not {p for p in paths(allowed) if p.startswith("data_sharing.clipboard")}
    limited = spec(data_sharing={"clipboard": {"max_chars": 500}})
    assert "data_sharing.clipboard.max_chars" in paths(limited)


def test_clipboard_exemptions_cannot_be_made_per_app():
    exempted = spec(
        apps=[{"id": "com.example.mail"}], **sharing("clipboard", "deny", "allow", exempt_w2p=["com.example.mail"])
    )
    assert "data_sharing.clipboard.exemptions.work_to_personal" in paths(exempted)


@pytest.mark.parametrize(
    ("files", "share_sheet", "expected", "reported"),
    [
        (("allow", "allow"), ("allow", "allow"), "CROSS_PROFILE_DATA_SHARING_ALLOWED", set()),
        (("deny", "allow"), ("deny", "allow"), "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED", set()),
        (("deny", "deny"), ("deny", "deny"), "CROSS_PROFILE_DATA_SHARING_DISALLOWED", set()),
        # Refusing personal data refuses both ways on Android.
        (
            ("allow", "deny"),
            ("allow", "deny"),
            "CROSS_PROFILE_DATA_SHARING_DISALLOWED",
            {"data_sharing.files.work_to_personal", "data_sharing.share_sheet.work_to_personal"},
        ),
        # One setting for both channels: the stricter rule wins.
        (
            ("deny", "allow"),
            ("deny", "deny"),
            "CROSS_PROFILE_DATA_SHARING_DISALLOWED",
            {"data_sharing.files.personal_to_work"},
        ),
        (
            ("allow", "allow"),
            ("deny", "allow"),
            "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED",
            {"data_sharing.files.work_to_personal"},
        ),
    ],
)
def test_files_and_the_share_sheet_share_one_android_setting(files, share_sheet, expected, reported):
    changes = merge(sharing("files", *files), sharing("share_sheet", *share_sheet))
    compiled = compile_android_policy(spec(**changes))
    assert compiled.policy["crossProfilePolicies"]["crossProfileDataSharing"] == expected
    assert {u.path for u in compiled.unenforced if re.match(r"data_sharing\.(files|share_sheet)", u.path)} == reported


def test_an_app_exempt_from_a_denied_direction_becomes_a_connected_app():
    changes = merge(
        {"apps": [{"id": "com.example.mail"}, {"id": "com.example.chat"}]},
        sharing("files", "deny", "allow", exempt_w2p=["com.example.mail"]),
    )
    compiled = compile_android_policy(spec(**changes))
    mail, chat = compiled.policy["applications"]
    assert mail["connectedWorkAndPersonalApp"] == "CONNECTED_WORK_AND_PERSONAL_APP_ALLOWED"
    assert "connectedWorkAndPersonalApp" not in chat
    assert "its own copy" in unenforced_paths(spec(**changes))["data_sharing.files.exemptions.work_to_personal"]


def test_work_contacts_and_their_exemptions():
    allowed = compile_android_policy(spec(**sharing("contacts", "allow", "deny")))
    assert allowed.policy["crossProfilePolicies"]["showWorkContactsInPersonalProfile"] == (
        "SHOW_WORK_CONTACTS_IN_PERSONAL_PROFILE_ALLOWED"
    )
    assert not {u.path for u in allowed.unenforced if u.path.startswith("data_sharing.contacts")}
    changes = merge({"apps": [{"id": "com.example.dialer"}]}, sharing("contacts", exempt_w2p=["com.example.dialer"]))
    denied = compile_android_policy(spec(**changes, access={"min_os_version": {"android": "14"}}))
    cross = denied.policy["crossProfilePolicies"]
    assert cross["showWorkContactsInPersonalProfile"] == "SHOW_WORK_CONTACTS_IN_PERSONAL_PROFILE_DISALLOWED"
    assert cross["exemptionsToShowWorkContactsInPersonalProfile"] == {"packageNames": ["com.example.dialer"]}
    assert not {u.path for u in denied.unenforced if u.path.startswith("data_sharing.contacts")}
    # Below Android 14 (or with no minimum), the exemptions do not apply.
    assert "data_sharing.contacts.exemptions.work_to_personal" in paths(spec(**changes))


def test_work_apps_never_read_personal_contacts_on_android():
    assert "data_sharing.contacts.personal_to_work" in paths(spec(**sharing("contacts", "deny", "allow")))
    assert "data_sharing.contacts.personal_to_work" not in paths(spec(**sharing("contacts", "deny", "deny")))


def test_widgets_and_their_exemptions():
    changes = merge({"apps": [{"id": "com.example.mail"}]}, sharing("widgets", exempt_w2p=["com.example.mail"]))
    compiled = compile_android_policy(spec(**changes))
    assert (
        compiled.policy["crossProfilePolicies"]["workProfileWidgetsDefault"]
        == "WORK_PROFILE_WIDGETS_DEFAULT_DISALLOWED"
    )
    assert compiled.policy["applications"][0]["workProfileWidgets"] == "WORK_PROFILE_WIDGETS_ALLOWED"
    assert not {u.path for u in compiled.unenforced if u.path.startswith("data_sharing.widgets")}
    allowed = compile_android_policy(spec(**sharing("widgets", "allow", "allow")))
    assert allowed.policy["crossProfilePolicies"]["workProfileWidgetsDefault"] == "WORK_PROFILE_WIDGETS_DEFAULT_ALLOWED"


def test_screen_capture_of_work_apps():
    assert compile_android_policy(spec(**sharing("screen_capture", "deny", "allow"))).policy["screenCaptureDisabled"]
    assert not compile_android_policy(spec(**sharing("screen_capture", "allow", "allow"))).policy[
        "screenCaptureDisabled"
    ]
    assert "data_sharing.screen_capture.personal_to_work" in paths(spec(**sharing("screen_capture", "allow", "deny")))
    exempted = merge({"apps": [{"id": "com.example.mail"}]}, sharing("screen_capture", exempt_w2p=["com.example.mail"]))
    assert "data_sharing.screen_capture.exemptions.work_to_personal" in paths(spec(**exempted))


@pytest.mark.parametrize("channel", ["calendar", "notifications"])
def test_channels_amapi_has_no_setting_for_are_reported_where_denied(channel):
    assert {f"data_sharing.{channel}.work_to_personal", f"data_sharing.{channel}.personal_to_work"} <= paths(
        spec(**sharing(channel, "deny", "deny"))
    )
    assert not {p for p in paths(spec(**sharing(channel, "allow", "allow"))) if p.startswith(f"data_sharing.{channel}")}


# --- Access, enforcement, encryption --------------------------------------------------------------


@pytest.mark.parametrize(
    ("complexity", "min_length", "quality", "reported"),
    [
        ("none", 4, "COMPLEXITY_LOW", False),
        ("low", 4, "COMPLEXITY_LOW", False),
        ("low", 6, "COMPLEXITY_LOW", True),
        ("medium", 4, "COMPLEXITY_MEDIUM", False),
        ("medium", 8, "COMPLEXITY_MEDIUM", True),
        ("high", 6, "COMPLEXITY_HIGH", False),
        ("high", 7, "COMPLEXITY_HIGH", True),
    ],
)
def test_the_passcode_is_the_work_profiles_by_complexity_band(complexity, min_length, quality, reported):
    changes = {"access": {"passcode": {"required": True, "complexity": complexity, "min_length": min_length}}}
    compiled = compile_android_policy(spec(**changes))
    assert compiled.policy["passwordPolicies"] == [{"passwordScope": "SCOPE_PROFILE", "passwordQuality": quality}]
    assert ("access.passcode.min_length" in {u.path for u in compiled.unenforced}) is reported


def test_no_passcode_required_means_no_password_policy():
    compiled = compile_android_policy(spec(access={"passcode": {"required": False, "min_length": 8}}))
    assert "passwordPolicies" not in compiled.policy
    assert not {u.path for u in compiled.unenforced if u.path.startswith("access")}


@pytest.mark.parametrize(
    ("version", "level"), [("8", 26), ("8.0", 26), ("8.1", 27), ("12", 31), ("13.0.0", 33), ("16", 36)]
)
def test_the_minimum_android_version_becomes_an_api_level(version, level):
    compiled = compile_android_policy(spec(access={"min_os_version": {"android": version}}))
    assert compiled.policy["minimumApiLevel"] == level
    assert "access.min_os_version.android" not in {u.path for u in compiled.unenforced}


@pytest.mark.parametrize("version", ["7", "13.1", "17"])
def test_an_android_version_not_in_the_table_is_reported(version):
    compiled = compile_android_policy(spec(access={"min_os_version": {"android": version}}))
    assert "minimumApiLevel" not in compiled.policy
    assert "access.min_os_version.android" in {u.path for u in compiled.unenforced}
    assert version not in API_LEVELS


def test_other_platforms_minimum_versions_are_not_androids_business():
    compiled = compile_android_policy(spec(access={"min_os_version": {"ios": "17"}}))
    assert "minimumApiLevel" not in compiled.policy
    assert not {u.path for u in compiled.unenforced if u.path.startswith("access")}


def test_enforcement_blocks_the_work_profile_for_each_setting_a_device_can_fail_and_never_wipes_at_google():
    compiled = compile_android_policy(
        spec(
            apps=[{"id": "com.example.mail"}],
            access={"min_os_version": {"android": "14"}},
            enforcement={"block_after_days": 2, "wipe_after_days": 9},
        )
    )
    # Google's wipeAction would reset a company-owned phone, personal profile included: the
    # server wipes after M days itself, through the corporate wipe (devices.wipe).
    rule = {"blockAction": {"blockAfterDays": 2, "blockScope": "BLOCK_SCOPE_WORK_PROFILE"}}
    assert compiled.policy["policyEnforcementRules"] == [
        {"settingName": name, **rule} for name in ("applications", "passwordPolicies", "minimumApiLevel")
    ]
    assert not {u.path for u in compiled.unenforced if u.path.startswith("enforcement")}


def test_a_wipe_day_alone_writes_no_rule_and_is_not_reported():
    compiled = compile_android_policy(spec(enforcement={"block_after_days": None, "wipe_after_days": 9}))
    assert "policyEnforcementRules" not in compiled.policy
    assert not {u.path for u in compiled.unenforced if u.path.startswith("enforcement")}
    blocked = compile_android_policy(spec(enforcement={"block_after_days": 3, "wipe_after_days": None}))
    assert blocked.policy["policyEnforcementRules"][0]["blockAction"]["blockAfterDays"] == 3


def test_no_policy_ever_carries_a_wipe_action():
    for preset in PRESETS:
        policy = compile_android_policy(validate_spec(preset_spec(preset, name="p"))).policy
        assert all("wipeAction" not in rule for rule in policy.get("policyEnforcementRules", []))


def test_the_container_key_is_reported_and_the_servers_own_checks_are_not():
    reported = paths(spec())
    assert {"encryption.cipher", "encryption.rotate_after_days"} <= reported
    assert not reported & {"access.max_offline_days", "access.block_compromised"}


def test_status_reports_carry_what_the_server_checks_and_no_network_or_hardware_info():
    reporting = compile_android_policy(spec()).policy["statusReportingSettings"]
    assert reporting["applicationReportsEnabled"] and reporting["softwareInfoEnabled"]
    assert reporting["deviceSettingsEnabled"]
    assert reporting["networkInfoEnabled"] is False and reporting["hardwareStatusEnabled"] is False


def test_unenforced_paths_joins_the_messages_of_one_path():
    changes = merge(
        {"apps": [{"id": "com.example.mail"}]},
        merge(
            sharing("files", "deny", "allow", exempt_w2p=["com.example.mail"]),
            sharing("share_sheet", "deny", "allow", exempt_w2p=["com.example.mail"]),
        ),
    )
    compiled = compile_android_policy(spec(**changes))
    by_path = unenforced_paths(spec(**changes))
    assert set(by_path) == {u.path for u in compiled.unenforced}
    files = [u.message for u in compiled.unenforced if u.path == "data_sharing.files.exemptions.work_to_personal"]
    assert by_path["data_sharing.files.exemptions.work_to_personal"] == " ".join(files)


# --- The compiler's own check ---------------------------------------------------------------------


def test_a_policy_the_discovery_document_refuses_raises_policy_invalid(monkeypatch):
    patched = copy.deepcopy(discovery.document())
    # As if Google had deprecated the Play Store mode the compiler writes.
    mode = patched["schemas"]["Policy"]["properties"]["playStoreMode"]
    mode["enumDeprecated"] = [value == "WHITELIST" for value in mode["enum"]]
    monkeypatch.setattr(discovery, "document", lambda *args: patched)
    with pytest.raises(PolicyInvalid, match="playStoreMode"):
        compile_android_policy(spec())


def test_a_field_the_discovery_document_does_not_have_raises_policy_invalid(monkeypatch):
    patched = copy.deepcopy(discovery.document())
    del patched["schemas"]["CrossProfilePolicies"]["properties"]["workProfileWidgetsDefault"]
    monkeypatch.setattr(discovery, "document", lambda *args: patched)
    with pytest.raises(PolicyInvalid, match="workProfileWidgetsDefault: unknown field"):
        compile_android_policy(spec())
