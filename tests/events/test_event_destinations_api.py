"""Admin API /api/v1/event-destinations/: owners and admins only, scoped to the organization,
bad input a clear 4xx with field paths and nothing changed, every change audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import DeliveryAttempt, EventDestination, Replay
from events.services import destination_secret, event_destination_create
from mdm.actors import SYSTEM
from mdm.models import AuditEvent, OutboxEvent
from mdm.outbox import outbox_emit
from tests.events.helpers import deliver, fresh

URL = "/api/v1/event-destinations/"
PROBLEM = "application/problem+json"
GOOD = {"url": "https://siem.example.com/hook"}


def body(receiver, **extra):
    return {"name": "Splunk", "kind": "webhook", "config": {"url": receiver.url}, **extra}


def audited(actors, action: str) -> int:
    return AuditEvent.objects.filter(organization=actors.org, action=action).count()


@pytest.fixture
def other_destination(actors, receiver) -> EventDestination:
    return event_destination_create(
        organization=actors.other_org, name="Globex SIEM", kind="webhook", config={"url": receiver.url}, actor=SYSTEM
    ).destination


def test_an_owner_creates_a_webhook_and_sees_its_secret_once(actors, receiver):
    api = actors.api(actors.owner)
    response = api.post(URL, body(receiver, event_types=["audit.", "device.compliance_changed"]), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["secret"].startswith("whsec_")
    destination = EventDestination.objects.get(pk=data["id"])
    assert destination.organization == actors.org
    assert destination_secret(destination) == data["secret"]
    assert data["secret"].encode() not in bytes(destination.wrapped_secret)
    assert data["state"] == "active" and data["enabled"] is True and data["pending"] == 1
    # The query of the URL may carry a receiver's token: never shown after the create answer.
    assert data["config"] == {"url": receiver.url.split("?")[0]}
    shown = api.get(f"{URL}{destination.pk}/").json()
    assert "secret" not in shown
    listed = api.get(URL).json()["results"]
    assert [d["id"] for d in listed] == [str(destination.pk)] and "secret" not in listed[0]
    event = AuditEvent.objects.get(organization=actors.org, action="event_destination.created")
    assert data["secret"] not in str(event.details)
    assert event.details["config"] == {"url": receiver.url.split("?")[0]}


def test_an_admin_may_manage_destinations(actors, receiver):
    assert actors.api(actors.admin).post(URL, body(receiver), format="json").status_code == 201


@pytest.mark.parametrize("who", ["helpdesk", "auditor"])
def test_other_roles_are_refused(actors, receiver, who):
    api = actors.api(getattr(actors, who))
    assert api.get(URL).status_code == 403
    assert api.post(URL, body(receiver), format="json").status_code == 403
    assert not EventDestination.objects.exists()


def test_an_anonymous_caller_is_refused(actors, receiver):
    response = actors.api(None).post(URL, body(receiver), format="json")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_another_organizations_destination_is_not_found(actors, other_destination):
    api = actors.api(actors.owner)
    base = f"{URL}{other_destination.pk}/"
    assert api.get(base).status_code == 404
    assert api.patch(base, {"name": "mine"}, format="json").status_code == 404
    assert api.delete(base).status_code == 404
    assert (
        api.post(
            base + "replay/", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}, format="json"
        ).status_code
        == 404
    )
    assert api.get(base + "deliveries/").status_code == 404
    assert api.post(base + "rotate-secret/", {}, format="json").status_code == 404
    assert api.get(URL).json()["results"] == []
    other_destination.refresh_from_db()
    assert other_destination.name == "Globex SIEM"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "", "kind": "webhook", "config": {"url": "https://siem.example.com/"}}, "name"),
        ({"name": "x", "kind": "carrier-pigeon", "config": {}}, "kind"),
        ({"name": "x", "kind": "webhook", "config": "https://siem.example.com/"}, "config"),
        ({"name": "x", "kind": "webhook", "config": {}}, "config.url"),
        ({"name": "x", "kind": "webhook", "config": {"url": "gopher://siem.example.com/"}}, "config.url"),
        ({"name": "x", "kind": "webhook", "config": {"url": "https://s.example.com/", "token": "t"}}, "config.token"),
        ({"name": "x", "kind": "webhook", "config": GOOD, "event_types": "audit."}, "event_types"),
        ({"name": "x", "kind": "webhook", "config": GOOD, "event_types": ["nope"]}, "event_types[0]"),
        ({"name": "x", "kind": "webhook", "config": GOOD, "enabled": "yes"}, "enabled"),
        ({"name": "x", "kind": "webhook", "config": GOOD, "secret": "whsec_x"}, "secret"),
    ],
)  # fmt: skip
def test_invalid_input_is_a_400_naming_the_field_and_changes_nothing(actors, payload, field):
    api = actors.api(actors.owner)
    before = AuditEvent.objects.count()
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"]
    assert not EventDestination.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_private_url_is_refused_unless_allowed(actors, settings):
    settings.MDM_EVENTS_ALLOW_PRIVATE_URLS = False
    payload = {"name": "x", "kind": "webhook", "config": {"url": "http://192.168.1.10/hook"}}
    response = actors.api(actors.owner).post(URL, payload, format="json")
    assert response.status_code == 400 and "config.url" in response.json()["errors"]


def test_a_duplicate_name_is_a_409(actors, receiver):
    api = actors.api(actors.owner)
    assert api.post(URL, body(receiver), format="json").status_code == 201
    response = api.post(URL, body(receiver, name="splunk"), format="json")
    assert response.status_code == 409 and "name" in response.json()["errors"]
    assert EventDestination.objects.count() == 1


def test_patch_changes_the_given_fields_and_is_audited(actors, webhook, receiver):
    api = actors.api(actors.admin)
    EventDestination.objects.filter(pk=webhook.pk).update(
        attempts=4, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    response = api.patch(
        f"{URL}{webhook.pk}/", {"config": {"url": receiver.url + "&v=2"}, "event_types": ["device."]}, format="json"
    )
    assert response.status_code == 200, response.content
    webhook.refresh_from_db()
    assert webhook.config["url"].endswith("&v=2") and webhook.event_types == ["device."]
    # A fixed configuration is tried at once.
    assert webhook.attempts == 0 and webhook.next_attempt_at is None
    event = AuditEvent.objects.filter(organization=actors.org, action="event_destination.updated").latest("seq")
    assert event.details["changed"] == ["config", "event_types"]


def test_patch_refuses_unknown_and_invalid_fields_and_changes_nothing(actors, webhook):
    api = actors.api(actors.owner)
    before = audited(actors, "event_destination.updated")
    for payload, field in [
        ({"kind": "syslog"}, "kind"),
        ({"cursor": 0}, "cursor"),
        ({"config": {"url": "ftp://x.example.com/"}}, "config.url"),
        ({"enabled": 1}, "enabled"),
    ]:
        response = api.patch(f"{URL}{webhook.pk}/", payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json()["errors"], response.json()
    assert EventDestination.objects.get(pk=webhook.pk).config == webhook.config
    assert audited(actors, "event_destination.updated") == before


def test_delete_removes_the_destination_and_is_audited(actors, webhook):
    api = actors.api(actors.owner)
    assert api.delete(f"{URL}{webhook.pk}/").status_code == 204
    assert not EventDestination.objects.filter(pk=webhook.pk).exists()
    assert audited(actors, "event_destination.deleted") == 1
    assert api.get(f"{URL}{webhook.pk}/").status_code == 404


def test_replay_starts_a_replay_of_the_range(actors, webhook, receiver):
    api = actors.api(actors.owner)
    deliver(webhook)
    now = timezone.now()
    # Every event of the organization in the range that the destination has passed: its history
    # from before it was created included.
    expected = OutboxEvent.objects.filter(
        organization=actors.org, created_at__gte=now - timedelta(hours=1), seq__lte=fresh(webhook).cursor
    ).count()
    response = api.post(
        f"{URL}{webhook.pk}/replay/",
        {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(minutes=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["total"] == expected > 1 and response.json()["state"] == "running"
    assert audited(actors, "event_destination.replay_requested") == 1
    receiver.received.clear()
    deliver(webhook)
    assert Replay.objects.get(pk=response.json()["id"]).sent == expected
    assert receiver.received[0].type == "audit.event_destination.replay_requested"
    assert receiver.received[1].type == "audit.organization.created"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "from"),
        ({"from": "yesterday", "to": "2026-01-02T00:00:00Z"}, "from"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "limit": 3}, "limit"),
    ],
)
def test_an_invalid_replay_is_a_400_and_starts_nothing(actors, webhook, payload, field):
    response = actors.api(actors.owner).post(f"{URL}{webhook.pk}/replay/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Replay.objects.exists()


def test_deliveries_list_the_log_newest_first(actors, webhook, receiver):
    deliver(webhook)
    receiver.stop()
    outbox_emit(organization_id=actors.org.pk, type="device.command_result", data={})
    deliver(webhook)
    response = actors.api(actors.admin).get(f"{URL}{webhook.pk}/deliveries/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["ok"] for r in rows] == [False, True]
    assert rows[0]["error"] and rows[1]["events"] == 1
    assert DeliveryAttempt.objects.count() == 2


def test_rotate_secret_gives_a_new_secret_once(actors, webhook, receiver):
    old = destination_secret(webhook)
    response = actors.api(actors.owner).post(f"{URL}{webhook.pk}/rotate-secret/", {}, format="json")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    webhook.refresh_from_db()
    assert destination_secret(webhook) == new
    assert audited(actors, "event_destination.secret_rotated") == 1
    # The receiver still on the old secret rejects; given the new one, it accepts.
    deliver(webhook)
    assert receiver.rejected
    receiver.secret = new
    deliver(webhook)
    assert receiver.received


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "nul\u0000here"},
        {"name": "a\ud800"},
        {"config": {"url": "https://siem.example.com/\u0000"}},
        {"event_types": ["audit.\u0000"]},
    ],
)
def test_text_the_database_cannot_store_is_a_400_not_a_500(actors, receiver, payload):
    api = actors.api(actors.owner)
    # Sent as the escapes a client sends (\u0000, \ud800), which JSON allows and PostgreSQL refuses.
    response = api.post(URL, json.dumps({**body(receiver), **payload}), content_type="application/json")
    assert response.status_code == 400, response.content
    assert not EventDestination.objects.filter(organization=actors.org).exists()


def test_a_replay_of_an_impossible_date_is_a_400(actors, webhook):
    response = actors.api(actors.owner).post(
        f"{URL}{webhook.pk}/replay/", {"from": "2026-13-45T00:00:00Z", "to": "2026-01-02T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400 and "from" in response.json()["errors"]
    assert not Replay.objects.exists()
