"""What the review of issue 15 found in the transports, each pinned: a webhook's URL query (the
receiver's own token) never reaches an error, the delivery log or the audit log; a syslog batch
cut off by a reset counts nothing as delivered (written is not read); a receiver that answers a
byte at a time cannot hold a delivery beyond its deadline; syslog hosts pass the same SSRF guard
as webhooks."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from datetime import UTC, datetime

import pytest

from events.envelope import Envelope
from events.transports import TransportError
from events.transports.syslog import SyslogTransport, syslog_config_clean
from events.transports.webhook import WebhookTransport, webhook_secret_new
from mdm.errors import ServiceError


def envelope(i: int = 0, pad: int = 0) -> Envelope:
    return Envelope(
        id=f"id-{i}", type="audit.x", timestamp=datetime.now(UTC), organization_id="o", organization_slug="acme",
        data={"pad": "x" * pad},
    )  # fmt: skip


def serve_once(handler) -> int:
    """A one-connection TCP server on 127.0.0.1 running `handler(conn)`; its port."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run() -> None:
        conn, _ = server.accept()
        try:
            handler(conn)
        finally:
            conn.close()
            server.close()

    threading.Thread(target=run, daemon=True).start()
    return server.getsockname()[1]


def test_a_webhook_error_never_shows_the_urls_query(settings):
    settings.MDM_EVENTS_WEBHOOK_TIMEOUT_SECONDS = 1.0
    port = serve_once(lambda conn: (conn.recv(65536), conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")))
    transport = WebhookTransport({"url": f"http://127.0.0.1:{port}/hook?token=SEKRET123"}, webhook_secret_new())
    with pytest.raises(TransportError) as refused:
        transport.deliver([envelope()])
    assert "answered 500" in refused.value.message and "SEKRET123" not in refused.value.message
    closed = WebhookTransport({"url": "http://127.0.0.1:9/hook?token=SEKRET123"}, webhook_secret_new())
    with pytest.raises(TransportError) as failed:
        closed.deliver([envelope()])
    assert "SEKRET123" not in failed.value.message


def test_a_receiver_answering_a_byte_at_a_time_cannot_hold_a_webhook_delivery(settings):
    settings.MDM_EVENTS_WEBHOOK_TIMEOUT_SECONDS = 1.0
    settings.MDM_EVENTS_LEASE_SECONDS = 3  # the deadline of a call: half a lease

    def drip(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        until = time.monotonic() + 8
        while time.monotonic() < until:
            try:
                conn.sendall(b"a")
            except OSError:
                return
            time.sleep(0.3)  # each byte well within the 1 s timeout

    transport = WebhookTransport({"url": f"http://127.0.0.1:{serve_once(drip)}/"}, webhook_secret_new())
    started = time.monotonic()
    with pytest.raises(TransportError) as failed:
        transport.deliver([envelope()])
    assert time.monotonic() - started < 3
    assert failed.value.delivered == 0 and "within 1.5 s" in failed.value.message


def test_a_syslog_batch_cut_off_by_a_reset_counts_nothing_as_delivered(settings):
    def read_a_little_then_reset(conn: socket.socket) -> None:
        conn.recv(300)
        time.sleep(0.3)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    port = serve_once(read_a_little_then_reset)
    transport = SyslogTransport({"host": "127.0.0.1", "port": port, "transport": "tcp"}, timeout=2)
    with pytest.raises(TransportError) as failed:
        transport.deliver([envelope(i, pad=2000) for i in range(8000)])
    # The kernel took many of them; the receiver read 300 bytes. All of them go again.
    assert failed.value.delivered == 0


def test_a_receiver_talking_back_without_end_cannot_hold_a_syslog_delivery(settings):
    settings.MDM_EVENTS_LEASE_SECONDS = 3

    def chatter(conn: socket.socket) -> None:
        conn.recv(65536)
        until = time.monotonic() + 8
        while time.monotonic() < until:
            try:
                conn.sendall(b"x")
            except OSError:
                return
            time.sleep(0.3)

    transport = SyslogTransport({"host": "127.0.0.1", "port": serve_once(chatter), "transport": "tcp"}, timeout=1)
    started = time.monotonic()
    with contextlib.suppress(TransportError):  # either way, it has to end by the deadline
        transport.deliver([envelope()])
    assert time.monotonic() - started < 3


def test_syslog_hosts_pass_the_same_ssrf_guard_as_webhooks(settings):
    settings.MDM_EVENTS_ALLOW_PRIVATE_URLS = False
    for host in ("127.0.0.1", "10.0.0.5", "169.254.169.254", "::1"):
        with pytest.raises(ServiceError) as refused:
            syslog_config_clean({"host": host})
        assert "config.host" in refused.value.errors, host
    assert syslog_config_clean({"host": "93.184.216.34"})["host"] == "93.184.216.34"
    # A name is checked where it resolves, at each delivery, and the checked address is the one used.
    transport = SyslogTransport({"host": "localhost", "port": 6514, "transport": "tcp"}, timeout=1)
    with pytest.raises(TransportError) as failed:
        transport.deliver([envelope()])
    assert "private or local address" in failed.value.message
