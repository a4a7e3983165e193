"""/api/v1/devices/: the registry, scoped to the caller's organization."""

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
