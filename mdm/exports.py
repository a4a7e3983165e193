"""The audit log as CSV (console and admin API, each with its own filters), and the audit event
every export writes: who took which rows out, with which filters."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from mdm.audit import audit_event_record
from mdm.lib.csvstream import csv_response, export_filename, keyset_chunks
from mdm.lib.http import client_ip
from mdm.models import AuditEvent
from mdm.permissions import OrgContext

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


def export_response(
    request: HttpRequest,
    *,
    context: OrgContext,
    what: str,
    filters: dict[str, Any],
    header: Sequence[str],
    chunks: Iterator[list[Sequence[Any]]],
) -> StreamingHttpResponse:
    """An export, from the console or the admin API: its audit event (who took which rows out,
    with which filters), written before the first row leaves, then the streamed CSV."""
    organization = context.organization
    audit_event_record(
        organization=organization,
        action="data.exported",
        actor=context.actor,
        details={"what": what, "filters": {key: str(value) for key, value in filters.items()}},
        client_ip=client_ip(request),
    )
    filename = export_filename(what.replace("_", "-"), organization.slug)
    return csv_response(request, filename=filename, header=header, chunks=chunks)


def audit_export_response(
    request: HttpRequest, *, context: OrgContext, events: QuerySet[AuditEvent], filters: dict[str, Any]
) -> StreamingHttpResponse:
    return export_response(
        request,
        context=context,
        what="audit_events",
        filters=filters,
        header=AUDIT_COLUMNS,
        chunks=audit_export(events),
    )
