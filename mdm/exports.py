"""The audit log as CSV (console and admin API, each with its own filters), and the audit event
every export writes: who took which rows out, with which filters."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.db.models import QuerySet

from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.lib.csvstream import keyset_chunks
from mdm.models import AuditEvent, Organization

AUDIT_COLUMNS = (
    "seq", "created_at", "actor_type", "actor_id", "actor", "action", "target_type", "target_id", "target",
    "details", "client_ip", "hash",
)  # fmt: skip


_AUDIT_VALUES = (
    "seq", "created_at", "actor_type", "actor_id", "actor_label", "action", "target_type", "target_id",
    "target_label", "details", "client_ip", "hash",
)  # fmt: skip
_DETAILS = _AUDIT_VALUES.index("details")


def _audit_row(values: tuple[Any, ...]) -> Sequence[Any]:
    cells = list(values)
    details = cells[_DETAILS]
    cells[_DETAILS] = json.dumps(details, sort_keys=True, ensure_ascii=False) if details else ""
    return cells


def audit_export(events: QuerySet[AuditEvent]) -> Iterator[list[Sequence[Any]]]:
    """The events, newest first (the console's and the API's order), a chunk at a time."""
    return keyset_chunks(events, columns=_AUDIT_VALUES, order=("-seq",), row=_audit_row)


def export_record(
    *, organization: Organization, actor: Actor, what: str, filters: dict[str, Any], client_ip: str | None
) -> None:
    """The audit event of an export, written before its first row leaves."""
    audit_event_record(
        organization=organization,
        action="data.exported",
        actor=actor,
        details={"what": what, "filters": {key: str(value) for key, value in filters.items()}},
        client_ip=client_ip,
    )
