"""The syslog transport: each event as one RFC 5424 message, over TLS (RFC 5425), TCP (RFC 6587)
or UDP (RFC 5426).

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [mdm@32473 id="..." type="..." org="..."] MSG

TIMESTAMP is the event's time (UTC, microseconds), MSGID the event type (cut to the 32 characters
RFC 5424 allows; the whole type is in the structured data), MSG the envelope's JSON after a UTF-8
BOM (format `json`) or a CEF line (format `cef`, no BOM: CEF parsers expect `CEF:` first).
32473 is the example Private Enterprise Number of RFC 5612: the project has no number of its own,
and the SD-ID only has to be stable for a receiver's rules to match it.

On TCP and TLS every message is octet-counted (`<length> <message>`), one connection per
`deliver()` call. Syslog has no acknowledgements: a message written is not known to be read. So
the connection is closed gracefully (our half-close, then the receiver's) and a reset at that point
(the receiver dropped data it had not read) is a failure too; delivery is at least once, and a
receiver drops duplicates by the event id. Docs: docs/siem-syslog.md.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from events.envelope import Envelope
from events.transports import TransportError
from events.transports.addresses import deadline, delivery_deadline_seconds, literal_refused, resolve_checked
from events.transports.cef import cef_line, severity
from mdm.errors import ServiceError

TRANSPORTS = ("tls", "tcp", "udp")
FORMATS = ("json", "cef")
DEFAULT_PORTS = {"tls": 6514, "tcp": 514, "udp": 514}
# RFC 5424 §6.2.1, with the names syslog daemons use for them.
FACILITIES = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    "ntp": 12,
    "audit": 13,
    "alert": 14,
    "clock": 15,
    **{f"local{n}": 16 + n for n in range(8)},
}
FACILITY_NAMES = {number: name for name, number in FACILITIES.items()}
# local0: a facility of its own, which the receiver routes to the SIEM, rather than authpriv, which
# most hosts already write to their own security log.
DEFAULT_FACILITY = "local0"
DEFAULT_APP_NAME = "mdm"
# RFC 5426 §3.2: receivers must take 480 bytes, should take 2048.
DEFAULT_MAX_MESSAGE_BYTES = 2048
MIN_MESSAGE_BYTES = 480
MAX_UDP_PAYLOAD = 65507
MAX_CA_PEM_CHARS = 200_000
DEFAULT_TIMEOUT = 10.0
# What the closing handshake reads of a receiver that talks back before it closes, at the most.
MAX_DRAIN_BYTES = 1 << 20

SD_ID = "mdm@32473"
BOM = b"\xef\xbb\xbf"

_PRINTUSASCII = re.compile(r"^[\x21-\x7e]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_KEYS = {
    "host",
    "port",
    "transport",
    "format",
    "facility",
    "app_name",
    "hostname",
    "ca_pem",
    "server_name",
    "verify",
    "max_message_bytes",
}


class SyslogDeliveryError(TransportError):
    """A syslog delivery that stopped part way. `delivered` messages had been written to the
    receiver before it failed (written, not known to be read: resending them is the safe choice,
    the receiver drops duplicates by id)."""

    def __init__(self, message: str, *, delivered: int = 0, retryable: bool = True):
        super().__init__(message, retryable=retryable)
        self.delivered = delivered


def _host(value: Any) -> str | None:
    """A hostname (RFC 1123) or an IP address, normalised; None when it is neither."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    name = value.lower().removesuffix(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return None
    # All digits and dots is a mistyped address, not a name.
    if re.fullmatch(r"[0-9.]+", name):
        return None
    return name


def _load_ca(pem: str) -> list[x509.Certificate]:
    certificates = x509.load_pem_x509_certificates(pem.encode("ascii"))
    # What ssl will be given must load there too (the same parse is the one deliveries rely on).
    ssl.create_default_context(cadata=pem)
    return certificates


def syslog_config_clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A syslog destination's configuration, checked and with its defaults filled in.

    Refuses with `ServiceError` naming each key at fault (`config.host`, ...). There is no way to
    turn certificate verification off: a receiver with a private CA gives it as `ca_pem`.
    """
    if not isinstance(raw, Mapping):
        raise ServiceError("The syslog configuration must be an object.", field="config")
    errors: dict[str, list[str]] = {}

    def fail(key: str, message: str) -> None:
        errors.setdefault(f"config.{key}", []).append(message)

    for key in sorted(set(raw) - _KEYS):
        fail(key, f"Unknown setting {key!r} for a syslog destination.")

    transport = raw.get("transport", "tls")
    if transport not in TRANSPORTS:
        fail("transport", "The transport must be one of: tls, tcp, udp.")
        transport = "tls"

    host = _host(raw.get("host"))
    if "host" not in raw or raw.get("host") in (None, ""):
        fail("host", "The receiver's host is required.")
    elif host is None:
        fail("host", "The host must be a hostname or an IP address.")
    elif literal_refused(host):
        fail("host", "The host is a private or local address (MDM_EVENTS_ALLOW_PRIVATE_URLS is off).")

    port = raw.get("port", DEFAULT_PORTS[transport])
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        fail("port", "The port must be a whole number from 1 to 65535.")

    fmt = raw.get("format", "json")
    if fmt not in FORMATS:
        fail("format", "The format must be json or cef.")

    facility_raw = raw.get("facility", DEFAULT_FACILITY)
    facility: str | None = None
    if isinstance(facility_raw, str) and facility_raw.strip().lower() in FACILITIES:
        facility = facility_raw.strip().lower()
    elif isinstance(facility_raw, int) and not isinstance(facility_raw, bool) and facility_raw in FACILITY_NAMES:
        facility = FACILITY_NAMES[facility_raw]
    else:
        fail("facility", "The facility must be a syslog facility name (local0 ... local7, authpriv, ...) or 0-23.")

    app_name = raw.get("app_name", DEFAULT_APP_NAME)
    if not isinstance(app_name, str) or len(app_name) > 48 or not _PRINTUSASCII.match(app_name):
        fail("app_name", "The app name must be 1 to 48 printable ASCII characters, without spaces.")

    hostname = raw.get("hostname")
    if hostname is not None and (
        not isinstance(hostname, str) or len(hostname) > 255 or not _PRINTUSASCII.match(hostname)
    ):
        fail("hostname", "The hostname must be 1 to 255 printable ASCII characters, without spaces.")

    if "verify" in raw and raw["verify"] is not True:
        fail("verify", "Certificate verification cannot be turned off; give the receiver's CA as ca_pem instead.")

    cleaned: dict[str, Any] = {
        "host": host,
        "port": port,
        "transport": transport,
        "format": fmt,
        "facility": facility,
        "app_name": app_name,
        "hostname": hostname,
    }

    if transport == "tls":
        ca_pem = raw.get("ca_pem")
        if ca_pem in (None, ""):
            cleaned["ca_pem"] = None
        elif not isinstance(ca_pem, str) or len(ca_pem) > MAX_CA_PEM_CHARS:
            fail("ca_pem", "The CA must be a PEM text of at most 200,000 characters.")
        else:
            try:
                certificates = _load_ca(ca_pem)
            except (ValueError, UnicodeEncodeError, ssl.SSLError):
                fail("ca_pem", "The CA is not a PEM bundle of X.509 certificates.")
            else:
                # Stored as re-encoded, so stray text around the certificates is not kept.
                cleaned["ca_pem"] = "".join(c.public_bytes(Encoding.PEM).decode("ascii") for c in certificates)
        server_name = raw.get("server_name")
        if server_name in (None, ""):
            cleaned["server_name"] = None
        elif (name := _host(server_name)) is None:
            fail("server_name", "The server name must be a hostname or an IP address.")
        else:
            cleaned["server_name"] = name
    else:
        for key in ("ca_pem", "server_name"):
            if raw.get(key) not in (None, ""):
                fail(key, f"{key} applies to the tls transport only.")

    if transport == "udp":
        size = raw.get("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES)
        if isinstance(size, bool) or not isinstance(size, int) or not MIN_MESSAGE_BYTES <= size <= MAX_UDP_PAYLOAD:
            fail("max_message_bytes", f"The largest message must be {MIN_MESSAGE_BYTES} to {MAX_UDP_PAYLOAD} bytes.")
        cleaned["max_message_bytes"] = size
    elif "max_message_bytes" in raw:
        fail("max_message_bytes", "max_message_bytes applies to the udp transport only.")

    if errors:
        messages = [m for ms in errors.values() for m in ms]
        message = messages[0] if len(messages) == 1 else "The syslog configuration has invalid settings."
        raise ServiceError(message, errors=errors)
    return cleaned


def _printable(value: str, limit: int) -> str:
    """A header field: printable US-ASCII only (anything else becomes `_`), at most `limit`
    characters, the NILVALUE `-` when nothing is left."""
    text = re.sub(r"[^\x21-\x7e]", "_", value)[:limit]
    return text or "-"


def _sd_value(value: str) -> str:
    """An SD-PARAM value with `"`, `\\` and `]` escaped (RFC 5424 §6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8; JSON's \u escape keeps the text valid.
        return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class SyslogTransport:
    """Delivers envelopes to one syslog receiver, as configured by `syslog_config_clean`.

    `timeout` (seconds) bounds connecting, the TLS handshake, writing all messages and the
    closing handshake, each.
    """

    def __init__(self, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            self.config = syslog_config_clean(config)
        except ServiceError as exc:
            raise TransportError(
                f"The syslog destination's configuration is invalid: {exc.message}", retryable=False
            ) from exc
        self.timeout = timeout
        self._tls: ssl.SSLContext | None = None
        if self.config["transport"] == "tls":
            ca_pem = self.config["ca_pem"]
            context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.check_hostname = True
            context.verify_mode = ssl.CERT_REQUIRED
            self._tls = context

    @property
    def _address(self) -> str:
        return f"{self.config['host']}:{self.config['port']}"

    def render(self, envelope: Envelope, *, hostname: str | None = None) -> bytes:
        """The event as one RFC 5424 message (without the TCP framing), cut down to the event's
        identity when it would not fit a UDP datagram."""
        cfg = self.config
        hostname = _printable(hostname or cfg["hostname"] or socket.getfqdn(), 255)
        message = self._render(envelope, hostname=hostname)
        limit = cfg.get("max_message_bytes")
        if limit is not None and len(message) > limit:
            message = self._render(envelope, hostname=hostname, truncated_from=len(message))
            if len(message) > limit:
                raise SyslogDeliveryError(
                    f"Event {envelope.id} does not fit in {limit} bytes even without its data; "
                    "raise max_message_bytes or use tcp or tls.",
                    retryable=False,
                )
        return message

    def _render(self, envelope: Envelope, *, hostname: str, truncated_from: int | None = None) -> bytes:
        cfg = self.config
        pri = FACILITIES[cfg["facility"]] * 8 + severity(envelope.type).syslog
        timestamp = envelope.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        sd = (
            f'[{SD_ID} id="{_sd_value(envelope.id)}" type="{_sd_value(envelope.type)}" '
            f'org="{_sd_value(envelope.organization_slug)}"]'
        )
        header = f"<{pri}>1 {timestamp} {hostname} {cfg['app_name']} - {_printable(envelope.type, 32)} {sd} "
        if cfg["format"] == "cef":
            line = cef_line(envelope, brief=truncated_from is not None, original_bytes=truncated_from)
            return header.encode("utf-8", "replace") + line.encode("utf-8", "replace")
        document = envelope.as_json()
        if truncated_from is not None:
            # The data does not fit a datagram: the event's identity goes, with a marker saying so;
            # the whole event is in the server (and goes whole over tcp or tls).
            del document["data"]
            document["truncated"] = {"bytes": truncated_from}
        return header.encode("utf-8", "replace") + BOM + _json_bytes(document)

    def deliver(self, envelopes: Sequence[Envelope]) -> None:
        """Sends each envelope as one message, in order; raises `SyslogDeliveryError` (a
        `TransportError`) when the receiver cannot be reached or fails part way."""
        if not envelopes:
            return
        hostname = self.config["hostname"] or socket.getfqdn()
        messages = [self.render(envelope, hostname=hostname) for envelope in envelopes]
        if self.config["transport"] == "udp":
            self._send_datagrams(messages)
        else:
            self._send_stream(messages)

    def _fail(self, what: str, exc: BaseException, delivered: int) -> SyslogDeliveryError:
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = f"its certificate did not verify ({exc.verify_message})"
        elif isinstance(exc, ConnectionRefusedError):
            reason = "the connection was refused"
        elif isinstance(exc, TimeoutError):
            reason = f"no answer within {self.timeout:g} s"
        elif isinstance(exc, socket.gaierror):
            reason = f"the name did not resolve ({exc.strerror})"
        elif isinstance(exc, ConnectionResetError | BrokenPipeError):
            reason = "the receiver closed the connection"
        else:
            reason = str(exc) or type(exc).__name__
        return SyslogDeliveryError(
            f"syslog {self.config['transport']} {self._address}: {what}: {reason} "
            f"({delivered} of the batch written before).",
            delivered=delivered,
        )

    def _connect(self) -> socket.socket:
        # The address checked against the SSRF guard is the one connected to (events.transports.addresses).
        family, socktype, proto, sockaddr = resolve_checked(self.config["host"], self.config["port"])
        try:
            sock = socket.socket(family, socktype, proto)
            sock.settimeout(self.timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            raise self._fail("could not connect", exc, 0) from exc
        if self._tls is None:
            return sock
        try:
            return self._tls.wrap_socket(sock, server_hostname=self.config["server_name"] or self.config["host"])
        except OSError as exc:  # ssl.SSLError is an OSError
            sock.close()
            raise self._fail("TLS handshake failed", exc, 0) from exc

    def _send_stream(self, messages: list[bytes]) -> None:
        sock = self._connect()
        written = 0
        # The timeout bounds each step; the deadline the whole call (a receiver reading a byte at
        # a time, or talking back without end, would otherwise hold it for ever).
        with deadline(delivery_deadline_seconds(), lambda: sock):
            try:
                for message in messages:
                    sock.sendall(b"%d " % len(message) + message)
                    written += 1
                self._close_gracefully(sock)
            except OSError as exc:
                # Written is not read: what the kernel took may never have reached the receiver,
                # so nothing of the batch counts as delivered (it goes again; receivers dedupe by id).
                error = self._fail("sending failed", exc, written)
                error.delivered = 0
                raise error from exc
            finally:
                sock.close()

    def _close_gracefully(self, sock: socket.socket) -> None:
        """Ends the connection and waits for the receiver to end it too. A receiver that closes a
        connection with data it has not read answers with a reset: then what was written was not
        all read, and the batch has to go again. A receiver that does not answer within the timeout
        is taken to have read it (it may keep idle connections open)."""
        try:
            if isinstance(sock, ssl.SSLSocket):
                try:
                    sock = sock.unwrap()
                except ssl.SSLError:
                    # The receiver closed the TCP connection without TLS's close_notify: a close,
                    # not a reset, so it had read everything.
                    return
            sock.shutdown(socket.SHUT_WR)
            drained = 0
            while drained < MAX_DRAIN_BYTES and (chunk := sock.recv(4096)):
                drained += len(chunk)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise SyslogDeliveryError(
                f"syslog {self.config['transport']} {self._address}: the receiver reset the connection "
                "before reading every message; the batch has to be sent again.",
                delivered=0,
            ) from exc
        except OSError:
            # A timeout or a connection already gone quietly: everything was written and not refused.
            return

    def _send_datagrams(self, messages: list[bytes]) -> None:
        delivered = 0
        try:
            family, kind, proto, address = resolve_checked(self.config["host"], self.config["port"], socket.SOCK_DGRAM)
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(self.timeout)
                # Connected, so an ICMP "port unreachable" for one datagram fails a later send.
                sock.connect(address)
                for message in messages:
                    sock.send(message)
                    delivered += 1
        except OSError as exc:
            raise self._fail("sending failed", exc, delivered) from exc
