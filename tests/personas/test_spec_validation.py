"""The persona spec: validation naming the field at fault, the presets, merge and diff, and the
persona services that validate a spec before writing it (revision, audit event, nothing changed
on refusal)."""

from __future__ import annotations

import copy

import pytest

from mdm.errors import ServiceError
from mdm.models import AuditEvent
from personas.choices import Channel
from personas.models import Persona
from personas.services import persona_create, persona_update, spec_of
from personas.spec import DEFAULT_SHARING, MAX_MANAGED_CONFIG_BYTES, PRESETS, diff, merge, preset_spec, validate_spec

HASH = "ab" * 32
OTHER_HASH = "cd" * 32


def base_spec(**changes) -> dict:
    """The byod-basic preset named "Field staff", with `changes` laid over it."""
    return merge(preset_spec("byod-basic", name="Field staff"), changes)


def app(app_id: str = "com.acme.mail", **fields) -> dict:
    return {"id": app_id, **fields}


def at_path(path: str, value) -> dict:
    """{"a": {"b": value}} for "a.b": a change for merge()."""
    for key in reversed(path.split(".")):
        value = {key: value}
    return value


def errors_of(spec: dict) -> dict[str, list[str]]:
    """validate_spec's refusal: the messages by field path."""
    with pytest.raises(ServiceError) as info:
        validate_spec(spec)
    assert (info.value.code, info.value.status, info.value.message) == (
        "invalid",
        400,
        "The request has invalid fields.",
    )
    return info.value.errors


def refused_at(errors: dict[str, list[str]], path: str) -> bool:
    """Whether the only field at fault is `path` or an item of it (`path[0]`, `path.ios`)."""
    (where,) = errors
    return where == path or where.startswith((f"{path}[", f"{path}."))


def sharing(channel: str, **fields) -> dict:
    return {"data_sharing": {channel: fields}}


# --- App ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_id",
    [
        "com.acme mail",  # a space
        "acmemail",  # no dot
        "com.acme.1st_app",  # a segment starting with a digit, and '_' which iOS ids cannot have
        "a" * 250 + ".bcdef",  # 256 characters
        ".com.acme",
        "com..acme",
        "com.acme.",
        "com.äcme.mail",
        "",
    ],
)
def test_it_refuses_a_bad_app_id_naming_the_rule(app_id):
    errors = errors_of(base_spec(apps=[app("com.acme.ok"), app(app_id)]))
    assert list(errors) == ["apps[1].id"]


def test_it_refuses_an_app_id_that_is_not_a_string():
    assert list(errors_of(base_spec(apps=[app(42)]))) == ["apps[0].id"]


@pytest.mark.parametrize(
    "app_id",
    [
        "com.acme.mail",  # Android package
        "com.google.android.apps.docs",
        "com.acme.field_notes",  # '_' is fine on Android
        "com.acme.Field-Notes",  # '-' is fine in an iOS bundle id
        "com.acme.1password",  # a leading digit is fine in an iOS bundle id
        "a" * 249 + ".bcdef",  # exactly 255 characters
    ],
)
def test_it_accepts_android_packages_and_ios_bundle_ids(app_id):
    assert validate_spec(base_spec(apps=[app(app_id)]))["apps"][0]["id"] == app_id


def test_it_refuses_a_bad_app_id_in_an_exemption_list():
    spec = base_spec(**sharing("files", exemptions={"work_to_personal": ["not an app"]}))
    assert refused_at(errors_of(spec), "data_sharing.files.exemptions.work_to_personal")


# --- Signing certificate hashes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "hashes",
    [
        ["a" * 63],
        ["a" * 65],
        ["g" * 64],
        ["ab:" * 21 + "a"],  # colon-separated, as keytool prints it
        [HASH, HASH],
        [HASH, HASH.upper()],  # the same hash, whatever its case
        [f"{i:064x}" for i in range(11)],  # more than 10
        [42],
    ],
    ids=["63-chars", "65-chars", "non-hex", "colons", "duplicate", "duplicate-other-case", "eleven", "not-a-string"],
)
def test_it_refuses_bad_signing_cert_hashes(hashes):
    spec = base_spec(apps=[app(signing_cert_sha256=hashes)])
    assert refused_at(errors_of(spec), "apps[0].signing_cert_sha256")


def test_it_stores_signing_cert_hashes_in_lower_case():
    spec = base_spec(apps=[app(signing_cert_sha256=[HASH.upper(), OTHER_HASH])])
    assert validate_spec(spec)["apps"][0]["signing_cert_sha256"] == [HASH, OTHER_HASH]


# --- Minimum app version ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v3", "3.", ".3", "3..2", "1.2.3.4.5", "3.2-beta", "1234567", "3,2", 3])
def test_it_refuses_a_malformed_min_version(version):
    assert list(errors_of(base_spec(apps=[app(min_version=version)]))) == ["apps[0].min_version"]


@pytest.mark.parametrize("version", ["3", "3.2", "3.2.1", "10.0.1.2", "123456.0"])
def test_it_accepts_a_dotted_min_version(version):
    assert validate_spec(base_spec(apps=[app(min_version=version)]))["apps"][0]["min_version"] == version


@pytest.mark.parametrize("version", [None, ""])
def test_it_stores_no_min_version_as_null(version):
    assert validate_spec(base_spec(apps=[app(min_version=version)]))["apps"][0]["min_version"] is None


@pytest.mark.parametrize("version", ["\u0661\u0663", "\uff11\uff17"])  # Arabic-Indic and full-width digits
def test_it_refuses_non_ascii_digits_in_a_version(version):
    errors = errors_of(base_spec(apps=[app(min_version=version)], access={"min_os_version": {"android": version}}))
    assert set(errors) == {"apps[0].min_version", "access.min_os_version"}


# --- Contradictory rules ------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [{"min_version": "3"}, {"managed_config": {"server": "mail.acme.test"}}])
def test_it_refuses_a_blocked_app_with_a_min_version_or_a_managed_config(fields):
    errors = errors_of(base_spec(apps=[app(install="blocked", **fields)]))
    assert list(errors) == ["apps[0].install"]
    assert "blocked app" in errors["apps[0].install"][0]


def test_it_accepts_a_blocked_app_without_settings():
    rule = validate_spec(base_spec(apps=[app(install="blocked")]))["apps"][0]
    assert rule == {
        "id": "com.acme.mail",
        "install": "blocked",
        "min_version": None,
        "signing_cert_sha256": [],
        "managed_config": {},
    }


def test_it_refuses_the_same_app_listed_twice_naming_the_second():
    spec = base_spec(apps=[app("com.acme.mail"), app("com.acme.chat"), app("com.acme.mail", install="required")])
    errors = errors_of(spec)
    assert list(errors) == ["apps[2].id"]
    assert "apps[0]" in errors["apps[2].id"][0]


def test_it_refuses_an_exemption_in_an_allowed_direction():
    # byod-basic allows files from personal to work: an exemption there means nothing.
    spec = base_spec(
        apps=[app("com.acme.docs")],
        **sharing("files", exemptions={"personal_to_work": ["com.acme.docs"]}),
    )
    errors = errors_of(spec)
    assert list(errors) == ["data_sharing.files.exemptions"]
    assert "personal_to_work is allowed" in errors["data_sharing.files.exemptions"][0]


@pytest.mark.parametrize("apps", [[], [app("com.acme.docs", install="blocked")]], ids=["not-listed", "blocked"])
def test_it_refuses_an_exemption_for_an_app_that_is_not_allowed(apps):
    spec = base_spec(apps=apps, **sharing("contacts", exemptions={"work_to_personal": ["com.acme.docs"]}))
    errors = errors_of(spec)
    assert list(errors) == ["data_sharing.contacts.exemptions.work_to_personal"]
    assert "com.acme.docs" in errors["data_sharing.contacts.exemptions.work_to_personal"][0]


@pytest.mark.parametrize("install", ["available", "required"])
def test_it_accepts_an_exemption_for_an_allowed_app_in_a_denied_direction(install):
    spec = base_spec(
        apps=[app("com.acme.docs", install=install)],
        **sharing("contacts", exemptions={"work_to_personal": ["com.acme.docs"]}),
    )
    exemptions = validate_spec(spec)["data_sharing"]["contacts"]["exemptions"]
    assert exemptions == {"work_to_personal": ["com.acme.docs"], "personal_to_work": []}


@pytest.mark.parametrize("block, wipe", [(7, 7), (7, 3), (0, 0), (30, 1)])
def test_it_refuses_a_wipe_no_later_than_the_block(block, wipe):
    errors = errors_of(base_spec(enforcement={"block_after_days": block, "wipe_after_days": wipe}))
    assert list(errors) == ["enforcement.wipe_after_days"]


@pytest.mark.parametrize("block, wipe", [(7, 8), (0, 1), (1, 365), (None, 1), (7, None), (None, None)])
def test_it_accepts_a_wipe_after_the_block_or_either_unset(block, wipe):
    enforcement = validate_spec(base_spec(enforcement={"block_after_days": block, "wipe_after_days": wipe}))
    assert enforcement["enforcement"] == {"block_after_days": block, "wipe_after_days": wipe}


# --- Managed configuration ----------------------------------------------------------------------


def test_it_accepts_a_managed_config_of_exactly_16_kib():
    config = {"k": "x" * (MAX_MANAGED_CONFIG_BYTES - len('{"k": ""}'))}
    assert validate_spec(base_spec(apps=[app(managed_config=config)]))["apps"][0]["managed_config"] == config


def test_it_refuses_a_managed_config_over_16_kib():
    config = {"k": "x" * (MAX_MANAGED_CONFIG_BYTES - len('{"k": ""}') + 1)}
    errors = errors_of(base_spec(apps=[app(managed_config=config)]))
    assert list(errors) == ["apps[0].managed_config"]
    assert "16 KiB" in errors["apps[0].managed_config"][0]


def test_it_refuses_a_managed_config_that_is_not_an_object():
    assert list(errors_of(base_spec(apps=[app(managed_config=["a", "b"])]))) == ["apps[0].managed_config"]


# --- Types --------------------------------------------------------------------------------------

INT_FIELDS = [
    "access.max_offline_days",
    "access.passcode.min_length",
    "encryption.rotate_after_days",
    "data_sharing.clipboard.max_chars",
    "enforcement.block_after_days",
    "enforcement.wipe_after_days",
]
BOOL_FIELDS = ["access.passcode.required", "access.block_compromised"]


@pytest.mark.parametrize("path", INT_FIELDS)
@pytest.mark.parametrize("value", ["7", 7.0, True])
def test_it_refuses_anything_but_an_integer_for_an_integer_field(path, value):
    assert list(errors_of(base_spec(**at_path(path, value)))) == [path]


@pytest.mark.parametrize("path", BOOL_FIELDS)
@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None])
def test_it_refuses_anything_but_a_boolean_for_a_boolean_field(path, value):
    assert list(errors_of(base_spec(**at_path(path, value)))) == [path]


@pytest.mark.parametrize(
    "path, value",
    [
        ("access.max_offline_days", 0),
        ("access.max_offline_days", 366),
        ("access.passcode.min_length", 3),
        ("access.passcode.min_length", 17),
        ("encryption.rotate_after_days", 0),
        ("data_sharing.clipboard.max_chars", -1),
        ("enforcement.block_after_days", -1),
        ("enforcement.wipe_after_days", 0),
    ],
)
def test_it_refuses_an_integer_out_of_range(path, value):
    assert list(errors_of(base_spec(**at_path(path, value)))) == [path]


@pytest.mark.parametrize(
    "path, value",
    [
        ("encryption.cipher", "AES-128-CBC"),
        ("access.passcode.complexity", "extreme"),
        ("data_sharing.files.work_to_personal", "maybe"),
        ("data_sharing.files.personal_to_work", True),
    ],
)
def test_it_refuses_a_value_outside_its_choices(path, value):
    assert list(errors_of(base_spec(**at_path(path, value)))) == [path]


@pytest.mark.parametrize("name", ["", "   ", 42, "x" * 101])
def test_it_refuses_a_missing_blank_or_overlong_name(name):
    assert list(errors_of(base_spec(name=name))) == ["name"]


def test_it_trims_the_name():
    assert validate_spec(base_spec(name="  Field staff  "))["name"] == "Field staff"


@pytest.mark.parametrize("section", ["apps", "data_sharing", "encryption", "access", "enforcement"])
def test_it_refuses_a_spec_missing_a_section(section):
    spec = base_spec()
    del spec[section]
    assert list(errors_of(spec)) == [section]


# --- The words of each refusal -------------------------------------------------------------------
# The admin API has always answered with these messages and paths (they were DRF's): a script that
# reads them keeps working.


def without(path: str) -> dict:
    spec = base_spec()
    *parents, last = path.split(".")
    holder = spec
    for key in parents:
        holder = holder[key]
    del holder[last]
    return spec


@pytest.mark.parametrize(
    "spec, errors",
    [
        (without("name"), {"name": ["This field is required."]}),
        (base_spec(name=42), {"name": ["Not a valid string."]}),
        (base_spec(name=""), {"name": ["This field may not be blank."]}),
        (
            base_spec(name="x" * 101 + "\x00\ud800"),
            {
                "name": [
                    "Ensure this field has no more than 100 characters.",
                    "Null characters are not allowed.",
                    "Surrogate characters are not allowed: U+D800.",
                ]
            },
        ),
        (base_spec(description="\ud800"), {"description": ["Surrogate characters are not allowed: U+D800."]}),
        (
            base_spec(**at_path("access.max_offline_days", "7")),
            {"access.max_offline_days": ["A valid integer is required."]},
        ),
        (
            base_spec(**at_path("access.max_offline_days", 366)),
            {"access.max_offline_days": ["Ensure this value is less than or equal to 365."]},
        ),
        (
            base_spec(**at_path("access.max_offline_days", 0)),
            {"access.max_offline_days": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            base_spec(**at_path("access.passcode.required", "yes")),
            {"access.passcode.required": ["Must be a valid boolean."]},
        ),
        (
            base_spec(**at_path("access.passcode.required", None)),
            {"access.passcode.required": ["This field may not be null."]},
        ),
        (base_spec(**at_path("encryption.cipher", "DES")), {"encryption.cipher": ['"DES" is not a valid choice.']}),
        (base_spec(apps="x"), {"apps.non_field_errors": ['Expected a list of items but got type "str".']}),
        (
            base_spec(apps=[app(f"com.acme.app{i}") for i in range(501)]),
            {"apps.non_field_errors": ["Ensure this field has no more than 500 elements."]},
        ),
        (base_spec(apps=[None]), {"apps[0]": ["This field may not be null."]}),
        (base_spec(apps=["x"]), {"apps[0].non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
        (
            base_spec(apps=[app(signing_cert_sha256="ab")]),
            {"apps[0].signing_cert_sha256": ['Expected a list of items but got type "str".']},
        ),
        (
            base_spec(apps=[app(signing_cert_sha256=[f"{i:064x}" for i in range(11)])]),
            {"apps[0].signing_cert_sha256": ["Ensure this field has no more than 10 elements."]},
        ),
        (base_spec(apps=[app(signing_cert_sha256=[42])]), {"apps[0].signing_cert_sha256[0]": ["Not a valid string."]}),
        (
            base_spec(apps=[app(signing_cert_sha256=[HASH.upper(), HASH])]),
            {"apps[0].signing_cert_sha256": [f"{HASH} is listed twice."]},
        ),
        (
            base_spec(apps=[app(managed_config=[])]),
            {"apps[0].managed_config": ['Expected a dictionary of items but got type "list".']},
        ),
        (
            base_spec(apps=[app("a" * 256)]),
            {"apps[0].id": ["Not an app id: an Android package name (com.example.app) or an iOS bundle id."]},
        ),
        (
            base_spec(apps=[app(min_version="1" * 33)]),
            {"apps[0].min_version": ["Ensure this field has no more than 32 characters."]},
        ),
        (base_spec(access={"min_os_version": {"ios": 17}}), {"access.min_os_version.ios": ["Not a valid string."]}),
        (
            base_spec(access={"min_os_version": {"symbian": "9"}}),
            {"access.min_os_version": ["Unknown platform 'symbian'; one of: android, ios, windows, macos, linux."]},
        ),
        (
            base_spec(data_sharing="x"),
            {"data_sharing.non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        ),
        (without("data_sharing.files"), {"data_sharing.files": ["This field is required."]}),
        (
            base_spec(**at_path("data_sharing.files.exemptions", None)),
            {"data_sharing.files.exemptions": ["This field may not be null."]},
        ),
        (
            base_spec(enforcement={"block_after_days": 7, "wipe_after_days": 7}),
            {"enforcement.wipe_after_days": ["Must be more than block_after_days (7): lock first, wipe later."]},
        ),
    ],
)
def test_it_words_each_refusal_as_the_admin_api_always_has(spec, errors):
    assert errors_of(spec) == errors


def test_it_reports_every_field_at_fault_at_once_in_the_order_of_the_spec():
    spec = base_spec(name="", apps=[app("x"), app(min_version="v3")], access={"max_offline_days": "7"})
    assert list(errors_of(spec)) == ["name", "apps[0].id", "apps[1].min_version", "access.max_offline_days"]


def test_it_ignores_keys_the_spec_does_not_have():
    spec = base_spec(colour="blue", access={"max_offline_days": 5, "colour": "red"}, apps=[app(colour="green")])
    cleaned = validate_spec(spec)
    assert "colour" not in cleaned and "colour" not in cleaned["access"] and "colour" not in cleaned["apps"][0]
    assert cleaned["access"]["max_offline_days"] == 5


def test_it_fills_in_what_a_spec_may_leave_out():
    spec = base_spec(apps=[app()])
    spec["enforcement"] = {}
    del spec["description"], spec["data_sharing"]["files"]["exemptions"], spec["data_sharing"]["clipboard"]["max_chars"]
    del spec["access"]["min_os_version"], spec["encryption"]["cipher"]
    cleaned = validate_spec(spec)
    assert cleaned["description"] == ""
    assert cleaned["apps"] == [
        {"id": "com.acme.mail", "install": "available", "min_version": None, "signing_cert_sha256": [],
         "managed_config": {}}
    ]  # fmt: skip
    assert cleaned["data_sharing"]["files"]["exemptions"] == {"work_to_personal": [], "personal_to_work": []}
    assert cleaned["data_sharing"]["clipboard"]["max_chars"] == 0
    assert cleaned["enforcement"] == {"block_after_days": None, "wipe_after_days": None}
    assert cleaned["access"]["min_os_version"] == {}
    assert cleaned["encryption"]["cipher"] == "AES-256-GCM"


def test_it_trims_text_before_checking_it():
    cleaned = validate_spec(
        base_spec(
            apps=[app(" com.acme.mail ", min_version=" 3.2 ", signing_cert_sha256=[f" {HASH} "])],
            access={"min_os_version": {"android": " 14 "}},
            **sharing("contacts", exemptions={"work_to_personal": [" com.acme.mail "]}),
        )
    )
    assert cleaned["apps"][0]["id"] == "com.acme.mail" and cleaned["apps"][0]["min_version"] == "3.2"
    assert cleaned["apps"][0]["signing_cert_sha256"] == [HASH]
    assert cleaned["access"]["min_os_version"] == {"android": "14"}
    assert cleaned["data_sharing"]["contacts"]["exemptions"]["work_to_personal"] == ["com.acme.mail"]


# --- Minimum OS versions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "versions",
    [{"symbian": "9"}, {"Android": "14"}, {"android": "fourteen"}, {"ios": "17.4.1.0.2"}, {"ios": 17}, {"ios": ""}],
)
def test_it_refuses_an_unknown_platform_or_a_bad_os_version(versions):
    assert refused_at(errors_of(base_spec(access={"min_os_version": versions})), "access.min_os_version")


def test_it_accepts_minimum_os_versions_for_known_platforms():
    versions = {"android": "14", "ios": "17.4.1", "windows": "10.0.22631", "macos": "14", "linux": "6"}
    assert validate_spec(base_spec(access={"min_os_version": versions}))["access"]["min_os_version"] == versions


# --- Presets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_it_accepts_every_preset_as_it_stands(preset):
    spec = preset_spec(preset, name="Anyone")
    assert validate_spec(spec) == spec


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_locks_before_it_wipes_and_lets_nothing_leave_work_but_notifications(preset):
    spec = preset_spec(preset, name="Anyone")
    enforcement = spec["enforcement"]
    assert enforcement["wipe_after_days"] > enforcement["block_after_days"]
    leaking = {channel for channel, rules in spec["data_sharing"].items() if rules["work_to_personal"] == "allow"}
    assert leaking <= {"notifications"}


def test_it_denies_all_work_to_personal_sharing_by_default_and_lets_only_text_and_files_in():
    assert set(DEFAULT_SHARING) == set(Channel.values)
    assert {channel for channel, rules in DEFAULT_SHARING.items() if rules["work_to_personal"] != "deny"} == set()
    allowed_in = {channel for channel, rules in DEFAULT_SHARING.items() if rules["personal_to_work"] == "allow"}
    assert allowed_in == {"clipboard", "files"}
    assert all(
        rules["exemptions"] == {"work_to_personal": [], "personal_to_work": []} for rules in DEFAULT_SHARING.values()
    )
    assert PRESETS["byod-basic"]["data_sharing"] == DEFAULT_SHARING


def test_it_gives_a_fresh_copy_of_a_preset_each_time():
    spec = preset_spec("byod-strict", name="Sales")
    spec["data_sharing"]["clipboard"]["work_to_personal"] = "allow"
    spec["access"]["min_os_version"]["android"] = "1"
    assert preset_spec("byod-strict", name="Sales")["data_sharing"]["clipboard"]["work_to_personal"] == "deny"
    assert PRESETS["byod-strict"]["access"]["min_os_version"]["android"] == "13"


def test_it_refuses_an_unknown_preset_name():
    with pytest.raises(KeyError):
        preset_spec("byod-lax", name="Sales")


# --- merge() ------------------------------------------------------------------------------------


def test_merge_lays_nested_changes_over_the_base_keeping_the_rest():
    base = preset_spec("byod-basic", name="Field staff")
    merged = merge(base, {"access": {"passcode": {"min_length": 8}}, "description": "Drivers"})
    assert merged["access"]["passcode"] == {"required": True, "min_length": 8, "complexity": "low"}
    assert merged["access"]["max_offline_days"] == 30
    assert merged["description"] == "Drivers"
    assert merged["data_sharing"] == base["data_sharing"]


def test_merge_replaces_lists_instead_of_extending_them():
    base = base_spec(apps=[app("com.acme.mail"), app("com.acme.chat")])
    merged = merge(base, {"apps": [app("com.acme.docs")]})
    assert merged["apps"] == [app("com.acme.docs")]


def test_merge_replaces_a_value_with_null_or_a_scalar():
    merged = merge(base_spec(), {"enforcement": {"wipe_after_days": None}, "access": {"min_os_version": None}})
    assert merged["enforcement"] == {"block_after_days": 7, "wipe_after_days": None}
    assert merged["access"]["min_os_version"] is None


def test_merge_changes_neither_the_base_nor_the_changes():
    base = preset_spec("byod-basic", name="Field staff")
    changes = {"apps": [app(managed_config={"server": "a"})], "access": {"passcode": {"min_length": 8}}}
    base_before, changes_before = copy.deepcopy(base), copy.deepcopy(changes)
    merged = merge(base, changes)
    merged["apps"][0]["managed_config"]["server"] = "b"
    merged["access"]["passcode"]["required"] = False
    assert base == base_before
    assert changes == changes_before


# --- diff() -------------------------------------------------------------------------------------


def test_diff_of_a_spec_with_itself_is_empty():
    spec = validate_spec(base_spec(apps=[app(signing_cert_sha256=[HASH])]))
    assert diff(spec, copy.deepcopy(spec)) == []


def test_diff_names_each_changed_leaf_with_old_and_new_values():
    old = validate_spec(base_spec())
    new = validate_spec(
        merge(
            old,
            {
                "name": "Drivers",
                "access": {"max_offline_days": 7, "min_os_version": {"android": "14"}},
                "enforcement": {"wipe_after_days": None},
                "data_sharing": {"files": {"personal_to_work": "deny"}},
            },
        )
    )
    assert diff(old, new) == [
        "access.max_offline_days: 30 -> 7",
        'access.min_os_version.android: null -> "14"',
        'data_sharing.files.personal_to_work: "allow" -> "deny"',
        "enforcement.wipe_after_days: 30 -> null",
        'name: "Field staff" -> "Drivers"',
    ]


def test_diff_lists_apps_removed_added_and_changed_by_id_whatever_their_order():
    old = validate_spec(base_spec(apps=[app("com.acme.mail"), app("com.acme.chat"), app("com.acme.old")]))
    new = validate_spec(
        base_spec(
            apps=[
                app("com.acme.new", install="required"),
                app("com.acme.chat", min_version="2"),
                app("com.acme.mail"),
            ]
        )
    )
    assert diff(old, new) == [
        "apps: removed com.acme.old",
        "apps: added com.acme.new (required)",
        "apps: changed com.acme.chat",
    ]


def test_diff_ignores_the_order_of_unchanged_apps():
    old = validate_spec(base_spec(apps=[app("com.acme.mail"), app("com.acme.chat")]))
    new = validate_spec(base_spec(apps=[app("com.acme.chat"), app("com.acme.mail")]))
    assert diff(old, new) == []


def test_diff_shows_a_changed_exemption_list_whole():
    old = validate_spec(base_spec(apps=[app("com.acme.mail")]))
    new = validate_spec(
        merge(old, sharing("calendar", exemptions={"work_to_personal": ["com.acme.mail"], "personal_to_work": []}))
    )
    assert diff(old, new) == ['data_sharing.calendar.exemptions.work_to_personal: [] -> ["com.acme.mail"]']


# --- Through the services -----------------------------------------------------------------------


@pytest.fixture
def persona(actors) -> Persona:
    return Persona.objects.get(organization=actors.org, name="BYOD basic")


def updates_of(persona: Persona):
    return AuditEvent.objects.filter(organization=persona.organization, action="persona.updated")


def test_it_bumps_the_revision_and_audits_the_diff_when_a_persona_changes(persona):
    spec = merge(spec_of(persona), {"access": {"max_offline_days": 7}, "apps": [app("com.acme.mail")]})
    updated, changes = persona_update(persona=persona, spec=spec)
    assert changes == ["access.max_offline_days: 30 -> 7", "apps: added com.acme.mail (available)"]
    persona.refresh_from_db()
    assert updated.revision == persona.revision == 2
    assert persona.max_offline_days == 7
    assert [rule["id"] for rule in spec_of(persona)["apps"]] == ["com.acme.mail"]
    (event,) = updates_of(persona)
    assert event.target_id == str(persona.pk)
    assert event.details == {"name": "BYOD basic", "revision": 2, "diff": changes}


def test_it_bumps_the_revision_once_per_change(persona):
    persona_update(persona=persona, spec=merge(spec_of(persona), {"access": {"max_offline_days": 7}}))
    persona_update(persona=persona, spec=merge(spec_of(persona), {"access": {"max_offline_days": 8}}))
    persona.refresh_from_db()
    assert persona.revision == 3
    assert sorted(event.details["revision"] for event in updates_of(persona)) == [2, 3]


def test_it_keeps_the_revision_and_audits_nothing_when_nothing_changed(persona):
    updated, changes = persona_update(persona=persona, spec=spec_of(persona))
    assert changes == []
    persona.refresh_from_db()
    assert updated.revision == persona.revision == 1
    assert not updates_of(persona).exists()


def test_it_sees_no_change_in_a_hash_written_in_upper_case_again(persona):
    persona, _ = persona_update(
        persona=persona, spec=merge(spec_of(persona), {"apps": [app(signing_cert_sha256=[HASH])]})
    )
    again = merge(spec_of(persona), {"apps": [app(signing_cert_sha256=[HASH.upper()])]})
    persona, changes = persona_update(persona=persona, spec=again)
    assert changes == []
    assert persona.revision == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"apps": [app("com.acme.mail"), app("com.acme.mail")]},
        {"enforcement": {"block_after_days": 30, "wipe_after_days": 7}},
        {"access": {"max_offline_days": "7"}},
        {"apps": [app(install="blocked", min_version="2")], "access": {"max_offline_days": 7}},
    ],
    ids=["duplicate-app", "wipe-before-block", "string-int", "blocked-with-min-version"],
)
def test_a_refused_update_changes_nothing(persona, changes):
    before = spec_of(persona)
    with pytest.raises(ServiceError):
        persona_update(persona=persona, spec=merge(before, changes))
    persona.refresh_from_db()
    assert persona.revision == 1
    assert spec_of(persona) == before
    assert not updates_of(persona).exists()


def test_it_refuses_to_rename_a_persona_to_a_name_already_taken(actors, persona):
    other = persona_create(organization=actors.org, name="Sales", preset="byod-strict")
    before = spec_of(other)
    with pytest.raises(ServiceError) as info:
        persona_update(persona=other, spec=merge(before, {"name": "byod BASIC", "access": {"max_offline_days": 3}}))
    assert info.value.errors == {"name": ["A persona named 'byod BASIC' already exists."]}
    other.refresh_from_db()
    assert other.revision == 1
    assert spec_of(other) == before
    assert not updates_of(other).exists()


def test_it_creates_a_persona_from_a_preset_with_changes(actors):
    persona = persona_create(
        organization=actors.org,
        name="  Sales ",
        preset="corporate-owned",
        changes={"apps": [app("com.acme.crm", install="required")], "access": {"max_offline_days": 3}},
    )
    expected = merge(
        preset_spec("corporate-owned", name="Sales"),
        {"apps": [validate_spec(base_spec(apps=[app("com.acme.crm", install="required")]))["apps"][0]]},
    )
    expected["access"]["max_offline_days"] = 3
    assert spec_of(persona) == expected
    assert (persona.preset, persona.revision, persona.is_default) == ("corporate-owned", 1, False)
    event = AuditEvent.objects.get(organization=actors.org, action="persona.created", target_id=str(persona.pk))
    assert event.details == {"name": "Sales", "preset": "corporate-owned", "revision": 1}


def test_it_refuses_to_create_a_persona_from_an_unknown_preset(actors):
    events = AuditEvent.objects.filter(organization=actors.org).count()
    with pytest.raises(ServiceError) as info:
        persona_create(organization=actors.org, name="Sales", preset="byod-lax")
    assert info.value.field == "preset"
    assert "byod-lax" in info.value.message
    assert list(Persona.objects.filter(organization=actors.org).values_list("name", flat=True)) == ["BYOD basic"]
    assert AuditEvent.objects.filter(organization=actors.org).count() == events


@pytest.mark.parametrize("name", ["BYOD basic", "byod BASIC", " BYOD basic "])
def test_it_refuses_to_create_a_persona_with_a_name_already_taken(actors, name):
    events = AuditEvent.objects.filter(organization=actors.org).count()
    with pytest.raises(ServiceError) as info:
        persona_create(organization=actors.org, name=name)
    assert info.value.errors == {"name": [f"A persona named {name.strip()!r} already exists."]}
    assert Persona.objects.filter(organization=actors.org).count() == 1
    assert AuditEvent.objects.filter(organization=actors.org).count() == events


def test_it_allows_the_same_persona_name_in_another_organization(actors):
    persona = persona_create(organization=actors.other_org, name="Field staff")
    assert persona.organization == actors.other_org
    assert Persona.objects.filter(organization=actors.org, name="Field staff").count() == 0


def test_it_refuses_an_invalid_spec_on_create_and_creates_nothing(actors):
    with pytest.raises(ServiceError) as info:
        persona_create(organization=actors.org, name="Sales", changes={"apps": [app("no_dot")]})
    assert list(info.value.errors) == ["apps[0].id"]
    assert not Persona.objects.filter(organization=actors.org, name="Sales").exists()


@pytest.mark.parametrize("config", [{"server": "mail\x00.acme.test"}, {"ser\x00ver": "mail.acme.test"}])
def test_it_refuses_a_nul_character_in_a_managed_config(persona, config):
    with pytest.raises(ServiceError) as info:
        persona_update(persona=persona, spec=merge(spec_of(persona), {"apps": [app(managed_config=config)]}))
    assert info.value.errors == {"apps[0].managed_config": ["NUL characters and lone surrogates are not allowed."]}
