"""devices.selectors: the reads the console and the admin API share, each scoped to one organization."""

from __future__ import annotations

import itertools

import pytest

from devices.choices import ContainerState, DeviceState, Ownership, Platform
from devices.models import Device, Push, Wipe
from devices.selectors import (
    DeviceFilter,
    active_devices_of_employee,
    dashboard_summary,
    device_list,
    persona_device_counts,
    wipe_list,
    wipes_held,
    wipes_not_held,
)
from mdm.models import Organization
from personas.models import Persona

_keys = itertools.count(1)


def make_device(org: Organization, **fields) -> Device:
    """A device row as an enrollment leaves it, with `fields` as the device later reported them."""
    n = next(_keys)
    values = {"name": f"phone {n}", "ownership": Ownership.PERSONAL, "platform": Platform.ANDROID, **fields}
    return Device.objects.create(
        organization=org, signing_public_key=n.to_bytes(32, "big"), encryption_public_key=b"e" * 32, **values
    )


def default_persona(org: Organization) -> Persona:
    return Persona.objects.get(organization=org, is_default=True)


def ids(devices) -> set:
    return {device.pk for device in devices}


def test_the_device_list_narrows_by_each_filter_and_never_leaves_the_organization(actors):
    persona = default_persona(actors.org)
    pixel = make_device(actors.org, name="Pixel 8", model="GKWS6", owner=actors.employee, persona=persona,
                        compliant=False, container_state=ContainerState.ACTIVE)  # fmt: skip
    ipad = make_device(actors.org, name="Sales iPad", model="iPad Air", platform=Platform.IOS,
                       ownership=Ownership.CORPORATE, compliant=True)  # fmt: skip
    retired = make_device(actors.org, name="Old phone", state=DeviceState.RETIRED)
    # The same facts in another organization: never listed.
    make_device(actors.other_org, name="Pixel 8", model="GKWS6", owner=actors.employee, compliant=False,
                persona=default_persona(actors.other_org), container_state=ContainerState.ACTIVE)  # fmt: skip

    def listed(**criteria) -> set:
        return ids(device_list(organization_id=actors.org.pk, filters=DeviceFilter(**criteria)))

    assert listed() == {pixel.pk, ipad.pk, retired.pk}
    assert listed(state=DeviceState.RETIRED) == {retired.pk}
    assert listed(container_state=ContainerState.ACTIVE) == {pixel.pk}
    assert listed(compliant=False) == {pixel.pk}
    assert listed(compliant=True) == {ipad.pk}
    assert listed(persona=persona.pk) == {pixel.pk}
    assert listed(persona=default_persona(actors.other_org).pk) == set()
    assert listed(owner=actors.employee.email.upper()) == {pixel.pk}
    assert listed(platform=Platform.IOS) == {ipad.pk}
    assert listed(ownership=Ownership.CORPORATE) == {ipad.pk}
    assert listed(q="ipad") == {ipad.pk}  # the name and the model
    assert listed(q="gkws") == {pixel.pk}
    assert listed(q="pixel", compliant=True) == set()


def test_the_device_list_is_newest_enrollment_first_with_owner_and_persona_in_the_same_query(
    actors, django_assert_num_queries
):
    persona = default_persona(actors.org)
    first = make_device(actors.org, owner=actors.employee, persona=persona)
    second = make_device(actors.org, owner=actors.employee, persona=persona)
    with django_assert_num_queries(1):
        rows = list(device_list(organization_id=actors.org.pk))
        assert [row.pk for row in rows] == [second.pk, first.pk]
        assert [(row.owner.email, row.persona.name) for row in rows] == [(actors.employee.email, persona.name)] * 2


def test_persona_device_counts_count_active_devices_of_the_organization(actors):
    persona = default_persona(actors.org)
    make_device(actors.org, persona=persona)
    make_device(actors.org, persona=persona)
    make_device(actors.org, persona=persona, state=DeviceState.RETIRED)
    make_device(actors.org)
    make_device(actors.other_org, persona=default_persona(actors.other_org))
    assert persona_device_counts(organization_id=actors.org.pk) == {persona.pk: 2}


def test_active_devices_of_employee_are_theirs_active_and_in_the_organization(actors):
    mine = make_device(actors.org, owner=actors.employee)
    make_device(actors.org, owner=actors.employee, state=DeviceState.RETIRED)
    make_device(actors.org, owner=actors.auditor)
    make_device(actors.other_org, owner=actors.employee)
    found = active_devices_of_employee(organization_id=actors.org.pk, email=actors.employee.email.upper())
    assert ids(found) == {mine.pk}


def test_the_wipe_lists_split_held_from_the_rest_within_the_organization(actors):
    def wipe(org, state) -> Wipe:
        return Wipe.objects.create(organization=org, device=make_device(org), state=state, reason="r", requested_by="x")

    held_first, held_second = wipe(actors.org, Wipe.State.HELD), wipe(actors.org, Wipe.State.HELD)
    pending, done = wipe(actors.org, Wipe.State.PENDING), wipe(actors.org, Wipe.State.DONE)
    wipe(actors.other_org, Wipe.State.HELD)
    assert [w.pk for w in wipes_held(organization_id=actors.org.pk)] == [held_first.pk, held_second.pk]
    assert [w.pk for w in wipes_not_held(organization_id=actors.org.pk)] == [done.pk, pending.pk]
    assert [w.pk for w in wipe_list(organization_id=actors.org.pk, state=Wipe.State.PENDING)] == [pending.pk]
    assert len(wipe_list(organization_id=actors.org.pk)) == 4


def test_the_dashboard_summary_counts_the_organization_in_three_queries(actors, django_assert_num_queries):
    org, persona = actors.org, default_persona(actors.org)
    make_device(org, compliant=True, container_state=ContainerState.ACTIVE)
    make_device(org, compliant=True, container_state=ContainerState.LOCKED, silent=True)
    noncompliant = make_device(org, compliant=False, container_state=ContainerState.ACTIVE)
    make_device(org)  # pending, compliance not reported yet
    # Retired devices count as retired, and in nothing that describes the active fleet.
    make_device(org, state=DeviceState.RETIRED, compliant=False, silent=True, container_state=ContainerState.WIPED)
    Wipe.objects.create(organization=org, device=noncompliant, state=Wipe.State.PENDING, reason="r", requested_by="x")
    Wipe.objects.create(organization=org, device=make_device(org), state=Wipe.State.HELD, reason="r", requested_by="x")
    Push.objects.create(organization=org, persona=persona, persona_revision=1, state=Push.State.RUNNING)
    Push.objects.create(organization=org, persona=persona, persona_revision=2, state=Push.State.DONE)
    # Another organization's fleet changes nothing.
    other_org = actors.other_org
    other = make_device(other_org, compliant=False, silent=True)
    Wipe.objects.create(organization=other_org, device=other, state=Wipe.State.HELD, reason="r", requested_by="x")
    Push.objects.create(organization=other_org, persona=default_persona(other_org), persona_revision=1)

    with django_assert_num_queries(3):
        summary = dashboard_summary(organization_id=org.pk)

    assert summary.devices_by_state == {DeviceState.ACTIVE: 5, DeviceState.RETIRED: 1}
    assert (summary.active_devices, summary.retired_devices, summary.has_devices) == (5, 1, True)
    assert summary.work_profiles_by_state == {
        ContainerState.PENDING: 2,
        ContainerState.ACTIVE: 2,
        ContainerState.LOCKED: 1,
        ContainerState.WIPE_PENDING: 0,
        ContainerState.WIPED: 0,
    }
    assert list(summary.work_profiles_by_state) == list(ContainerState)  # the chart's order
    assert (summary.compliant, summary.not_compliant, summary.compliance_unknown) == (2, 1, 2)
    assert summary.silent == 1
    assert (summary.pushes_in_flight, summary.wipes_pending, summary.wipes_held) == (1, 1, 1)


def test_an_organization_without_devices_has_an_empty_summary(actors):
    summary = dashboard_summary(organization_id=actors.org.pk)
    assert not summary.has_devices
    assert set(summary.devices_by_state.values()) == set(summary.work_profiles_by_state.values()) == {0}


@pytest.mark.parametrize("state", list(DeviceState))
def test_every_device_state_has_a_count_even_when_zero(actors, state):
    make_device(actors.org, state=state)
    summary = dashboard_summary(organization_id=actors.org.pk)
    assert summary.devices_by_state == {s: int(s == state) for s in DeviceState}
