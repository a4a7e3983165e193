"""An event as a CEF line (ArcSight Common Event Format, revision 25), for SIEMs that parse CEF.

    CEF:0|dual-persona-mdm|mdm-server|1|audit.wipe.requested|wipe requested|8|rt=... externalId=...

Header fields escape `\\` and `|`; extension values escape `\\`, `=` and line breaks (`\\n`, `\\r`).
The mapping of an event's fields to CEF keys, and the severity of each event type, are documented
in docs/siem-syslog.md; `severity()` is shared with the syslog PRI.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from events.envelope import Envelope

CEF_VENDOR = "dual-persona-mdm"
CEF_PRODUCT = "mdm-server"
# The version of this event format (the envelope and this mapping), not of the server: a SIEM's
# parser is written against the format, and the format changes less often than the server.
CEF_VERSION = "1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Severity:
    """How much an event type matters, in both scales a SIEM sees."""

    name: str  # high | medium | low
    cef: int  # CEF 0-10
    syslog: int  # RFC 5424 severity: 4 warning, 5 notice, 6 informational


HIGH = Severity("high", 8, 4)
MEDIUM = Severity("medium", 5, 5)
LOW = Severity("low", 3, 6)

# Words of an event type (split on `.` and `_`) that make it high: a wipe or a lock takes a
# device's corporate side away from its user. Checked before MEDIUM, so `audit.wipe.failed` is high.
_HIGH_WORDS = frozenset({"wipe", "wiped", "lock"})
# Failures, refusals and drift from policy: worth a look, not an alarm.
_MEDIUM_WORDS = frozenset({"failed", "failure", "denied", "rejected", "refused", "error", "lost", "compliance"})


def severity(event_type: str) -> Severity:
    """The severity of an event type: wipes and locks high, failures (and compliance changes,
    lost devices) medium, everything else low."""
    words = set(re.split(r"[._]", event_type.lower()))
    if words & _HIGH_WORDS:
        return HIGH
    if words & _MEDIUM_WORDS:
        return MEDIUM
    return LOW


def escape_header(value: str) -> str:
    """A CEF header field: `\\` and `|` escaped; a line break would end the event, so it becomes a space."""
    value = value.replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"[\r\n]+", " ", value)


def escape_extension(value: str) -> str:
    """A CEF extension value: `\\`, `=` escaped, line breaks as `\\n` / `\\r` (CEF's own escapes)."""
    return value.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n")


def _label(event_type: str) -> str:
    """`audit.wipe.requested` -> `wipe requested`: the header's Name, for a person reading a console."""
    name = event_type.split(".", 1)[1] if event_type.startswith(("audit.", "device.")) else event_type
    return name.replace(".", " ").replace("_", " ")


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _party(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def extension(envelope: Envelope, *, brief: bool = False) -> list[tuple[str, str]]:
    """The extension's key/value pairs, unescaped, in a stable order. `brief` keeps only what
    identifies the event (for a datagram that cannot carry all of it)."""
    data = envelope.data
    category = envelope.type.split(".", 1)[0]
    pairs: list[tuple[str, str | None]] = [
        ("rt", str((envelope.timestamp - _EPOCH) // timedelta(milliseconds=1))),
        ("externalId", envelope.id),
        ("cat", category),
    ]
    if category == "audit":
        action = _text(data.get("action")) or envelope.type.removeprefix("audit.")
        actor = _party(data.get("actor"))
        target = _party(data.get("target"))
        details = data.get("details")
    else:
        # A device event: the device is its target, and there is no actor.
        action = envelope.type.split(".", 1)[1] if "." in envelope.type else envelope.type
        actor = {}
        device = _party(data.get("device"))
        target = {"type": "devices.device", "id": device.get("id"), "label": device.get("name")} if device else {}
        # What the device event says beyond naming the device (`compliant`, `failing`, ...).
        details = {k: v for k, v in data.items() if k != "device"} or None
    pairs += [("act", action), ("cs1Label", "organization"), ("cs1", envelope.organization_slug)]
    if brief:
        return [(k, v) for k, v in pairs if v is not None]
    client_ip = _text(data.get("client_ip"))
    ip_pairs: list[tuple[str, str | None]] = []
    if client_ip:
        try:
            ip = ipaddress.ip_address(client_ip)
        except ValueError:
            ip_pairs = []
        else:
            # CEF's src is an IPv4 address; an IPv6 one goes to the custom IPv6 slot CEF names for it.
            if ip.version == 4:
                ip_pairs = [("src", str(ip))]
            else:
                ip_pairs = [("c6a2Label", "Source IPv6 Address"), ("c6a2", str(ip))]
    pairs += [
        ("suser", _text(actor.get("label"))),
        ("duser", _text(target.get("label"))),
        *ip_pairs,
        ("cs2Label", "targetType"),
        ("cs2", _text(target.get("type"))),
        ("cs3Label", "targetId"),
        ("cs3", _text(target.get("id"))),
        ("cs4Label", "actorType"),
        ("cs4", _text(actor.get("type"))),
        ("cs5Label", "actorId"),
        ("cs5", _text(actor.get("id"))),
        ("cs6Label", "details"),
        ("cs6", _text(details)),
        ("cn1Label", "seq"),
        ("cn1", _text(data.get("seq")) if isinstance(data.get("seq"), int) else None),
    ]
    present = [(k, v) for k, v in pairs if v is not None]
    # A label without its value says nothing: drop `csNLabel` when `csN` is absent.
    keys = {k for k, _ in present}
    return [(k, v) for k, v in present if not (k.endswith("Label") and k.removesuffix("Label") not in keys)]


def cef_line(envelope: Envelope, *, brief: bool = False, original_bytes: int | None = None) -> str:
    """The event as one CEF line. `brief` (with the size of the full message) for a datagram
    that cannot carry the whole event."""
    sev = severity(envelope.type)
    header = "|".join(
        [
            "CEF:0",
            escape_header(CEF_VENDOR),
            escape_header(CEF_PRODUCT),
            escape_header(CEF_VERSION),
            escape_header(envelope.type),
            escape_header(_label(envelope.type)),
            str(sev.cef),
        ]
    )
    pairs = extension(envelope, brief=brief)
    if brief and original_bytes is not None:
        pairs += [("cn2Label", "truncatedBytes"), ("cn2", str(original_bytes))]
    return header + "|" + " ".join(f"{key}={escape_extension(value)}" for key, value in pairs)
