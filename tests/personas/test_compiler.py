"""The compiler: every valid spec, preset or random, compiles to a document its JSON schema
accepts; a tampered document is refused; the schema is a valid Draft 2020-12 schema, served to
agents as it is on disk."""

from __future__ import annotations

import copy
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from personas.choices import CIPHERS, PLATFORMS, Channel, Decision, Direction, InstallMode, PasscodeComplexity
from personas.compiler import SCHEMA_PATH, PolicyInvalid, compile_policy, persona_template, validate_policy
from personas.models import Persona
from personas.services import persona_update, spec_of
from personas.spec import PRESETS, diff, merge, preset_spec, validate_spec

TOP_LEVEL_KEYS = {"schema", "version", "persona", "apps", "data_sharing", "encryption", "access"}
SCHEMA_URL = "/api/v1/agent/schema/policy-v1.json"
PROPERTIES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def unsaved_persona(name: str = "Field staff", revision: int = 1) -> Persona:
    """persona_template reads only the primary key, name and revision: no database needed."""
    return Persona(id=uuid.uuid4(), name=name, revision=revision)


def compile_spec(spec: dict, persona: Persona | None = None, **device) -> dict:
    device = {"version": 1, "key_id": str(uuid.uuid4()), "key_version": 1, **device}
    return compile_policy(persona_template(persona or unsaved_persona(spec["name"]), spec), **device)


# --- Presets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_it_compiles_every_preset_to_a_document_the_schema_accepts(preset):
    spec = validate_spec(preset_spec(preset, name="Anyone"))
    persona = unsaved_persona("Anyone", revision=3)
    key_id = str(uuid.uuid4())
    document = compile_policy(persona_template(persona, spec), version=1, key_id=key_id, key_version=1)
    validate_policy(document)
    assert set(document) == TOP_LEVEL_KEYS
    assert document["schema"] == "mdm-policy/1"
    assert document["version"] == 1
    assert document["persona"] == {"id": str(persona.pk), "name": "Anyone", "revision": 3}
    assert document["apps"] == {"default": "block", "rules": []}
    assert document["data_sharing"] == spec["data_sharing"]
    assert document["encryption"] == {
        "cipher": "AES-256-GCM",
        "rotate_after_days": spec["encryption"]["rotate_after_days"],
        "key_id": key_id,
        "key_version": 1,
    }
    assert document["access"] == spec["access"]


def test_it_leaves_enforcement_and_the_description_out_of_the_document():
    spec = validate_spec(preset_spec("byod-basic", name="Anyone"))
    document = compile_spec(spec)
    assert "enforcement" not in json.dumps(document)
    assert spec["description"] not in json.dumps(document)


def test_it_copies_app_rules_in_the_spec_order_with_every_field():
    spec = validate_spec(
        merge(
            preset_spec("byod-basic", name="Field staff"),
            {
                "apps": [
                    {"id": "com.acme.mail", "install": "required", "min_version": "3.2", "managed_config": {"a": 1}},
                    {"id": "com.acme.chat", "signing_cert_sha256": ["AB" * 32]},
                    {"id": "com.acme.games", "install": "blocked"},
                ]
            },
        )
    )
    rules = compile_spec(spec)["apps"]["rules"]
    assert rules == [
        {
            "id": "com.acme.mail",
            "install": "required",
            "min_version": "3.2",
            "signing_cert_sha256": [],
            "managed_config": {"a": 1},
        },
        {
            "id": "com.acme.chat",
            "install": "available",
            "min_version": None,
            "signing_cert_sha256": ["ab" * 32],
            "managed_config": {},
        },
        {
            "id": "com.acme.games",
            "install": "blocked",
            "min_version": None,
            "signing_cert_sha256": [],
            "managed_config": {},
        },
    ]


def test_it_compiles_many_devices_from_one_template_without_changing_it():
    spec = validate_spec(preset_spec("byod-strict", name="Sales"))
    template = persona_template(unsaved_persona("Sales"), spec)
    pristine = copy.deepcopy(template)
    first_key, second_key = str(uuid.uuid4()), str(uuid.uuid4())
    first = compile_policy(template, version=4, key_id=first_key, key_version=1)
    second = compile_policy(template, version=9, key_id=second_key, key_version=2)
    assert template == pristine
    assert (first["version"], first["encryption"]["key_id"], first["encryption"]["key_version"]) == (4, first_key, 1)
    assert (second["version"], second["encryption"]["key_id"], second["encryption"]["key_version"]) == (
        9,
        second_key,
        2,
    )


def test_it_does_not_share_the_spec_data_sharing_with_the_template():
    spec = validate_spec(preset_spec("byod-basic", name="Anyone"))
    template = persona_template(unsaved_persona(), spec)
    template["data_sharing"]["files"]["work_to_personal"] = "allow"
    template["access"]["passcode"]["required"] = False
    assert spec["data_sharing"]["files"]["work_to_personal"] == "deny"
    assert spec["access"]["passcode"]["required"] is True


@pytest.mark.parametrize(
    "device",
    [{"version": 0}, {"key_id": "not-a-uuid"}, {"key_version": 0}],
    ids=["version-0", "key-id-not-a-uuid", "key-version-0"],
)
def test_it_refuses_to_compile_with_bad_device_values(device):
    spec = validate_spec(preset_spec("byod-basic", name="Anyone"))
    with pytest.raises(PolicyInvalid):
        compile_spec(spec, **device)


# --- Random valid specs -------------------------------------------------------------------------

android_ids = st.from_regex(r"com\.[a-z]{1,8}\.[a-z][a-z0-9_]{0,7}", fullmatch=True)
ios_ids = st.from_regex(r"[A-Za-z0-9-]{1,8}\.[A-Za-z0-9-]{1,8}(\.[A-Za-z0-9-]{1,8})?", fullmatch=True)
app_ids = android_ids | ios_ids
versions = st.lists(st.integers(min_value=0, max_value=999_999), min_size=1, max_size=4).map(
    lambda parts: ".".join(map(str, parts))
)
cert_hashes = st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)
# Text PostgreSQL's jsonb can store (no NUL), so the same strategy serves the database test.
texts = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
config_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**31), max_value=2**31) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_", max_size=100).filter(
    str.strip
)


@st.composite
def app_rules(draw, app_id: str) -> dict:
    install = draw(st.sampled_from(InstallMode.values))
    rule = {"id": app_id, "install": install}
    if draw(st.booleans()):
        rule["signing_cert_sha256"] = draw(st.lists(cert_hashes, max_size=10, unique_by=str.lower))
    if install != InstallMode.BLOCKED:
        if draw(st.booleans()):
            rule["min_version"] = draw(st.none() | st.just("") | versions)
        if draw(st.booleans()):
            rule["managed_config"] = draw(st.dictionaries(texts, config_values, max_size=4))
    return rule


@st.composite
def channel_rules(draw, allowed_apps: list[str]) -> dict:
    rules = {direction: draw(st.sampled_from(Decision.values)) for direction in Direction.values}
    exemptions = {}
    for direction in Direction.values:
        if rules[direction] == Decision.DENY and allowed_apps and draw(st.booleans()):
            exemptions[direction] = draw(st.lists(st.sampled_from(allowed_apps), max_size=5, unique=True))
    if exemptions or draw(st.booleans()):
        rules["exemptions"] = exemptions
    return rules


@st.composite
def enforcements(draw) -> dict:
    block = draw(st.none() | st.integers(min_value=0, max_value=364))
    wipe = draw(st.none() | st.integers(min_value=max(1, (block or 0) + 1), max_value=365))
    return {"block_after_days": block, "wipe_after_days": wipe}


@st.composite
def valid_specs(draw) -> dict:
    ids = draw(st.lists(app_ids, max_size=8, unique=True))
    apps = [draw(app_rules(app_id)) for app_id in ids]
    allowed = [rule["id"] for rule in apps if rule["install"] != InstallMode.BLOCKED]
    data_sharing = {channel: draw(channel_rules(allowed)) for channel in Channel.values}
    if draw(st.booleans()):
        data_sharing["clipboard"]["max_chars"] = draw(st.integers(min_value=0, max_value=1_000_000))
    spec = {
        "name": draw(names),
        "apps": apps,
        "data_sharing": data_sharing,
        "encryption": {"cipher": draw(st.sampled_from(CIPHERS)), "rotate_after_days": draw(st.integers(1, 365))},
        "access": {
            "passcode": {
                "required": draw(st.booleans()),
                "min_length": draw(st.integers(4, 16)),
                "complexity": draw(st.sampled_from(PasscodeComplexity.values)),
            },
            "max_offline_days": draw(st.integers(1, 365)),
            "min_os_version": draw(st.dictionaries(st.sampled_from(PLATFORMS), versions)),
            "block_compromised": draw(st.booleans()),
        },
        "enforcement": draw(enforcements()),
    }
    if draw(st.booleans()):
        spec["description"] = draw(texts)
    return spec


@PROPERTIES
@given(spec=valid_specs(), revision=st.integers(min_value=1, max_value=10_000), version=st.integers(1, 2**31))
def test_it_accepts_any_valid_spec_and_compiles_it_to_a_document_the_schema_accepts(spec, revision, version):
    cleaned = validate_spec(spec)
    persona = unsaved_persona(cleaned["name"], revision=revision)
    document = compile_spec(cleaned, persona, version=version, key_version=revision)
    assert set(document) == TOP_LEVEL_KEYS
    assert document["apps"]["default"] == "block"
    assert [rule["id"] for rule in document["apps"]["rules"]] == [rule["id"] for rule in spec["apps"]]
    for rule in document["apps"]["rules"]:
        assert all(cert == cert.lower() for cert in rule["signing_cert_sha256"])


@PROPERTIES
@given(spec=valid_specs())
def test_validating_a_valid_spec_again_changes_nothing(spec):
    cleaned = validate_spec(spec)
    assert validate_spec(cleaned) == cleaned
    assert diff(cleaned, validate_spec(merge(spec, {}))) == []


@PROPERTIES
@given(spec=valid_specs())
def test_it_stores_any_valid_spec_and_compiles_the_stored_persona(actors, spec):
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    persona, _ = persona_update(persona=persona, spec=spec)
    stored = spec_of(persona)
    assert diff(validate_spec(spec), stored) == []
    document = compile_spec(stored, persona)
    assert document["persona"] == {"id": str(persona.pk), "name": persona.name, "revision": persona.revision}


# --- Tampered documents -------------------------------------------------------------------------


def _delete(*path):
    def tamper(document):
        *parents, last = path
        for key in parents:
            document = document[key]
        del document[last]

    return tamper


def _set(value, *path):
    def tamper(document):
        *parents, last = path
        for key in parents:
            document = document[key]
        document[last] = value

    return tamper


TAMPERINGS = {
    "missing-access": _delete("access"),
    "missing-schema": _delete("schema"),
    "missing-key-id": _delete("encryption", "key_id"),
    "missing-exemptions": _delete("data_sharing", "files", "exemptions"),
    "extra-top-level-key": _set({"block_after_days": 7}, "enforcement"),
    "extra-app-rule-key": _set(True, "apps", "rules", 0, "sideload"),
    "version-0": _set(0, "version"),
    "version-as-string": _set("1", "version"),
    "other-schema": _set("mdm-policy/2", "schema"),
    "default-allow": _set("allow", "apps", "default"),
    "bad-cipher": _set("AES-128-CBC", "encryption", "cipher"),
    "bad-decision": _set("maybe", "data_sharing", "files", "work_to_personal"),
    "bad-install-mode": _set("sideloaded", "apps", "rules", 0, "install"),
    "upper-case-cert": _set(["AB" * 32], "apps", "rules", 0, "signing_cert_sha256"),
    "bad-app-id": _set("not an app", "apps", "rules", 0, "id"),
    "bad-min-version": _set("3.x", "apps", "rules", 0, "min_version"),
    "unknown-platform": _set({"symbian": "9"}, "access", "min_os_version"),
    "persona-id-not-a-uuid": _set("42", "persona", "id"),
    "revision-0": _set(0, "persona", "revision"),
    "bool-as-string": _set("yes", "access", "block_compromised"),
    "negative-max-chars": _set(-1, "data_sharing", "clipboard", "max_chars"),
}


@pytest.fixture
def document() -> dict:
    spec = validate_spec(
        merge(preset_spec("byod-basic", name="Field staff"), {"apps": [{"id": "com.acme.mail", "min_version": "3"}]})
    )
    return compile_spec(spec)


def test_it_accepts_the_untampered_document(document):
    validate_policy(document)


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_it_refuses_a_tampered_document(document, tamper):
    tamper(document)
    with pytest.raises(PolicyInvalid, match=r"schema error\(s\); first at "):
        validate_policy(document)


def test_it_names_where_a_tampered_document_goes_wrong(document):
    document["data_sharing"]["files"]["work_to_personal"] = "maybe"
    with pytest.raises(PolicyInvalid, match="first at data_sharing/files/work_to_personal"):
        validate_policy(document)


# --- The schema ---------------------------------------------------------------------------------


def test_the_policy_schema_is_a_valid_draft_2020_12_schema():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == TOP_LEVEL_KEYS
    assert schema["additionalProperties"] is False


def test_it_serves_the_policy_schema_to_anyone_as_it_is_on_disk(db, client):
    response = client.get(SCHEMA_URL)
    assert response.status_code == 200
    assert response.json() == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
