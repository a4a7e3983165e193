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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from mdm.actors import SYSTEM, Actor
from mdm.models import AuditEvent, Organization
from mdm.outbox import outbox_emit

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
