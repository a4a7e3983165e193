"""/api/v1/devices/: the registry, scoped to the caller's organization."""

import pytest

from devices.choices import ContainerState
from devices.models import Device


def test_the_registry_lists_and_filters_devices(actors, agent_factory):
    first = agent_factory()
    second = agent_factory(ownership="corporate")
    second.state.update_identity(compliance={"passcode_compliant": False, "compromised": False})
    second.checkin()
    api = actors.api(actors.auditor)
    rows = api.get("/api/v1/devices/").json()["results"]
    assert {row["id"] for row in rows} == {first.identity["device_id"], second.identity["device_id"]}
    by = {
        "ownership=corporate": {second.identity["device_id"]},
        "compliant=false": {second.identity["device_id"]},
        "container_state=pending": {first.identity["device_id"]},
        "state=retired": set(),
        "q=pixel": set(),
        "q=reference": {first.identity["device_id"], second.identity["device_id"]},
    }
    for query, expected in by.items():
        assert {row["id"] for row in api.get(f"/api/v1/devices/?{query}").json()["results"]} == expected, query
    assert api.get("/api/v1/devices/?state=gone").status_code == 400
    assert api.get("/api/v1/devices/?persona=nope").status_code == 400


def test_another_organizations_device_is_404(actors, agent_factory):
    agent = agent_factory()
    device_id = agent.identity["device_id"]
    assert actors.api(actors.helpdesk).get(f"/api/v1/devices/{device_id}/").status_code == 200
    assert actors.api(actors.outsider).get(f"/api/v1/devices/{device_id}/").status_code == 404
    assert actors.api(actors.outsider).get("/api/v1/devices/").json()["results"] == []


def test_the_device_list_costs_the_same_queries_for_1_or_20_devices(actors, agent_factory, django_assert_num_queries):
    agent_factory()
    api = actors.api(actors.auditor)
    api.get("/api/v1/devices/")  # warm the token's last-used write
    # token lookup, membership, count, page (the token's last-used write is once a minute)
    with django_assert_num_queries(4) as one:
        api.get("/api/v1/devices/")
    device = Device.objects.first()
    for n in range(19):
        Device.objects.create(
            organization=actors.org, name=f"d{n}", ownership="personal", platform="ios",
            signing_public_key=bytes([n + 1]) * 32, encryption_public_key=b"e" * 32, owner=device.owner,
        )  # fmt: skip
    with django_assert_num_queries(len(one.captured_queries)):
        api.get("/api/v1/devices/")


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("state=active&state=retired", {"state": ["Given more than once."]}),
        ("compliant=", {"compliant": ["Give a value, or leave the parameter out."]}),
        ("compliant=yes", {"compliant": ["true or false."]}),
        ("persona=nope", {"persona": ["An id (UUID)."]}),
        ("platform=symbian", {"platform": ["One of: android, ios, windows, macos, linux."]}),
        ("q=" + "x" * 201, {"q": ["At most 200 characters."]}),
        ("owner=a&owner=b&container_state=gone",
         {"owner": ["Given more than once."], "container_state": [f"One of: {', '.join(ContainerState.values)}."]}),
    ],
)  # fmt: skip
def test_a_bad_filter_is_a_400_problem_naming_each_parameter_at_fault(actors, query, errors):
    response = actors.api(actors.auditor).get(f"/api/v1/devices/?{query}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"] == errors


def test_an_empty_search_and_unknown_parameters_filter_nothing(actors, agent_factory):
    agent = agent_factory()
    api = actors.api(actors.auditor)
    for query in ("q=", "q=%20%20", "owner=", "colour=red"):
        rows = api.get(f"/api/v1/devices/?{query}").json()["results"]
        assert [row["id"] for row in rows] == [agent.identity["device_id"]], query
