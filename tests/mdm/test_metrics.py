"""/metrics (issue 15, part 3): Prometheus' text format, read fresh from the database and the
broker at each scrape, and only for the metrics token or an allowed network."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from devices.choices import CommandState, DeviceState, ManagementChannel
from devices.models import Command, Push
from events.services import event_destination_create
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.celery import app as celery_app
from mdm.outbox import outbox_sequence
from personas.models import Persona
from tests.devices.test_device_selectors import make_device

pytestmark = pytest.mark.django_db

TOKEN = "m" * 32
# A Redis database of its own, standing in for the broker: the session's worker never reads it.
QUEUE_DB = "redis://127.0.0.1:6379/2"


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.fixture
def broker(monkeypatch):
    queues = redis.Redis.from_url(QUEUE_DB)
    queues.flushdb()
    monkeypatch.setattr(celery_app.conf, "broker_read_url", QUEUE_DB)
    yield queues
    queues.flushdb()


def test_it_counts_devices_pushes_and_waiting_commands_per_organization(client, actors, broker):
    old = timezone.now() - timedelta(hours=3)
    phone = make_device(actors.org, compliant=True)
    make_device(actors.org, compliant=False)
    make_device(actors.org, compliant=None, channel=ManagementChannel.ANDROID)
    make_device(actors.org, compliant=True, state=DeviceState.RETIRED)
    make_device(actors.other_org, compliant=True)
    Command.objects.create(organization=actors.org, device=phone, type="lock_corporate")
    Command.objects.create(organization=actors.org, device=phone, type="apply_policy", created_at=old)
    Command.objects.create(organization=actors.org, device=phone, type="apply_policy", state=CommandState.DELIVERED)
    Command.objects.create(organization=actors.org, device=phone, type="apply_policy", state=CommandState.ACKNOWLEDGED)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    Push.objects.create(organization=actors.org, persona=persona, persona_revision=1, state=Push.State.RUNNING)
    Push.objects.create(organization=actors.org, persona=persona, persona_revision=1, state=Push.State.DONE)
    broker.lpush("celery", "a", "b", "c")
    broker.lpush("celery\x06\x163", "d")  # a priority level of the same queue

    got = scrape(client)

    def devices(org, state, compliance, channel="agent"):
        labels = {"organization": org, "state": state, "compliance": compliance, "channel": channel}
        return got.get(("mdm_devices", tuple(sorted(labels.items()))))

    assert devices("acme", "active", "compliant") == 1
    assert devices("acme", "active", "noncompliant") == 1
    assert devices("acme", "active", "unknown", "android") == 1
    assert devices("acme", "retired", "compliant") == 1
    assert devices("globex", "active", "compliant") == 1
    assert got[("mdm_pushes_in_flight", (("organization", "acme"), ("state", "running")))] == 1

    def pending(kind, state, age):
        labels = {"organization": "acme", "type": kind, "state": state, "age": age}
        return got.get(("mdm_commands_pending", tuple(sorted(labels.items()))))

    assert pending("lock_corporate", "queued", "under_1m") == 1
    assert pending("apply_policy", "queued", "1h_to_1d") == 1
    assert pending("apply_policy", "delivered", "under_1m") == 1
    oldest = got[("mdm_commands_pending_oldest_age_seconds", (("organization", "acme"), ("state", "queued")))]
    assert 3 * 3600 - 5 < oldest < 3 * 3600 + 60
    assert got[("mdm_celery_broker_up", ())] == 1
    assert got[("mdm_celery_queue_depth", (("queue", "celery"),))] == 4


def test_a_broker_down_still_answers_the_other_metrics(client, actors, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_read_url", "redis://127.0.0.1:1/0")
    make_device(actors.org, compliant=True)
    got = scrape(client)
    assert got[("mdm_celery_broker_up", ())] == 0
    assert any(name == "mdm_devices" for name, _ in got)


def test_only_the_token_or_an_allowed_network_may_scrape(client, settings, broker):
    settings.MDM_METRICS_TOKEN_SHA256 = hashlib.sha256(TOKEN.encode()).hexdigest()
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    refused = client.get("/metrics", **outside)
    assert refused.status_code == 403 and b"MDM_METRICS_ALLOWED_NETWORKS" in refused.content
    assert scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside)
    # A wrong token is refused even from an allowed network: it is a mistake worth seeing.
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"] == 'Bearer realm="metrics"'
    settings.MDM_METRICS_TOKEN_SHA256 = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside).status_code == 401
    assert client.post("/metrics").status_code == 405


def test_an_allowed_network_scrapes_without_a_token(client, settings, broker):
    import ipaddress

    settings.MDM_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]
    assert scrape(client, REMOTE_ADDR="10.1.2.3")
    assert client.get("/metrics").status_code == 403  # loopback is no longer in the list


def test_each_event_destination_shows_its_backlog_and_lag(client, actors, broker, settings):
    settings.MDM_EVENTS_ALLOW_PRIVATE_URLS = True
    created = event_destination_create(
        organization=actors.org,
        name="SIEM",
        kind="webhook",
        config={"url": "http://127.0.0.1:9/hook"},
        actor=Actor.member(actors.owner),
    )
    audit_event_record(organization=actors.org, action="signing_key.rotated", at=timezone.now() - timedelta(minutes=5))
    outbox_sequence()
    got = scrape(client)
    labels = (
        ("destination", str(created.destination.pk)),
        ("kind", "webhook"),
        ("name", "SIEM"),
        ("organization", "acme"),
    )
    assert got[("mdm_event_destination_pending_events", labels)] >= 1
    assert got[("mdm_event_destination_lag_seconds", labels)] >= 5 * 60 - 5
    assert got[("mdm_event_destination_failing", labels)] == 0
    assert got[("mdm_event_destination_enabled", labels)] == 1
