"""Console pages about devices: who sees what, who can do what, and the wipe's confirmation."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.choices import ContainerState, DeviceState
from devices.models import Device, Wipe
from tests.devices.test_device_selectors import make_device


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def device(agent_factory):
    agent = agent_factory()
    agent.checkin()
    return Device.objects.get(pk=agent.identity["device_id"])


@pytest.mark.parametrize("who", ["owner", "admin", "helpdesk", "auditor"])
def test_every_console_role_sees_the_dashboard_and_the_registry(client, actors, device, who):
    login(client, getattr(actors, who))
    dashboard = client.get("/console/").content.decode()
    assert "enrolled devices" in dashboard and "<svg" in dashboard
    listing = client.get("/console/devices/").content.decode()
    assert device.name in listing
    assert client.get(f"/console/devices/{device.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("who", "lock_button", "wipe_button"),
    [("owner", True, True), ("admin", True, True), ("helpdesk", True, False), ("auditor", False, False)],
)
def test_buttons_follow_the_roles_and_the_server_refuses_anyway(client, actors, device, who, lock_button, wipe_button):
    login(client, getattr(actors, who))
    page = client.get(f"/console/devices/{device.pk}/").content.decode()
    assert ("Lock work profile" in page) == lock_button
    assert ("Wipe work profile" in page) == wipe_button
    lock = client.post(f"/console/devices/{device.pk}/lock/")
    assert lock.status_code == (302 if lock_button else 403)
    wipe = client.post(f"/console/devices/{device.pk}/wipe/", {"device_name": device.name, "reason": "test"})
    assert wipe.status_code == (302 if wipe_button else 403)
    assert Wipe.objects.exists() == wipe_button


def test_another_organizations_device_is_404(client, actors, device):
    login(client, actors.outsider)
    for url in ("", "wipe/", "wipe-status/"):
        assert client.get(f"/console/devices/{device.pk}/{url}").status_code == 404
    assert client.post(f"/console/devices/{device.pk}/lock/").status_code == 404
    assert device.name not in client.get("/console/devices/").content.decode()


def test_an_employee_without_a_role_gets_no_console(client, actors, device):
    login(client, actors.employee)
    assert client.get("/console/devices/").status_code == 403
    assert client.get(f"/console/devices/{device.pk}/").status_code == 403


def test_the_wipe_confirmation_says_what_goes_and_wants_the_name_and_a_reason(client, actors, device):
    login(client, actors.admin)
    page = client.get(f"/console/devices/{device.pk}/wipe/").content.decode()
    assert "What will be erased" in page and "What will not be touched" in page and "personal" in page
    wrong = client.post(f"/console/devices/{device.pk}/wipe/", {"device_name": "another phone", "reason": "lost"})
    assert wrong.status_code == 200 and "nothing was wiped" in wrong.content.decode()
    no_reason = client.post(f"/console/devices/{device.pk}/wipe/", {"device_name": device.name, "reason": " "})
    assert no_reason.status_code == 200
    assert not Wipe.objects.exists()
    done = client.post(
        f"/console/devices/{device.pk}/wipe/", {"device_name": device.name, "reason": "lost"}, follow=True
    )
    html = done.content.decode()
    assert "Corporate wipe sent" in html and 'hx-trigger="every 2s"' in html
    assert Wipe.objects.get().state == "pending"
    status = client.get(f"/console/devices/{device.pk}/wipe-status/").content.decode()
    assert "Pending" in status


def test_filters_and_search(client, actors, agent_factory):
    first, second = agent_factory(), agent_factory(ownership="corporate")
    login(client, actors.auditor)
    html = client.get("/console/devices/?ownership=corporate").content.decode()
    second_name = Device.objects.get(pk=second.identity["device_id"]).name
    first_name = Device.objects.get(pk=first.identity["device_id"]).name
    assert second_name in html and first_name not in html
    assert "1 device" in html


def test_the_device_list_costs_the_same_queries_for_2_or_60_devices(client, actors, agent_factory,
                                                                       django_assert_num_queries):  # fmt: skip
    agent_factory()
    agent_factory()
    login(client, actors.auditor)
    client.get("/console/devices/")
    with CaptureQueriesContext(connection) as few:
        client.get("/console/devices/")
    device = Device.objects.first()
    Device.objects.bulk_create(
        Device(organization=actors.org, name=f"d{n}", ownership="personal", platform="ios", owner=actors.employee,
               persona=device.persona, signing_public_key=bytes([n + 1]) * 32, encryption_public_key=b"e" * 32)
        for n in range(58)
    )  # fmt: skip
    for url in ("/console/devices/", "/console/devices/?page=2"):
        with django_assert_num_queries(len(few)):
            response = client.get(url)
    assert "Page 2 of 2" in response.content.decode() and "Previous" in response.content.decode()


def test_pages_carry_a_strict_content_security_policy(client, actors, device):
    login(client, actors.owner)
    response = client.get(f"/console/devices/{device.pk}/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert "<script src=" in response.content.decode() and "<script>" not in response.content.decode()


def test_the_dashboard_costs_the_same_queries_for_an_empty_or_a_busy_organization(
    client, actors, django_assert_num_queries
):
    login(client, actors.owner)
    client.get("/console/")
    with CaptureQueriesContext(connection) as empty:
        client.get("/console/")
    for n in range(30):
        make_device(actors.org, compliant=n % 3 == 0, container_state=ContainerState.ACTIVE, silent=n % 5 == 0)
        make_device(actors.org, state=DeviceState.RETIRED)
    with django_assert_num_queries(len(empty)):
        html = client.get("/console/").content.decode()
    assert '<span class="num">30</span> enrolled devices' in html
    assert '<span class="num">20</span> not compliant' in html
    assert '<span class="num">6</span> silent too long' in html
    assert "No devices are enrolled yet." not in html


@pytest.mark.parametrize(
    ("state", "polls"),
    [(Wipe.State.HELD, True), (Wipe.State.PENDING, True), (Wipe.State.DONE, False), (Wipe.State.CANCELLED, False)],
)
def test_the_wipe_box_polls_while_the_wipe_is_open(client, actors, state, polls):
    device = make_device(actors.org)
    Wipe.objects.create(organization=actors.org, device=device, state=state, reason="lost", requested_by="x")
    login(client, actors.auditor)
    for url in (f"/console/devices/{device.pk}/", f"/console/devices/{device.pk}/wipe-status/"):
        assert ('hx-trigger="every 2s"' in client.get(url).content.decode()) == polls, url
