"""A syslog destination end to end: events from the outbox, through the delivery runs, to a real
TLS (and a UDP) syslog receiver started by the test that validates every message against RFC 5424
and its framing. The receiver down for a while, then up: every event arrives, in order, once by id."""

from __future__ import annotations

import pytest
from django.utils import timezone

from events.models import DeliveryAttempt
from events.services import event_destination_create
from mdm.actors import SYSTEM
from mdm.audit import audit_event_record
from mdm.outbox import outbox_emit
from tests.events.helpers import deliver, fresh
from tests.events.syslog_receiver import Pki, SyslogReceiver


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_receiver(pki):
    receiver = SyslogReceiver("tls", tls=pki.server_context()).start()
    yield receiver
    receiver.stop()
    receiver.assert_valid()  # not one message the receiver could not parse as RFC 5424


def syslog_destination(actors, receiver, pki=None, **config):
    config = {"host": "127.0.0.1", "port": receiver.port, "transport": receiver.kind, **config}
    if pki is not None:
        config["ca_pem"] = pki.ca_pem
    return event_destination_create(
        organization=actors.org, name=f"SIEM {receiver.kind}", kind="syslog", config=config, actor=SYSTEM
    ).destination


def test_every_event_reaches_a_tls_receiver_in_order_once_after_it_was_down(actors, pki, tls_receiver):
    destination = syslog_destination(actors, tls_receiver, pki)
    deliver(destination)  # the destination's own creation event, and nothing before it
    tls_receiver.messages.clear()
    tls_receiver.stop()
    ids = [
        str(outbox_emit(organization_id=actors.org.pk, type="device.compliance_changed", data={"i": i}).event_id)
        for i in range(12)
    ]
    audited = audit_event_record(organization=actors.org, action="signing_key.rotated", details={"old_kid": "k"})
    for _ in range(2):
        report = deliver(destination)
        assert report.failed and report.delivered == 0
    assert fresh(destination).attempts == 2 and fresh(destination).next_attempt_at > timezone.now()
    assert DeliveryAttempt.objects.filter(destination=destination, ok=False).count() == 2

    tls_receiver.start()  # the same port
    report = deliver(destination)

    assert report.delivered == 13 and not report.failed
    received = tls_receiver.wait_for(13)
    assert [m.event_id for m in received[:12]] == ids
    last = received[12]
    assert last.msgid == "audit.signing_key.rotated" and last.json["data"]["seq"] == audited.seq
    assert len({m.event_id for m in received}) == 13
    assert deliver(destination).delivered == 0  # nothing sent twice once the cursor moved


def test_a_udp_destination_in_cef_gets_one_datagram_per_event(actors):
    receiver = SyslogReceiver("udp", fmt="cef").start()
    try:
        destination = syslog_destination(actors, receiver, format="cef")
        deliver(destination)
        receiver.messages.clear()
        event = outbox_emit(organization_id=actors.org.pk, type="device.offline_timer_fired", data={})
        assert deliver(destination).delivered == 1
        (message,) = receiver.wait_for(1)
        assert message.event_id == str(event.event_id) and message.cef is not None
    finally:
        receiver.stop()
    receiver.assert_valid()
