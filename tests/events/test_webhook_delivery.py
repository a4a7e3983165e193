"""Webhook delivery against a real receiver that verifies the Standard Webhooks signatures:
in order, exactly once by id when the receiver comes back, with backoff, the failing state after
a day, replays, type filters and the SSRF guard."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from events.choices import DestinationState, ReplayState
from events.delivery import backoff_seconds, destination_deliver, destinations_dispatch, events_prune
from events.models import DeliveryAttempt, EventDestination
from events.selectors import destination_lag
from events.services import event_destination_create, event_destination_replay
from events.transports import TransportError
from events.transports.webhook import WebhookTransport, webhook_config_clean
from mdm.actors import SYSTEM
from mdm.audit import audit_event_record
from mdm.errors import ServiceError
from mdm.models import AuditEvent, OutboxEvent
from mdm.outbox import outbox_emit, outbox_sequence
from tests.events.helpers import deliver, fresh


def emit(actors, n: int, org=None) -> list[str]:
    ids = []
    for i in range(n):
        event = outbox_emit(organization_id=(org or actors.org).pk, type="device.command_result", data={"i": i})
        ids.append(str(event.event_id))
    return ids


def test_it_delivers_each_event_signed_with_the_envelope_as_body(actors, webhook, receiver):
    audit_event_record(organization=actors.org, action="member.added", details={"email": "new@acme.test"})
    report = deliver(webhook)
    assert report.delivered == 2 and not report.failed  # the destination's own creation, then this one
    assert receiver.rejected == []
    created, added = receiver.received
    assert created.type == "audit.event_destination.created"
    assert added.type == "audit.member.added"
    assert added.body["organization"] == {"id": str(actors.org.pk), "slug": actors.org.slug}
    assert added.body["data"]["details"] == {"email": "new@acme.test"}
    assert added.body["timestamp"].endswith("Z")
    event = OutboxEvent.objects.get(event_id=added.id)
    assert added.body["id"] == added.headers["webhook-id"] == str(event.event_id)
    assert added.headers["webhook-signature"].startswith("v1,")
    destination = fresh(webhook)
    assert destination.cursor == event.seq
    assert destination.last_success_at is not None and destination.attempts == 0
    attempt = DeliveryAttempt.objects.get(destination=webhook)
    assert attempt.ok and attempt.events == 2 and attempt.last_seq == event.seq
    # Caught up: nothing more to send, nothing sent again.
    assert deliver(webhook).delivered == 0
    assert len(receiver.received) == 2


def test_a_receiver_with_another_secret_rejects_the_requests(actors, webhook, receiver):
    receiver.secret = "whsec_" + "A" * 32
    report = deliver(webhook)
    assert report.failed
    assert receiver.rejected and receiver.received == []
    destination = fresh(webhook)
    assert destination.cursor < OutboxEvent.objects.latest("seq").seq
    assert "401" in destination.last_error


def test_every_event_arrives_in_order_exactly_once_when_the_receiver_comes_back(actors, webhook, receiver):
    deliver(webhook)
    receiver.received.clear()
    receiver.stop()
    ids = emit(actors, 30)
    for _ in range(3):
        report = deliver(webhook)
        assert report.failed and report.delivered == 0
    destination = fresh(webhook)
    assert destination.attempts == 3 and destination.next_attempt_at > timezone.now()
    assert "refused" in destination.last_error.lower() or "failed" in destination.last_error.lower()
    assert DeliveryAttempt.objects.filter(destination=webhook, ok=False).count() == 3
    # While it waits for its backoff, the beat does not start it.
    outbox_sequence()
    assert str(webhook.pk) not in destinations_dispatch()
    receiver.start()
    report = deliver(webhook)
    assert report.delivered == 30 and not report.failed
    assert receiver.ids() == ids
    assert fresh(webhook).attempts == 0


def test_a_batch_that_fails_half_way_resumes_after_the_last_delivered_event(actors, webhook, receiver, settings):
    settings.MDM_EVENTS_BATCH_SIZE = 10
    deliver(webhook)
    receiver.received.clear()
    ids = emit(actors, 8)
    receiver.fail_status, receiver.fail_after = 503, 3
    report = deliver(webhook)
    assert report.failed and report.delivered == 3
    assert receiver.ids() == ids[:3]
    receiver.fail_status = None
    deliver(webhook)
    assert receiver.ids() == ids  # the first three were not sent again


def test_the_backoff_doubles_with_jitter_up_to_its_cap(settings):
    settings.MDM_EVENTS_BACKOFF_BASE_SECONDS = 5
    settings.MDM_EVENTS_BACKOFF_MAX_SECONDS = 900
    rng = random.Random(7)
    waits = [backoff_seconds(n, rng=rng) for n in range(1, 12)]
    for n, wait in enumerate(waits, start=1):
        full = min(900, 5 * 2 ** (n - 1))
        assert full / 2 <= wait <= full
    assert max(waits) <= 900


def test_a_destination_failing_for_a_day_is_marked_failing_and_its_owners_told_once(
    actors, webhook, receiver, client, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    receiver.stop()
    ids = emit(actors, 3)
    deliver(webhook)
    assert fresh(webhook).state == DestinationState.ACTIVE
    # A day of failures later.
    EventDestination.objects.filter(pk=webhook.pk).update(failing_since=timezone.now() - timedelta(days=1, seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        deliver(webhook)
    destination = fresh(webhook)
    assert destination.state == DestinationState.FAILING
    assert AuditEvent.objects.filter(organization=actors.org, action="event_destination.failing").count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [actors.owner.email]
    assert "failing" in mail.outbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        deliver(webhook)  # still failing: no second mail
    assert len(mail.outbox) == 1
    # The banner, on every console page of the organization (not the other one's).
    client.force_login(actors.helpdesk)
    page = client.get("/console/devices/").content.decode()
    assert "has been failing since" in page and "SIEM" in page
    client.force_login(actors.outsider)
    assert "has been failing since" not in client.get("/console/devices/").content.decode()
    # Its events waited: none was dropped.
    receiver.start()
    deliver(webhook)
    assert [i for i in receiver.ids() if i in ids] == ids
    assert "audit.event_destination.failing" in [r.type for r in receiver.received]
    destination = fresh(webhook)
    assert destination.state == DestinationState.ACTIVE and destination.failing_since is None
    assert AuditEvent.objects.filter(organization=actors.org, action="event_destination.recovered").exists()


def test_a_type_filter_sends_only_matching_events_and_moves_past_the_others(actors, webhook, receiver):
    EventDestination.objects.filter(pk=webhook.pk).update(event_types=["audit.member."])
    outbox_emit(organization_id=actors.org.pk, type="device.command_result", data={})
    audit_event_record(organization=actors.org, action="member.added", details={"email": "x@acme.test"})
    outbox_emit(organization_id=actors.org.pk, type="device.compliance_changed", data={})
    deliver(webhook)
    assert [r.type for r in receiver.received] == ["audit.member.added"]
    assert fresh(webhook).cursor == OutboxEvent.objects.latest("seq").seq
    assert destination_lag(actors.org.pk)[0].pending == 0


def test_another_organizations_events_never_reach_the_destination(actors, webhook, receiver):
    emit(actors, 2, org=actors.other_org)
    deliver(webhook)
    assert all(r.body["organization"]["id"] == str(actors.org.pk) for r in receiver.received)
    assert len(receiver.received) == 1


def test_a_replay_sends_the_range_again_with_the_same_ids(actors, webhook, receiver):
    ids = emit(actors, 5)
    deliver(webhook)
    assert receiver.ids()[-5:] == ids
    start = OutboxEvent.objects.get(event_id=ids[1]).created_at
    end = OutboxEvent.objects.get(event_id=ids[3]).created_at
    replay = event_destination_replay(destination=webhook, from_at=start, to_at=end, actor=SYSTEM)
    assert replay.total == 2
    deliver(webhook)
    # The replay's own audit event (live), then the two events of the range again.
    assert receiver.ids()[-2:] == ids[1:3]
    assert receiver.received[-3].type == "audit.event_destination.replay_requested"
    deliver(webhook)
    replay.refresh_from_db()
    assert replay.state == ReplayState.DONE and replay.sent == 2
    assert DeliveryAttempt.objects.filter(replay=replay, ok=True).count() == 1


def test_a_second_run_does_not_deliver_while_the_lease_is_held(actors, webhook, receiver):
    emit(actors, 2)
    outbox_sequence()
    EventDestination.objects.filter(pk=webhook.pk).update(
        lease_until=timezone.now() + timedelta(seconds=30), lease_token="00000000-0000-0000-0000-000000000001"
    )
    report = destination_deliver(destination_id=webhook.pk)
    assert not report.leased and receiver.received == []
    # An expired lease (its worker died) is taken over.
    EventDestination.objects.filter(pk=webhook.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert destination_deliver(destination_id=webhook.pk).delivered == 3
    assert fresh(webhook).lease_until is None


def test_a_disabled_destination_keeps_its_events_until_enabled(actors, webhook, receiver):
    EventDestination.objects.filter(pk=webhook.pk).update(enabled=False)
    ids = emit(actors, 2)
    outbox_sequence()
    assert str(webhook.pk) not in destinations_dispatch()
    assert deliver(webhook).delivered == 0
    EventDestination.objects.filter(pk=webhook.pk).update(enabled=True)
    assert str(webhook.pk) in destinations_dispatch()
    deliver(webhook)
    assert receiver.ids()[-2:] == ids


def test_a_new_destination_gets_only_events_from_its_creation_on(actors, receiver):
    emit(actors, 3)
    created = event_destination_create(
        organization=actors.org, name="Late", kind="webhook", config={"url": receiver.url}, actor=SYSTEM
    )
    receiver.secret = created.secret
    deliver(created.destination)
    assert [r.type for r in receiver.received] == ["audit.event_destination.created"]


def test_the_lag_counts_pending_events_and_the_age_of_the_oldest(actors, webhook, receiver):
    deliver(webhook)
    receiver.stop()
    outbox_emit(
        organization_id=actors.org.pk, type="device.command_result", data={}, at=timezone.now() - timedelta(minutes=5)
    )
    emit(actors, 1)
    lag = destination_lag()[0]
    assert (lag.organization_slug, lag.destination_id, lag.name, lag.kind) == (
        actors.org.slug,
        str(webhook.pk),
        "SIEM",
        "webhook",
    )
    assert lag.pending == 2 and 299 < lag.lag_seconds < 400
    receiver.start()
    deliver(webhook)
    lag = destination_lag()[0]
    assert lag.pending == 0 and lag.lag_seconds == 0


def test_pruning_keeps_what_a_destination_has_not_passed(actors, webhook, receiver, settings):
    settings.MDM_EVENTS_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    delivered = outbox_emit(organization_id=actors.org.pk, type="device.command_result", data={}, at=old)
    deliver(webhook)
    receiver.stop()
    waiting = outbox_emit(organization_id=actors.org.pk, type="device.command_result", data={}, at=old)
    outbox_sequence()
    DeliveryAttempt.objects.update(at=old)
    result = events_prune()
    assert result["log"] >= 1
    assert not OutboxEvent.objects.filter(pk=delivered.pk).exists()
    assert OutboxEvent.objects.filter(pk=waiting.pk).exists()  # not delivered yet: kept


@pytest.mark.parametrize(
    ("url", "field_message"),
    [
        ("ftp://siem.example.com/x", "http"),
        ("https://user:pw@siem.example.com/", "user name"),
        ("siem.example.com/hook", "http"),
        ("https://10.0.0.5/hook", "private"),
        ("http://127.0.0.1:8080/hook", "private"),
        ("https://[::1]/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
    ],
)
def test_it_refuses_urls_that_are_not_public_http(settings, url, field_message):
    settings.MDM_EVENTS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(ServiceError) as refused:
        webhook_config_clean({"url": url})
    assert "config.url" in refused.value.errors
    assert field_message in refused.value.message


def test_it_refuses_at_delivery_a_host_that_resolves_to_a_private_address(settings, receiver):
    settings.MDM_EVENTS_ALLOW_PRIVATE_URLS = False
    config = webhook_config_clean({"url": f"http://localhost:{receiver.port}/hook"})  # a name: allowed here
    transport = WebhookTransport(config, "whsec_" + "A" * 32)
    with pytest.raises(TransportError) as refused:
        transport.deliver([])  # even an empty batch connects nowhere it may not
    assert "private or local" in refused.value.message
    assert receiver.received == []
