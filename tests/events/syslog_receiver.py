"""A real syslog receiver for the tests: TCP, TLS or UDP on 127.0.0.1, started and stopped by the
test (and started again on the same port: "the receiver down for a while, then up").

It takes what a syslog daemon takes (octet-counted frames on TCP and TLS, RFC 6587 §3.4.1 and
RFC 5425 §4.3; one message per datagram on UDP, RFC 5426) and checks every message strictly
against RFC 5424's ABNF, then its MSG: a UTF-8 BOM and one JSON event (format json) or one CEF
line (format cef). What does not pass is recorded in `errors`, which a test asserts empty
(`assert_valid()`); what passes is parsed into `messages`, in arrival order.

`Pki` makes a throwaway CA and a server certificate for 127.0.0.1 / localhost with `cryptography`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BOM = b"\xef\xbb\xbf"
MAX_FRAME = 1024 * 1024
# SD-IDs without an "@" are IANA's (RFC 5424 §7); anything else must be name@<enterprise number>.
IANA_SD_IDS = {"timeQuality", "origin", "meta"}

_PRI_VERSION = re.compile(rb"<(0|[1-9][0-9]{0,2})>([1-9][0-9]{0,2}) ")
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-](\d{2}):(\d{2}))$")
_CEF_KEY = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass
class CefEvent:
    """A CEF line, header fields and extension values unescaped."""

    vendor: str
    product: str
    version: str
    signature: str
    name: str
    severity: int
    extension: dict[str, str]


@dataclass
class SyslogMessage:
    """One message as the receiver parsed it."""

    raw: bytes
    pri: int
    version: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    structured_data: dict[str, dict[str, str]]
    msg: bytes
    json: dict[str, Any] | None = None
    cef: CefEvent | None = None

    @property
    def facility(self) -> int:
        return self.pri // 8

    @property
    def severity(self) -> int:
        return self.pri % 8

    @property
    def event_id(self) -> str:
        return self.structured_data["mdm@32473"]["id"]


class Invalid(ValueError):
    """A message that is not what RFC 5424 (or the expected MSG format) allows."""


def _token(data: bytes, pos: int, what: str, limit: int) -> tuple[str, int]:
    """A header field (NILVALUE or 1*limit PRINTUSASCII) followed by SP."""
    end = data.find(b" ", pos)
    if end < 0:
        raise Invalid(f"{what}: no SP after it")
    value = data[pos:end]
    if not value:
        raise Invalid(f"{what}: empty (two SP in a row)")
    if len(value) > limit:
        raise Invalid(f"{what}: {len(value)} characters, at most {limit}")
    if not all(0x21 <= b <= 0x7E for b in value):
        raise Invalid(f"{what}: not PRINTUSASCII: {value!r}")
    return value.decode("ascii"), end + 1


def _check_timestamp(value: str) -> None:
    if value == "-":
        return
    m = _TIMESTAMP.match(value)
    if not m:
        raise Invalid(f"TIMESTAMP: not RFC 3339 / RFC 5424 §6.2.3: {value!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if second > 59:
        raise Invalid("TIMESTAMP: leap seconds are not allowed")
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        raise Invalid("TIMESTAMP: bad offset")
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise Invalid(f"TIMESTAMP: {exc}") from exc


def _structured_data(data: bytes, pos: int) -> tuple[dict[str, dict[str, str]], int]:
    if data[pos : pos + 1] == b"-":
        return {}, pos + 1
    elements: dict[str, dict[str, str]] = {}
    if data[pos : pos + 1] != b"[":
        raise Invalid("STRUCTURED-DATA: neither '-' nor '['")
    while data[pos : pos + 1] == b"[":
        pos += 1
        sd_id, pos = _sd_name(data, pos, "SD-ID")
        if "@" in sd_id:
            name, _, number = sd_id.partition("@")
            if not name or "@" in name or not number.isdigit():
                raise Invalid(f"SD-ID {sd_id!r}: not name@<private enterprise number>")
        elif sd_id not in IANA_SD_IDS:
            raise Invalid(f"SD-ID {sd_id!r}: neither IANA-registered nor name@number")
        if sd_id in elements:
            raise Invalid(f"SD-ID {sd_id!r} twice")
        params: dict[str, str] = {}
        while data[pos : pos + 1] == b" ":
            name, pos = _sd_name(data, pos + 1, "PARAM-NAME")
            if data[pos : pos + 2] != b'="':
                raise Invalid(f'PARAM {name}: no =" after the name')
            value, pos = _param_value(data, pos + 2)
            params[name] = value
        if data[pos : pos + 1] != b"]":
            raise Invalid(f"SD-ELEMENT {sd_id}: no ']' at its end")
        pos += 1
        elements[sd_id] = params
    return elements, pos


def _sd_name(data: bytes, pos: int, what: str) -> tuple[str, int]:
    """SD-NAME: 1*32 PRINTUSASCII except '=', SP, ']' and '"'."""
    end = pos
    while end < len(data) and 0x21 <= data[end] <= 0x7E and data[end] not in b'=]"':
        end += 1
    if end == pos:
        raise Invalid(f"{what}: empty")
    if end - pos > 32:
        raise Invalid(f"{what}: {end - pos} characters, at most 32")
    return data[pos:end].decode("ascii"), end


def _param_value(data: bytes, pos: int) -> tuple[str, int]:
    out = bytearray()
    while True:
        if pos >= len(data):
            raise Invalid("PARAM-VALUE: no closing quote")
        c = data[pos]
        if c == 0x5C:  # backslash
            nxt = data[pos + 1 : pos + 2]
            if nxt not in (b'"', b"\\", b"]"):
                raise Invalid(f"PARAM-VALUE: '\\' not escaped (followed by {nxt!r})")
            out += nxt
            pos += 2
        elif c == 0x22:
            pos += 1
            break
        elif c == 0x5D:
            raise Invalid("PARAM-VALUE: ']' not escaped")
        else:
            out.append(c)
            pos += 1
    try:
        return out.decode("utf-8"), pos
    except UnicodeDecodeError as exc:
        raise Invalid(f"PARAM-VALUE: not UTF-8: {exc}") from exc


def parse_cef(text: str) -> CefEvent:
    """A CEF line, strictly: seven header fields with `\\|` and `\\\\` the only escapes, then
    key=value pairs whose values escape `\\`, `=` and line breaks."""
    if not text.startswith("CEF:0|"):
        raise Invalid("CEF: does not start with 'CEF:0|'")
    if "\n" in text or "\r" in text:
        raise Invalid("CEF: a raw line break")
    fields: list[str] = []
    current: list[str] = []
    pos = len("CEF:0|")
    while len(fields) < 6:
        if pos >= len(text):
            raise Invalid(f"CEF: {len(fields) + 1} header fields, 7 needed")
        c = text[pos]
        if c == "\\":
            nxt = text[pos + 1 : pos + 2]
            if nxt not in ("|", "\\"):
                raise Invalid(f"CEF header: bad escape \\{nxt}")
            current.append(nxt)
            pos += 2
        elif c == "|":
            fields.append("".join(current))
            current = []
            pos += 1
        else:
            current.append(c)
            pos += 1
    vendor, product, version, signature, name, sev = fields
    if not sev.isdigit() or not 0 <= int(sev) <= 10:
        raise Invalid(f"CEF: severity {sev!r} is not 0-10")
    return CefEvent(vendor, product, version, signature, name, int(sev), _cef_extension(text[pos:]))


def _cef_extension(text: str) -> dict[str, str]:
    # Tokens: literal runs and the unescaped '=' between them.
    parts: list[str] = []
    current: list[str] = []
    pos = 0
    while pos < len(text):
        c = text[pos]
        if c == "\\":
            nxt = text[pos + 1 : pos + 2]
            mapping = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}
            if nxt not in mapping:
                raise Invalid(f"CEF extension: bad escape \\{nxt}")
            current.append("\0" + mapping[nxt])  # marked: an escaped char never splits a key
            pos += 2
        elif c == "=":
            parts.append("".join(current))
            current = []
            pos += 1
        else:
            current.append(c)
            pos += 1
    parts.append("".join(current))
    if len(parts) == 1:
        if parts[0]:
            raise Invalid("CEF extension: text without key=value")
        return {}
    pairs: dict[str, str] = {}
    key = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        last = i == len(parts) - 1
        if last:
            value, next_key = part, None
        else:
            value, sep, next_key = part.rpartition(" ")
            if not sep:
                raise Invalid(f"CEF extension: no space before the key {part!r}")
        if not _CEF_KEY.match(key):
            raise Invalid(f"CEF extension: bad key {key!r}")
        if key in pairs:
            raise Invalid(f"CEF extension: key {key} twice")
        pairs[key] = value.replace("\0", "")
        if next_key is not None:
            key = next_key
    return pairs


def parse_message(data: bytes, fmt: str | None) -> SyslogMessage:
    """One RFC 5424 message, checked field by field; `fmt` (json, cef, None) what MSG must be."""
    m = _PRI_VERSION.match(data)
    if not m:
        raise Invalid(f"PRI/VERSION: {data[:12]!r}")
    pri, version = int(m.group(1)), int(m.group(2))
    if pri > 191:
        raise Invalid(f"PRI {pri} out of 0-191")
    if version != 1:
        raise Invalid(f"VERSION {version}, not 1")
    pos = m.end()
    timestamp, pos = _token(data, pos, "TIMESTAMP", 32)
    _check_timestamp(timestamp)
    hostname, pos = _token(data, pos, "HOSTNAME", 255)
    app_name, pos = _token(data, pos, "APP-NAME", 48)
    procid, pos = _token(data, pos, "PROCID", 128)
    msgid, pos = _token(data, pos, "MSGID", 32)
    sd, pos = _structured_data(data, pos)
    if pos == len(data):
        msg = b""
    elif data[pos : pos + 1] != b" ":
        raise Invalid("no SP between STRUCTURED-DATA and MSG")
    else:
        msg = data[pos + 1 :]
    message = SyslogMessage(data, pri, version, timestamp, hostname, app_name, procid, msgid, sd, msg)
    if fmt == "json":
        if not msg.startswith(BOM):
            raise Invalid("MSG: no BOM before the JSON")
        try:
            document = json.loads(msg[len(BOM) :].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise Invalid(f"MSG: not UTF-8 JSON: {exc}") from exc
        if not isinstance(document, dict) or not {"id", "type", "timestamp", "organization"} <= set(document):
            raise Invalid("MSG: not an event envelope")
        if ("data" in document) == ("truncated" in document):
            raise Invalid("MSG: an envelope has data, or is marked truncated")
        ours = sd.get("mdm@32473", {})
        if ours.get("id") != document["id"] or ours.get("type") != document["type"]:
            raise Invalid("STRUCTURED-DATA and MSG disagree on the event")
        if document["timestamp"] != timestamp:
            raise Invalid("TIMESTAMP is not the event's")
        message.json = document
    elif fmt == "cef":
        if msg.startswith(BOM):
            raise Invalid("MSG: a BOM before CEF (CEF parsers expect 'CEF:' first)")
        try:
            text = msg.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"MSG: not UTF-8: {exc}") from exc
        message.cef = parse_cef(text)
    return message


@dataclass
class SyslogReceiver:
    """A receiver on 127.0.0.1. `kind` tcp, tls (give `tls`, a server context) or udp; `fmt` what
    every MSG must be. `start()` again after `stop()` listens on the same port."""

    kind: str
    fmt: str | None = "json"
    tls: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[SyslogMessage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    tls_failures: list[str] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sock: socket.socket | None = None

    # --- lifecycle

    def start(self) -> SyslogReceiver:
        assert self._sock is None, "already started"
        self._stop.clear()
        kind = socket.SOCK_DGRAM if self.kind == "udp" else socket.SOCK_STREAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        if self.kind != "udp":
            sock.listen(16)
        sock.settimeout(0.05)
        self._sock = sock
        target = self._serve_datagrams if self.kind == "udp" else self._accept
        self._spawn(target, sock)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SyslogReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    # --- what tests look at

    def wait_for(self, count: int, timeout: float = 5.0) -> list[SyslogMessage]:
        """The messages once at least `count` arrived (or what arrived when `timeout` ran out)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.messages) < count and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            return list(self.messages)

    def assert_valid(self) -> None:
        assert not self.errors, f"the receiver refused messages: {self.errors}"

    def _record(self, data: bytes) -> None:
        try:
            message = parse_message(data, self.fmt)
        except Invalid as exc:
            with self._lock:
                self.errors.append(f"{exc}: {data[:200]!r}")
            return
        with self._lock:
            self.messages.append(message)
            self._lock.notify_all()

    def _error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    # --- serving

    def _serve_datagrams(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data = sock.recv(70000)
            except TimeoutError:
                continue
            except OSError:
                return
            self._record(data)

    def _accept(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            self._spawn(self._serve_stream, conn)

    def _serve_stream(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        if self.kind == "tls":
            assert self.tls is not None
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                with self._lock:
                    self.tls_failures.append(str(exc))
                conn.close()
                return
        conn.settimeout(0.05)
        buffer = b""
        try:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                except OSError as exc:
                    self._error(f"connection: {exc}")
                    return
                if not chunk:
                    if buffer:
                        self._error(f"the connection ended inside a frame: {buffer[:80]!r}")
                    if isinstance(conn, ssl.SSLSocket):
                        try:
                            conn.settimeout(1)
                            conn.unwrap()
                        except OSError:
                            pass
                    return
                buffer += chunk
                buffer = self._frames(buffer)
                if buffer is None:
                    return
        finally:
            conn.close()

    def _frames(self, buffer: bytes) -> bytes | None:
        """Takes every whole octet-counted frame off `buffer`; None when the framing is broken."""
        while buffer:
            m = re.match(rb"([1-9][0-9]*) ", buffer)
            if not m:
                if re.fullmatch(rb"[1-9][0-9]{0,6}", buffer):
                    return buffer  # the length is still arriving
                self._error(f"framing: no MSG-LEN SP at {buffer[:40]!r}")
                return None
            length = int(m.group(1))
            if length > MAX_FRAME:
                self._error(f"framing: a {length}-byte frame")
                return None
            if len(buffer) < m.end() + length:
                return buffer
            self._record(buffer[m.end() : m.end() + length])
            buffer = buffer[m.end() + length :]
        return buffer


class Pki:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, written to `directory`."""

    def __init__(self, directory: Path, *, common_name: str = "Test syslog CA") -> None:
        now = datetime.now(UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key())
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ca_ski, critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_path = directory / "server.pem"
        self.key_path = directory / "server.key"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem.encode())
        self.key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    @property
    def ca_pem(self) -> str:
        return self.ca.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        return context
