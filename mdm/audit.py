"""The audit log: one function writes events, one verifies an organization's chain.

Each event's hash covers the previous event's hash and the event's own canonical content, so
changing, inserting or removing a row breaks the chain at that point. The organization row holds
the head (last `seq` and hash): appending locks it, which keeps the chain linear under
concurrency and makes a deleted last event visible too.

Details are redacted by allow-list: each action declares the detail keys it may record, and
anything else a caller passes is replaced by "[redacted]", so a new secret argument cannot leak
into the log by omission.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mdm.actors import SYSTEM, Actor
from mdm.models import AuditEvent, Organization
from mdm.outbox import outbox_emit

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
REDACTED = "[redacted]"

# action -> the detail keys it may record. An action not listed here cannot be written.
AUDIT_ACTIONS: dict[str, frozenset[str]] = {}


def register_actions(actions: Mapping[str, set[str] | frozenset[str]]) -> None:
    """Declare audit actions and the detail keys each may record.

    Each app makes one call, in its own `audit.py`, which its AppConfig.ready() imports; mdm's
    own actions are declared just below, in this module.
    """
    for action, keys in actions.items():
        AUDIT_ACTIONS[action] = frozenset(keys)


# mdm's own actions: organizations, members and invitations, API tokens, sign-in, signing keys, the log.
register_actions(
    {
        "organization.created": {"name", "slug"},
        "member.added": {"email", "role"},
        "member.role_changed": {"email", "old_role", "new_role"},
        "member.removed": {"email", "role"},
        "member.invited": {"email", "role", "expires_at"},
        "member.invitation_accepted": {"email", "role"},
        "member.invitation_declined": {"email", "role"},
        "member.invitation_revoked": {"email", "role"},
        "member.invitation_resent": {"email", "role", "expires_at"},
        "account.sso_bound": {"email", "issuer", "subject"},
        "api_token.created": {"name", "prefix", "expires_at", "for_user"},
        "api_token.revoked": {"name", "prefix"},
        "signing_key.rotated": {"old_kid", "new_kid"},
        "signing_key.retired": {"kid", "devices_pinning", "forced"},
        "audit.chain_verified": {"ok", "events", "first_broken_seq", "reason"},
        # A CSV export (devices, audit log, a push's results) and the filters it was taken with.
        "data.exported": {"what", "filters"},
    }
)


def _redact(action: str, details: dict[str, Any]) -> dict[str, Any]:
    allowed = AUDIT_ACTIONS[action]
    return {key: (value if key in allowed else REDACTED) for key, value in details.items()}


def _canonical(event: AuditEvent) -> bytes:
    content = {
        "organization": str(event.organization_id),
        "seq": event.seq,
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "details": event.details,
        "client_ip": event.client_ip,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(event.prev_hash.encode() + b"\n" + _canonical(event)).hexdigest()


def audit_event_record(
    *,
    organization: Organization,
    action: str,
    actor: Actor | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    details: dict[str, Any] | None = None,
    client_ip: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event to `organization`'s chain, in the caller's transaction.

    `actor` is who acts (OrgContext.actor gives the one of a request); None means the system.
    `target` may be a model instance, or be described by the target_* strings.
    """
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}: declare it with register_actions().")
    actor = actor or SYSTEM
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_label = target_label or str(target)[:254]
    with transaction.atomic():
        head = (
            Organization.objects.select_for_update().only("id", "audit_seq", "audit_head_hash").get(pk=organization.pk)
        )
        event = AuditEvent(
            organization_id=head.pk,
            seq=head.audit_seq + 1,
            created_at=at or timezone.now(),
            actor_type=str(actor.kind),
            actor_id=actor.id,
            actor_label=actor.label[:254],
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_label=target_label[:254],
            # A JSON round trip now, so that the hash covers exactly what the database returns.
            details=json.loads(json.dumps(_redact(action, details or {}), default=str)),
            client_ip=client_ip or "",
            prev_hash=head.audit_head_hash or GENESIS_HASH,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
        Organization.objects.filter(pk=head.pk).update(audit_seq=event.seq, audit_head_hash=event.hash)
        # Every audit event also leaves for the organization's SIEM destinations, in this
        # transaction: the redacted details exactly as stored, and the chain's hash.
        outbox_emit(organization_id=head.pk, type=f"audit.{action}", data=audit_event_data(event), at=event.created_at)
    return event


def audit_event_data(event: AuditEvent) -> dict[str, Any]:
    """An audit event as its SIEM event carries it (the `data` of `audit.<action>`)."""
    return {
        "seq": event.seq,
        "action": event.action,
        "actor": {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label},
        "target": {"type": event.target_type, "id": event.target_id, "label": event.target_label},
        "details": event.details,
        "client_ip": event.client_ip,
        "hash": event.hash,
    }


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str = ""


def audit_chain_verify(organization: Organization) -> ChainReport:
    """Walk an organization's chain from the first event; report the first broken link."""
    organization = Organization.objects.get(pk=organization.pk)
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    for event in AuditEvent.objects.filter(organization=organization).order_by("seq").iterator(chunk_size=2000):
        count += 1
        if event.seq != expected_seq:
            return ChainReport(False, count, expected_seq, f"event #{expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return ChainReport(False, count, event.seq, f"event #{event.seq} does not link to the event before it")
        if event_hash(event) != event.hash:
            return ChainReport(False, count, event.seq, f"event #{event.seq} was changed after it was written")
        prev_hash = event.hash
        expected_seq += 1
    if organization.audit_seq != expected_seq - 1:
        return ChainReport(
            False, count, expected_seq, f"the log ends at #{expected_seq - 1} but #{organization.audit_seq} was written"
        )
    if organization.audit_seq and organization.audit_head_hash != prev_hash:
        return ChainReport(False, count, organization.audit_seq, "the last event does not match the recorded head")
    return ChainReport(True, count)


def audit_chain_verify_record(organization: Organization, *, actor: Actor | None = None) -> ChainReport:
    """Verify the chain and record the outcome in it (`audit.chain_verified`, by `actor`: the
    admin who asked, or the system at night)."""
    report = audit_chain_verify(organization)
    if not report.ok:
        logger.error(
            "Audit chain of %s is broken at #%s: %s", organization.slug, report.first_broken_seq, report.reason
        )
    audit_event_record(
        organization=organization,
        action="audit.chain_verified",
        actor=actor,
        details={
            "ok": report.ok,
            "events": report.events,
            "first_broken_seq": report.first_broken_seq,
            "reason": report.reason,
        },
    )
    return report


# --- The log as people read it --------------------------------------------------------------------
#
# The console shows an event's details as labelled values in words: no Python or JSON syntax, no
# empty value, Yes/No for a boolean, a list as its lines. An app may register how one detail key of
# its actions reads (`register_detail_renderer`): the personas app turns a persona's diff lines into
# its settings' names.


@dataclass(frozen=True)
class AuditDetail:
    label: str
    value: str = ""
    lines: list[str] = field(default_factory=list)  # a list, shown one line each


DetailRenderer = Callable[[Any], "list[str] | str"]
DETAIL_RENDERERS: dict[str, DetailRenderer] = {}

DETAIL_LABELS: dict[str, Any] = {
    "ok": gettext_lazy("Intact"),
    "diff": gettext_lazy("Changes"),
    "events": gettext_lazy("Events checked"),
    "first_broken_seq": gettext_lazy("First broken event"),
    "command_id": gettext_lazy("Command"),
    "wipe_id": gettext_lazy("Wipe"),
    "expires_at": gettext_lazy("Expires"),
    "for_user": gettext_lazy("For"),
    "old_kid": gettext_lazy("Old key"),
    "new_kid": gettext_lazy("New key"),
    "kid": gettext_lazy("Key"),
    "devices_pinning": gettext_lazy("Devices still on it"),
    "uses_allowed": gettext_lazy("Uses"),
    "token_prefix": gettext_lazy("Token"),
    "os_version": gettext_lazy("OS version"),
    "old_role": gettext_lazy("Role before"),
    "new_role": gettext_lazy("Role now"),
    "old_name": gettext_lazy("Name before"),
    "new_name": gettext_lazy("Name now"),
    "signup_url_name": gettext_lazy("Sign-up"),
    "device_ids": gettext_lazy("Device ids"),
}


def register_detail_renderer(key: str, renderer: DetailRenderer) -> None:
    """How the value of detail `key` reads in the console: a string, or lines."""
    DETAIL_RENDERERS[key] = renderer


def detail_label(key: str) -> str:
    label = DETAIL_LABELS.get(key)
    return str(label) if label is not None else key.replace("_", " ").strip().capitalize()


_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def detail_value(value: Any) -> str:
    """One value in words: Yes/No, a list joined with commas, an object as `label: value` pairs,
    an ISO instant as a UTC date and time; empty for nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(text for text in (detail_value(item) for item in value) if text)
    if isinstance(value, dict):
        pairs = ((detail_label(str(k)), detail_value(v)) for k, v in value.items())
        return "; ".join(f"{label}: {text}" for label, text in pairs if text)
    text = str(value).strip()
    if _ISO_INSTANT.match(text):
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            return text
        if instant.tzinfo is not None:
            return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return text


def audit_details_display(details: Mapping[str, Any] | None) -> list[AuditDetail]:
    """An event's details as the console shows them, empty values left out."""
    shown = []
    for key, value in (details or {}).items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        renderer = DETAIL_RENDERERS.get(key)
        rendered: list[str] | str
        try:
            rendered = renderer(value) if renderer is not None else detail_value(value)
        except Exception:  # a value older code wrote in another shape: shown plainly, never a 500
            logger.warning("audit detail %r did not render", key, exc_info=True)
            rendered = detail_value(value)
        if isinstance(rendered, list):
            if rendered:
                shown.append(AuditDetail(detail_label(key), lines=rendered))
        elif rendered:
            shown.append(AuditDetail(detail_label(key), value=rendered))
    return shown


def audit_action_label(action: str) -> str:
    """`persona.devices_assigned` → "Persona devices assigned"."""
    return re.sub(r"[._]+", " ", action).strip().capitalize()
