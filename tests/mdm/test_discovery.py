"""mdm.lib.discovery: validation against the discovery document google-api-python-client ships."""

from __future__ import annotations

import pytest

from mdm.lib import discovery

DOC = discovery.document()


def test_the_document_is_the_shipped_android_management_v1():
    assert DOC["name"] == "androidmanagement" and DOC["version"] == "v1"
    assert "Policy" in DOC["schemas"]


def test_a_valid_policy_has_no_fault():
    policy = {
        "applications": [
            {"packageName": "com.example.mail", "installType": "FORCE_INSTALLED", "minimumVersionCode": 3}
        ],
        "passwordPolicies": [{"passwordScope": "SCOPE_PROFILE", "passwordMinimumLength": 6}],
        "screenCaptureDisabled": True,
        "statusReportingSettings": {"softwareInfoEnabled": True},
    }
    assert discovery.validate(DOC, "Policy", policy, strict=True) == []


@pytest.mark.parametrize(
    ("policy", "fault"),
    [
        ({"bogus": 1}, "bogus: unknown field of Policy"),
        ({"applications": [{"installType": "SOMETIMES"}]}, "applications[0].installType: 'SOMETIMES' is not one of"),
        ({"applications": {"packageName": "x"}}, "applications: expected an array"),
        ({"minimumApiLevel": "33"}, "minimumApiLevel: expected an integer, got a string"),
        ({"minimumApiLevel": 2**40}, "out of the int32 range"),
        ({"minimumApiLevel": True}, "expected an integer, got a boolean"),
        ({"screenCaptureDisabled": "yes"}, "expected a boolean"),
        (
            {"applications": [{"managedConfiguration": {"any": ["thing"]}, "packageName": 3}]},
            "packageName: expected a string",
        ),
        ({"systemUpdate": {"freezePeriods": [{"startDate": {"month": "x"}}]}}, "month: expected an integer"),
    ],
)
def test_each_fault_is_named_by_its_path(policy, fault):
    faults = discovery.validate(DOC, "Policy", policy)
    assert any(fault in f for f in faults), faults


def test_strict_refuses_read_only_and_deprecated_fields_that_lenient_accepts():
    deprecated = next(
        name
        for name, prop in DOC["schemas"]["Policy"]["properties"].items()
        if prop.get("deprecated") and prop.get("type") == "boolean"
    )
    # `Policy.version` is only said to be read-only; `DpcMigrationInfo.previousDpc` is marked readOnly.
    for schema, body in (
        ("Policy", {"version": "3", deprecated: True}),
        ("DpcMigrationInfo", {"previousDpc": "com.example.dpc"}),
    ):
        lenient = discovery.validate(DOC, schema, body)
        strict = discovery.validate(DOC, schema, body, strict=True)
        assert not any("read-only" in f or "deprecated" in f for f in lenient), lenient
        assert any("read-only" in f for f in strict), strict
    assert any("deprecated" in f for f in discovery.validate(DOC, "Policy", {deprecated: True}, strict=True))


def test_int64_fields_are_strings_strictly_and_numbers_leniently():
    assert discovery.validate(DOC, "Policy", {"version": "12"}) == []
    assert discovery.validate(DOC, "Policy", {"version": 12}) == []
    assert discovery.validate(DOC, "Policy", {"version": "twelve"}) != []


def test_parameters_are_checked_against_the_method():
    method = "androidmanagement.enterprises.policies.patch"
    assert discovery.validate_parameters(DOC, method, {"name": ["enterprises/E/policies/p"]}) == []
    assert (
        "foo: unknown parameter"
        in discovery.validate_parameters(DOC, method, {"name": ["enterprises/E/policies/p"], "foo": ["1"]})[0]
    )
    assert any("required" in f for f in discovery.validate_parameters(DOC, method, {}))
    assert any("does not match" in f for f in discovery.validate_parameters(DOC, method, {"name": ["policies/p"]}))
    assert discovery.request_schema(DOC, method) == "Policy"
    assert discovery.request_schema(DOC, "androidmanagement.enterprises.devices.get") is None


def test_an_unknown_schema_or_method_is_a_bug_not_a_fault():
    with pytest.raises(discovery.DiscoveryError):
        discovery.validate(DOC, "Nope", {})
    with pytest.raises(discovery.DiscoveryError):
        discovery.method(DOC, "androidmanagement.nope")
