"""Console pages of the event destinations: owners and admins only, the organization's own, the
secret shown once, the delivery log and lag, replay, test send, enable, rotate, delete."""

from __future__ import annotations

import re

import pytest

from events.models import EventDestination, Replay
from events.services import event_destination_create
from mdm.actors import SYSTEM
from mdm.models import AuditEvent
from tests.events.helpers import deliver

URL = "/console/event-destinations/"


def test_an_admin_creates_a_webhook_and_sees_its_secret_once(client, actors, receiver):
    client.force_login(actors.admin)
    response = client.post(
        URL, {"name": "Splunk", "kind": "webhook", "url": receiver.url, "event_types": "audit., device."}
    )
    assert response.status_code == 200
    html = response.content.decode()
    secret = re.search(r'id="new-secret" readonly value="(whsec_[^"]+)"', html).group(1)
    destination = EventDestination.objects.get(organization=actors.org, name="Splunk")
    assert destination.event_types == ["audit.", "device."]
    assert secret not in client.get(URL).content.decode()
    assert secret not in client.get(f"{URL}{destination.pk}/").content.decode()
    assert AuditEvent.objects.filter(organization=actors.org, action="event_destination.created").exists()


def test_an_invalid_destination_is_shown_with_its_error_and_nothing_is_created(client, actors, settings):
    settings.MDM_EVENTS_ALLOW_PRIVATE_URLS = False
    client.force_login(actors.owner)
    response = client.post(URL, {"name": "x", "kind": "webhook", "url": "http://10.0.0.1/"})
    assert response.status_code == 400
    assert "private or local address" in response.content.decode()
    assert not EventDestination.objects.exists()


@pytest.mark.parametrize("who", ["helpdesk", "auditor"])
def test_other_roles_cannot_open_the_pages(client, actors, webhook, who):
    client.force_login(getattr(actors, who))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{webhook.pk}/").status_code == 403
    assert client.post(f"{URL}{webhook.pk}/delete/", {"confirm": "SIEM"}).status_code == 403
    assert EventDestination.objects.filter(pk=webhook.pk).exists()


def test_the_anonymous_are_sent_to_sign_in(client, webhook):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_another_organizations_destination_is_not_found(client, actors, receiver):
    other = event_destination_create(
        organization=actors.other_org, name="Globex", kind="webhook", config={"url": receiver.url}, actor=SYSTEM
    ).destination
    client.force_login(actors.owner)
    assert client.get(f"{URL}{other.pk}/").status_code == 404
    assert client.post(f"{URL}{other.pk}/delete/", {"confirm": "Globex"}).status_code == 404
    assert "Globex" not in client.get(URL).content.decode()
    assert EventDestination.objects.filter(pk=other.pk).exists()


def test_the_list_and_the_page_show_state_lag_and_the_delivery_log(client, actors, webhook, receiver):
    deliver(webhook)
    client.force_login(actors.owner)
    listing = client.get(URL).content.decode()
    assert "SIEM" in listing and '<span class="badge badge-ok">Active</span>' in listing
    page = client.get(f"{URL}{webhook.pk}/").content.decode()
    assert "delivered" in page and 'id="pending">0<' in page


def test_a_replay_from_the_page(client, actors, webhook, receiver):
    deliver(webhook)
    client.force_login(actors.owner)
    response = client.post(f"{URL}{webhook.pk}/replay/", {"from_at": "2020-01-01 00:00", "to_at": "2100-01-01 00:00"})
    assert response.status_code == 302
    assert Replay.objects.filter(destination=webhook).count() == 1
    bad = client.post(f"{URL}{webhook.pk}/replay/", {"from_at": "2026-01-02 00:00", "to_at": "2026-01-01 00:00"})
    assert bad.status_code == 400
    assert Replay.objects.filter(destination=webhook).count() == 1


def test_a_test_send_reaches_the_receiver_and_is_audited(client, actors, webhook, receiver):
    client.force_login(actors.owner)
    response = client.post(f"{URL}{webhook.pk}/test/", follow=True)
    assert "test event was delivered" in response.content.decode()
    assert [r.type for r in receiver.received] == ["destination.test"]
    event = AuditEvent.objects.get(organization=actors.org, action="event_destination.test_sent")
    assert event.details["ok"] is True
    receiver.stop()
    response = client.post(f"{URL}{webhook.pk}/test/", follow=True)
    assert "was not delivered" in response.content.decode()


def test_disable_rotate_and_delete_from_the_page(client, actors, webhook):
    client.force_login(actors.owner)
    client.post(f"{URL}{webhook.pk}/toggle/")
    assert EventDestination.objects.get(pk=webhook.pk).enabled is False
    rotated = client.post(f"{URL}{webhook.pk}/rotate-secret/").content.decode()
    assert 'id="new-secret" readonly value="whsec_' in rotated
    client.post(f"{URL}{webhook.pk}/delete/", {"confirm": "not its name"})
    assert EventDestination.objects.filter(pk=webhook.pk).exists()
    client.post(f"{URL}{webhook.pk}/delete/", {"confirm": "SIEM"})
    assert not EventDestination.objects.filter(pk=webhook.pk).exists()
    actions = set(AuditEvent.objects.filter(organization=actors.org).values_list("action", flat=True))
    assert {"event_destination.updated", "event_destination.secret_rotated", "event_destination.deleted"} <= actions
