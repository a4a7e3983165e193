"""The privacy page of a device managed through Google's Android Management API: what of its
persona Android does not apply, in plain words."""

import html
import os
import re

import pytest

from devices.models import Device
from mdm.actors import SYSTEM
from mdm.services import membership_add
from personas.android import compile_android_policy
from personas.services import persona_create, spec_of

NOT_APPLIED = "These rules of your work profile are not applied on Android:"


@pytest.fixture
def employee(actors):
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
    return actors.employee


@pytest.fixture
def persona(actors):
    changes = {
        "apps": [{"id": "com.acme.mail", "min_version": "3.1"}],
        "data_sharing": {
            "clipboard": {"work_to_personal": "deny", "personal_to_work": "deny", "max_chars": 200},
            "screen_capture": {
                "work_to_personal": "deny",
                "personal_to_work": "allow",
                "exemptions": {"work_to_personal": ["com.acme.mail"], "personal_to_work": []},
            },
        },
    }
    return persona_create(organization=actors.org, name="Field", preset="byod-basic", changes=changes, actor=SYSTEM)


def make_device(actors, owner, persona, channel: str) -> Device:
    return Device.objects.create(
        organization=actors.org,
        name="Pixel 9",
        owner=owner,
        ownership="personal",
        platform="android",
        channel=channel,
        os_version="15",
        signing_public_key=os.urandom(32),
        encryption_public_key=os.urandom(32),
        persona=persona,
    )


def page_of(client, device: Device) -> str:
    response = client.get(f"/portal/devices/{device.pk}/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_an_android_device_lists_the_rules_android_does_not_apply(client, actors, employee, persona):
    device = make_device(actors, employee, persona, channel="android")
    client.force_login(employee)
    page = page_of(client, device)
    assert NOT_APPLIED in page
    for item in compile_android_policy(spec_of(persona)).unenforced:
        assert item.message in page, item.path
    # The rule in plain words, then why.
    text = re.sub(r"<[^>]+>", "", page)
    assert "You cannot paste from personal apps into work apps. Android always lets personal text be pasted" in text
    assert "com.acme.mail must be version 3.1 or later." in page
    assert "The work profile's key is renewed every 90 days." in page


def test_an_android_device_does_not_claim_what_android_does_not_apply(client, actors, employee, persona):
    device = make_device(actors, employee, persona, channel="android")
    client.force_login(employee)
    sharing = page_of(client, device).split("Between work and personal, on this device")[1].split(NOT_APPLIED)[0]
    assert "You cannot copy from work apps into personal apps." in sharing  # Android applies this one
    assert "You cannot paste from personal apps into work apps" not in sharing
    assert "Screenshots of work apps cannot be taken." in sharing  # for every app: no exception on Android
    assert "except for com.acme.mail" not in sharing
    assert "your organization removes its work profile" in page_of(client, device)


def test_an_agent_device_lists_nothing_of_android(client, actors, employee, persona):
    device = make_device(actors, employee, persona, channel="agent")
    client.force_login(employee)
    page = page_of(client, device)
    assert NOT_APPLIED not in page and "Your organization can see" in page


def test_another_employees_android_device_is_not_found(client, actors, employee, persona):
    device = make_device(actors, actors.admin, persona, channel="android")
    client.force_login(employee)
    assert client.get(f"/portal/devices/{device.pk}/").status_code == 404
