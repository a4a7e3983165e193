"""The syslog transport against a real receiver (tests/events/syslog_receiver.py) that checks every
message against RFC 5424 and its framing: configuration, TCP / TLS / UDP delivery in order, TLS
verification, a receiver down then up, CEF escaping, unicode, and the UDP size rule."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.envelope import Envelope
from events.transports import TransportError
from events.transports.cef import cef_line, escape_extension, escape_header, severity
from events.transports.syslog import SyslogDeliveryError, SyslogTransport, syslog_config_clean
from mdm.errors import ServiceError
from tests.events.syslog_receiver import BOM, Invalid, Pki, SyslogReceiver, parse_cef, parse_message

T0 = datetime(2026, 12, 2, 16, 54, 28, 123456, tzinfo=UTC)
ORG_ID = "0b9f0c3e-6f6a-4c43-9a55-0d5b4c2f9a10"


def wipe_event(seq: int = 7, **data: Any) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        type="audit.wipe.requested",
        timestamp=T0 + timedelta(seconds=seq),
        organization_id=ORG_ID,
        organization_slug="acme",
        data={
            "seq": seq,
            "action": "wipe.requested",
            "actor": {"type": "user", "id": "5d0c6d1e-7a7b-4c8e-9a51-3f0e7b1f2c01", "label": "alice@example.com"},
            "target": {"type": "devices.device", "id": "9f1d3e2a-1b4c-4d5e-8f6a-7b8c9d0e1f23", "label": "Pixel 8"},
            "details": {"wipe_id": "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b", "reason": "lost"},
            "client_ip": "203.0.113.5",
            "hash": "4f2a9c0e" * 8,
            **data,
        },
    )


def compliance_event() -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        type="device.compliance_changed",
        timestamp=T0,
        organization_id=ORG_ID,
        organization_slug="acme",
        data={
            "device": {"id": "9f1d3e2a-1b4c-4d5e-8f6a-7b8c9d0e1f23", "name": "Pixel 8"},
            "compliant": False,
            "previous": True,
            "failing": ["passcode"],
        },
    )


def batch(n: int) -> list[Envelope]:
    return [wipe_event(seq=i) if i % 2 else compliance_event() for i in range(n)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def receivers():
    """Receivers a test starts; stopped at its end, and none may have refused a message."""
    started: list[SyslogReceiver] = []

    def start(kind: str, **kwargs: Any) -> SyslogReceiver:
        receiver = SyslogReceiver(kind, **kwargs).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()
    for receiver in started:
        receiver.assert_valid()


def transport_for(receiver: SyslogReceiver, pki: Pki | None = None, **config: Any) -> SyslogTransport:
    timeout = config.pop("timeout", 5.0)
    base: dict[str, Any] = {"host": "127.0.0.1", "port": receiver.port, "transport": receiver.kind}
    if receiver.kind == "tls" and pki is not None:
        base["ca_pem"] = pki.ca_pem
    if receiver.fmt:
        base["format"] = receiver.fmt
    return SyslogTransport({**base, **config}, timeout=timeout)


# --- configuration


def test_it_fills_in_the_defaults():
    assert syslog_config_clean({"host": "SIEM.example.com."}) == {
        "host": "siem.example.com",
        "port": 6514,
        "transport": "tls",
        "format": "json",
        "facility": "local0",
        "app_name": "mdm",
        "hostname": None,
        "ca_pem": None,
        "server_name": None,
    }
    assert syslog_config_clean({"host": "10.0.0.5", "transport": "tcp"})["port"] == 514
    udp = syslog_config_clean({"host": "::1", "transport": "udp", "facility": 10})
    assert (udp["host"], udp["port"], udp["facility"], udp["max_message_bytes"]) == ("::1", 514, "authpriv", 2048)
    assert syslog_config_clean({"host": "h.example", "facility": "LOCAL7", "verify": True})["facility"] == "local7"


def test_it_keeps_only_the_certificates_of_a_ca_bundle(pki):
    cleaned = syslog_config_clean({"host": "h.example", "ca_pem": "our CA:\n" + pki.ca_pem + "\n-- end\n"})
    assert cleaned["ca_pem"] == pki.ca_pem


@pytest.mark.parametrize(
    "raw, field",
    [
        ({}, "config.host"),
        ({"host": ""}, "config.host"),
        ({"host": "not a host"}, "config.host"),
        ({"host": "bad_label.example"}, "config.host"),
        ({"host": "300.1.2.3"}, "config.host"),
        ({"host": 10}, "config.host"),
        ({"host": "h.example", "port": 0}, "config.port"),
        ({"host": "h.example", "port": 65536}, "config.port"),
        ({"host": "h.example", "port": "514"}, "config.port"),
        ({"host": "h.example", "port": True}, "config.port"),
        ({"host": "h.example", "transport": "http"}, "config.transport"),
        ({"host": "h.example", "format": "leef"}, "config.format"),
        ({"host": "h.example", "facility": "local8"}, "config.facility"),
        ({"host": "h.example", "facility": 24}, "config.facility"),
        ({"host": "h.example", "facility": True}, "config.facility"),
        ({"host": "h.example", "app_name": ""}, "config.app_name"),
        ({"host": "h.example", "app_name": "my app"}, "config.app_name"),
        ({"host": "h.example", "app_name": "a" * 49}, "config.app_name"),
        ({"host": "h.example", "app_name": "mdmé"}, "config.app_name"),
        ({"host": "h.example", "hostname": "web 1"}, "config.hostname"),
        ({"host": "h.example", "hostname": "h" * 256}, "config.hostname"),
        ({"host": "h.example", "ca_pem": "not a certificate"}, "config.ca_pem"),
        ({"host": "h.example", "ca_pem": 5}, "config.ca_pem"),
        ({"host": "h.example", "server_name": "not a name"}, "config.server_name"),
        ({"host": "h.example", "verify": False}, "config.verify"),
        ({"host": "h.example", "transport": "tcp", "ca_pem": "x"}, "config.ca_pem"),
        ({"host": "h.example", "transport": "udp", "server_name": "h.example"}, "config.server_name"),
        ({"host": "h.example", "transport": "udp", "max_message_bytes": 479}, "config.max_message_bytes"),
        ({"host": "h.example", "transport": "udp", "max_message_bytes": 65508}, "config.max_message_bytes"),
        ({"host": "h.example", "max_message_bytes": 4096}, "config.max_message_bytes"),
        ({"host": "h.example", "password": "x"}, "config.password"),
    ],
)
def test_it_refuses_a_bad_setting_naming_it(raw, field):
    with pytest.raises(ServiceError) as caught:
        syslog_config_clean(raw)
    assert list(caught.value.errors) == [field]
    assert caught.value.status == 400


def test_it_names_every_bad_setting_at_once():
    with pytest.raises(ServiceError) as caught:
        syslog_config_clean({"port": -1, "format": "xml", "colour": "red"})
    assert set(caught.value.errors) == {"config.host", "config.port", "config.format", "config.colour"}


def test_it_refuses_a_configuration_that_is_not_an_object():
    with pytest.raises(ServiceError) as caught:
        syslog_config_clean(["host"])  # type: ignore[arg-type]
    assert caught.value.field == "config"


def test_it_will_not_deliver_with_a_stored_configuration_that_no_longer_passes():
    with pytest.raises(TransportError) as caught:
        SyslogTransport({"host": "h.example", "transport": "smtp"})
    assert not caught.value.retryable


# --- the message


def test_it_renders_an_rfc5424_message_with_the_event_in_structured_data_and_json():
    transport = SyslogTransport({"host": "h.example", "hostname": "mdm-1.example.com"})
    event = wipe_event()
    data = transport.render(event)
    header = (
        f'<132>1 2026-12-02T16:54:35.123456Z mdm-1.example.com mdm - audit.wipe.requested [mdm@32473 id="{event.id}" '
        'type="audit.wipe.requested" org="acme"] '
    ).encode()
    assert data.startswith(header)
    parsed = parse_message(data, "json")
    assert parsed.msg == BOM + data[len(header) + 3 :]
    assert parsed.json == event.as_json()
    # local0 (16) * 8 + the severity: warning for a wipe, notice for compliance, informational for the rest.
    assert parsed.pri == 16 * 8 + 4
    assert parse_message(transport.render(compliance_event()), "json").pri == 16 * 8 + 5
    other = Envelope(id="1", type="audit.member.added", timestamp=T0, organization_id=ORG_ID, organization_slug="a")
    assert parse_message(transport.render(other), "json").pri == 16 * 8 + 6


def test_it_uses_the_servers_name_when_no_hostname_is_configured():
    data = SyslogTransport({"host": "h.example"}).render(compliance_event())
    expected = "".join(c if 0x21 <= ord(c) <= 0x7E else "_" for c in socket.getfqdn())[:255] or "-"
    assert parse_message(data, "json").hostname == expected


def test_it_cuts_msgid_to_32_printable_characters_and_escapes_structured_data():
    event = Envelope(
        id='id"with]odd\\chars',
        type="device.a_very_long_event_type_name_that_goes_on_é",
        timestamp=T0,
        organization_id=ORG_ID,
        organization_slug='ac]me"',
    )
    parsed = parse_message(SyslogTransport({"host": "h.example", "hostname": "h"}).render(event), "json")
    assert parsed.msgid == "device.a_very_long_event_type_na"
    assert len(parsed.msgid) == 32
    assert parsed.structured_data["mdm@32473"] == {"id": event.id, "type": event.type, "org": 'ac]me"'}


@pytest.mark.parametrize(
    "event_type, expected",
    [
        ("audit.wipe.requested", "high"),
        ("audit.wipe.failed", "high"),
        ("audit.device.wiped_by_agent", "high"),
        ("audit.device.lock_requested", "high"),
        ("audit.device.unlock_requested", "low"),
        ("audit.device.reported_lost", "medium"),
        ("device.command_failed", "medium"),
        ("device.compliance_changed", "medium"),
        ("audit.member.added", "low"),
        ("device.command_result", "low"),
    ],
)
def test_it_gives_each_event_type_its_severity(event_type, expected):
    assert severity(event_type).name == expected


def test_it_escapes_cef_header_and_extension_values():
    assert escape_header("a|b\\c\nd") == "a\\|b\\\\c d"
    assert escape_extension("a=b\\c\nd\re|f") == "a\\=b\\\\c\\nd\\re|f"
    event = wipe_event(
        actor={"type": "user", "id": "u1", "label": "bob=admin \\ ops"},
        target={"type": "devices.device", "id": "d1", "label": "Pixel | 8\nsecond line"},
        details={"reason": "a=b c=d"},
    )
    event = dataclasses.replace(event, type="audit.wipe.odd|type\\x")
    line = cef_line(event)
    assert "\n" not in line
    cef = parse_cef(line)
    assert (cef.vendor, cef.product, cef.version, cef.severity) == ("dual-persona-mdm", "mdm-server", "1", 8)
    assert (cef.signature, cef.name) == ("audit.wipe.odd|type\\x", "wipe odd|type\\x")
    assert cef.extension["suser"] == "bob=admin \\ ops"
    assert cef.extension["duser"] == "Pixel | 8\nsecond line"
    assert cef.extension["cs6"] == '{"reason":"a=b c=d"}'


def test_it_maps_an_audit_event_and_a_device_event_to_cef():
    event = wipe_event()
    ext = parse_cef(cef_line(event)).extension
    assert ext == {
        "rt": "1796230475123",  # 2026-12-02T16:54:35.123456Z in whole milliseconds
        "externalId": event.id,
        "cat": "audit",
        "act": "wipe.requested",
        "cs1Label": "organization",
        "cs1": "acme",
        "suser": "alice@example.com",
        "duser": "Pixel 8",
        "src": "203.0.113.5",
        "cs2Label": "targetType",
        "cs2": "devices.device",
        "cs3Label": "targetId",
        "cs3": "9f1d3e2a-1b4c-4d5e-8f6a-7b8c9d0e1f23",
        "cs4Label": "actorType",
        "cs4": "user",
        "cs5Label": "actorId",
        "cs5": "5d0c6d1e-7a7b-4c8e-9a51-3f0e7b1f2c01",
        "cs6Label": "details",
        "cs6": '{"reason":"lost","wipe_id":"c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b"}',
        "cn1Label": "seq",
        "cn1": "7",
    }
    device = compliance_event()
    cef = parse_cef(cef_line(device))
    assert (cef.signature, cef.name, cef.severity) == ("device.compliance_changed", "compliance changed", 5)
    assert cef.extension["act"] == "compliance_changed"
    assert cef.extension["duser"] == "Pixel 8"
    assert cef.extension["cs6"] == '{"compliant":false,"failing":["passcode"],"previous":true}'
    assert "suser" not in cef.extension and "src" not in cef.extension
    ipv6 = parse_cef(cef_line(wipe_event(client_ip="2001:db8::1"))).extension
    assert ipv6["c6a2"] == "2001:db8::1" and "src" not in ipv6


# --- delivery


@pytest.mark.parametrize("kind", ["tcp", "tls", "udp"])
def test_it_delivers_every_event_in_order(kind, pki, receivers):
    receiver = receivers(kind, tls=pki.server_context() if kind == "tls" else None)
    events = batch(25)
    transport_for(receiver, pki).deliver(events)
    messages = receiver.wait_for(25)
    assert [m.event_id for m in messages] == [e.id for e in events]
    assert [m.json for m in messages] == [e.as_json() for e in events]
    assert receiver.connections == (0 if kind == "udp" else 1)


def test_it_delivers_cef_over_tls(pki, receivers):
    receiver = receivers("tls", fmt="cef", tls=pki.server_context())
    events = batch(4)
    transport_for(receiver, pki).deliver(events)
    messages = receiver.wait_for(4)
    assert [m.cef.extension["externalId"] for m in messages if m.cef] == [e.id for e in events]
    assert [m.cef.severity for m in messages if m.cef] == [5, 8, 5, 8]


def test_it_round_trips_unicode_in_json(pki, receivers):
    receiver = receivers("tls", tls=pki.server_context())
    event = wipe_event(
        details={"reason": "perdu à la gare — 駅で紛失 👩\u200d💻", "note": 'line\nbreak "quoted" \\ \u2028 ]'}
    )
    transport_for(receiver, pki).deliver([event])
    (message,) = receiver.wait_for(1)
    assert message.json == event.as_json()
    assert "駅で紛失".encode() in message.msg  # UTF-8 as is, not \u escapes


def test_it_does_nothing_for_an_empty_batch(receivers):
    receiver = receivers("tcp")
    transport_for(receiver).deliver([])
    time.sleep(0.1)
    assert receiver.connections == 0


def test_it_refuses_a_receiver_whose_certificate_another_ca_signed(pki, receivers, tmp_path):
    receiver = receivers("tls", tls=pki.server_context())
    other = Pki(tmp_path / "other", common_name="Someone else's CA")
    with pytest.raises(SyslogDeliveryError) as caught:
        transport_for(receiver, ca_pem=other.ca_pem).deliver(batch(2))
    assert caught.value.retryable and caught.value.delivered == 0
    assert "certificate did not verify" in caught.value.message
    assert receiver.messages == []


def test_it_refuses_a_receiver_certificate_for_another_name(pki, receivers):
    receiver = receivers("tls", tls=pki.server_context())
    with pytest.raises(SyslogDeliveryError) as caught:
        transport_for(receiver, pki, server_name="syslog.other.example").deliver(batch(1))
    assert "certificate did not verify" in caught.value.message
    assert receiver.messages == []
    # The same CA and the certificate's own name pass.
    transport_for(receiver, pki, server_name="localhost").deliver(batch(1))
    assert len(receiver.wait_for(1)) == 1


def test_it_trusts_only_the_system_store_without_a_ca(pki, receivers):
    receiver = receivers("tls", tls=pki.server_context())
    with pytest.raises(SyslogDeliveryError, match="certificate did not verify"):
        transport_for(receiver).deliver(batch(1))


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_it_delivers_everything_once_a_receiver_that_was_down_is_up_again(kind, pki, receivers):
    receiver = receivers(kind, tls=pki.server_context() if kind == "tls" else None)
    transport = transport_for(receiver, pki)
    transport.deliver(batch(3))
    receiver.wait_for(3)
    receiver.stop()

    with pytest.raises(SyslogDeliveryError) as caught:
        transport.deliver(batch(1))
    assert caught.value.retryable and caught.value.delivered == 0
    assert "refused" in caught.value.message

    # Down for a while: the caller retries (as events.delivery does, from its cursor), the receiver
    # comes back on the same port, and every event arrives, in order.
    pending = batch(10)
    threading.Timer(0.6, receiver.start).start()
    attempts = 0
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        attempts += 1
        try:
            transport.deliver(pending)
        except TransportError:
            time.sleep(0.1)
            continue
        sent, pending = pending, []
    assert not pending
    assert attempts > 1
    messages = receiver.wait_for(13)
    assert [m.event_id for m in messages[3:]] == [e.id for e in sent]


def test_it_notices_a_udp_receiver_that_is_down_only_after_a_datagram_is_lost(receivers):
    receiver = receivers("udp")
    transport = transport_for(receiver)
    receiver.stop()
    # The first datagram draws an ICMP "port unreachable", which fails the next send: UDP cannot
    # tell more, which is why tls (or tcp) is the transport to use when every event matters.
    with pytest.raises(SyslogDeliveryError) as caught:
        transport.deliver(batch(5))
    assert 1 <= caught.value.delivered < 5
    assert caught.value.retryable


def test_it_gives_up_on_a_receiver_that_never_answers_after_its_timeout(pki):
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        port = silent.getsockname()[1]
        transport = SyslogTransport(
            {"host": "127.0.0.1", "port": port, "transport": "tls", "ca_pem": pki.ca_pem}, timeout=0.3
        )
        started = time.monotonic()
        with pytest.raises(SyslogDeliveryError) as caught:
            transport.deliver(batch(1))
        assert time.monotonic() - started < 3
        assert "no answer within 0.3 s" in caught.value.message
    finally:
        silent.close()


def test_it_fails_when_the_receiver_drops_the_connection_without_reading():
    server = socket.create_server(("127.0.0.1", 0))
    dropped = threading.Event()

    def drop() -> None:
        conn, _ = server.accept()
        # Wait for the data, then close without reading it: the kernel answers with a reset.
        while not conn.recv(1, socket.MSG_PEEK):
            pass
        time.sleep(0.2)
        conn.close()
        dropped.set()

    threading.Thread(target=drop, daemon=True).start()
    try:
        transport = SyslogTransport({"host": "127.0.0.1", "port": server.getsockname()[1], "transport": "tcp"})
        with pytest.raises(SyslogDeliveryError) as caught:
            transport.deliver(batch(3))
        assert caught.value.retryable
        assert dropped.wait(2)
    finally:
        server.close()


def test_it_cuts_a_datagram_too_big_down_to_the_events_identity(receivers):
    receiver = receivers("udp")
    small, big = compliance_event(), wipe_event(details={"reason": "x" * 1000, "wipe_id": "w"})
    # The small event (about 510 bytes) fits 600; the big one goes as its identity only.
    transport_for(receiver, max_message_bytes=600, hostname="mdm-1").deliver([small, big])
    first, second = receiver.wait_for(2)
    assert first.json == small.as_json()
    assert len(second.raw) <= 600
    assert second.json is not None
    assert "data" not in second.json
    assert second.json["truncated"]["bytes"] > 1000
    assert {k: second.json[k] for k in ("id", "type", "timestamp")} == {
        k: big.as_json()[k] for k in ("id", "type", "timestamp")
    }


def test_it_cuts_a_cef_datagram_too_big_down_to_the_events_identity(receivers):
    receiver = receivers("udp", fmt="cef")
    big = wipe_event(details={"reason": "x" * 3000})
    transport_for(receiver).deliver([big])
    (message,) = receiver.wait_for(1)
    assert len(message.raw) <= 2048
    assert message.cef is not None
    ext = message.cef.extension
    assert (ext["externalId"], ext["cn2Label"]) == (big.id, "truncatedBytes")
    assert int(ext["cn2"]) > 3000 and "cs6" not in ext


def test_it_refuses_for_good_a_datagram_that_cannot_fit_at_all(receivers):
    receiver = receivers("udp")
    transport = transport_for(receiver, max_message_bytes=480, hostname="h" * 255, app_name="a" * 48)
    with pytest.raises(SyslogDeliveryError) as caught:
        transport.deliver([wipe_event()])
    assert not caught.value.retryable
    time.sleep(0.1)
    assert receiver.messages == []


# --- the receiver's own checks (so that a test passing means something)


@pytest.mark.parametrize(
    "data",
    [
        b'<192>1 2026-12-02T16:54:28.123456Z h mdm - t [mdm@32473 id="1" type="t"] \xef\xbb\xbf{}',
        b"<013>1 2026-12-02T16:54:28Z h mdm - t -",
        b"<13>2 2026-12-02T16:54:28Z h mdm - t -",
        b"<13>1 2026-12-02 16:54:28Z h mdm - t -",
        b"<13>1 2026-12-02T16:54:60Z h mdm - t -",
        b"<13>1 2026-12-02T16:54:28.1234567Z h mdm - t -",
        b"<13>1 2026-12-02T16:54:28Z h  mdm - t -",
        b"<13>1 2026-12-02T16:54:28Z h mdm - " + b"m" * 33 + b" -",
        b'<13>1 2026-12-02T16:54:28Z h mdm - t [mdm id="1"]',
        b'<13>1 2026-12-02T16:54:28Z h mdm - t [mdm@32473 id="a]b"]',
        b'<13>1 2026-12-02T16:54:28Z h mdm - t [mdm@32473 id="a\\b"]',
        b'<13>1 2026-12-02T16:54:28Z h mdm - t [mdm@32473 id="1"][mdm@32473 id="2"]',
        b'<13>1 2026-12-02T16:54:28Z h mdm - t [mdm@32473 id="1"]{"no":"bom"}',
    ],
)
def test_the_receiver_refuses_what_rfc5424_does_not_allow(data):
    with pytest.raises(Invalid):
        parse_message(data, None)


def test_the_receiver_refuses_json_without_a_bom_and_cef_that_does_not_parse():
    head = b'<13>1 2026-12-02T16:54:28.123456Z h mdm - t [mdm@32473 id="1" type="t"] '
    with pytest.raises(Invalid, match="BOM"):
        parse_message(head + b'{"id":"1"}', "json")
    for line in (
        b"CEF:0|a|b|1|t|n|5",
        b"CEF:0|a|b|1|t|n|11|",
        b"CEF:0|a|b|1|t|n|5|k=v=w",
        b"CEF:0|a|b|1|t|n|5|k=a\\|b",
    ):
        with pytest.raises(Invalid):
            parse_message(head + line, "cef")
