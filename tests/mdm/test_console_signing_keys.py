"""The console's Signing keys page: devices pinning each key, and retiring a previous key."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from devices.models import Device
from mdm.models import AuditEvent, SigningKey
from mdm.signing import signing_key_current

URL = "/console/signing-keys/"


def rotate() -> tuple[str, str]:
    old = signing_key_current().kid
    call_command("rotate_signing_key")
    return old, signing_key_current().kid


def pins_shown(html: str) -> dict[str, int]:
    return {kid: int(n) for kid, n in re.findall(r'data-kid="([^"]+)">.*?<td class="pins">(\d+)</td>', html, re.S)}


def test_it_counts_the_devices_of_the_organization_pinning_each_key(client, actors, agent_factory):
    first, second = agent_factory(), agent_factory()
    agent_factory(organization=actors.other_org)  # another organization's device: never counted here
    old_kid, new_kid = rotate()
    first.checkin()  # rolls over
    agent_factory()  # enrolled after the rotation: pins the new key
    client.force_login(actors.admin)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert pins_shown(html) == {new_kid: 2, old_kid: 1}
    assert "Previous" in html and "Active" in html
    assert f'href="/console/signing-keys/{old_kid}/retire/"' in html
    assert f'href="/console/signing-keys/{new_kid}/retire/"' not in html  # the active key: rotate first
    second.checkin()
    assert pins_shown(client.get(URL).content.decode()) == {new_kid: 3, old_kid: 0}


def test_the_page_is_for_owners_and_admins_only(client, actors):
    assert client.get(URL).status_code == 302  # sign in first
    for user, status in [(actors.owner, 200), (actors.admin, 200), (actors.helpdesk, 403), (actors.auditor, 403)]:
        client.force_login(user)
        assert client.get(URL).status_code == status, user.email
        nav = client.get("/console/").content.decode()
        assert (f'href="{URL}"' in nav) is (status == 200)


def test_retiring_a_key_devices_still_pin_needs_the_typed_confirmation(client, actors, agent_factory):
    agent = agent_factory()
    old_kid, _ = rotate()
    client.force_login(actors.admin)
    page = client.get(f"{URL}{old_kid}/retire/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 device of your organization still pins this key" in html and "can no longer be reached" in html
    events = AuditEvent.objects.count()

    for typed in ("", "wrong", old_kid[:7]):
        refused = client.post(f"{URL}{old_kid}/retire/", {"confirm": typed})
        assert refused.status_code == 400
        assert SigningKey.objects.get(kid=old_kid).state == "previous"
    assert AuditEvent.objects.count() == events

    done = client.post(f"{URL}{old_kid}/retire/", {"confirm": old_kid[:8]})
    assert done.status_code == 302 and done["Location"] == URL
    key = SigningKey.objects.get(kid=old_kid)
    assert key.state == "retired" and key.wrapped_private_key is None
    mine = AuditEvent.objects.get(organization=actors.org, action="signing_key.retired")
    assert mine.actor_label == actors.admin.email
    assert mine.details == {"kid": old_kid, "devices_pinning": 1, "forced": True}
    theirs = AuditEvent.objects.get(organization=actors.other_org, action="signing_key.retired")
    assert theirs.actor_type == "system" and theirs.details["devices_pinning"] == 0
    # The device that pinned it is now reported as unreachable.
    assert "can no longer be reached" in client.get(URL).content.decode()
    assert Device.objects.get(pk=agent.identity["device_id"]).signing_kid == old_kid


def test_an_organization_cannot_retire_a_key_another_organizations_devices_still_pin(client, actors, agent_factory):
    agent_factory(organization=actors.other_org)
    old_kid, _ = rotate()
    client.force_login(actors.owner)
    refused = client.post(f"{URL}{old_kid}/retire/", {"confirm": old_kid[:8]})
    assert refused.status_code == 400
    assert "other organizations" in refused.content.decode()
    assert SigningKey.objects.get(kid=old_kid).state == "previous"
    assert not AuditEvent.objects.filter(action="signing_key.retired").exists()


@pytest.mark.parametrize("role", ["helpdesk", "auditor"])
def test_other_roles_cannot_retire(client, actors, role):
    old_kid, _ = rotate()
    client.force_login(getattr(actors, role))
    assert client.post(f"{URL}{old_kid}/retire/", {"confirm": old_kid[:8]}).status_code == 403
    assert SigningKey.objects.get(kid=old_kid).state == "previous"


def test_an_unknown_key_is_a_404(client, actors):
    client.force_login(actors.admin)
    assert client.get(f"{URL}{'A' * 43}/retire/").status_code == 404
