"""Celery tasks of the shared parts. Thin: load fresh rows, call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from mdm.audit import audit_chain_verify_record
from mdm.models import Organization

logger = logging.getLogger(__name__)


@shared_task
def audit_chain_verify_task(organization_id: str) -> dict:
    """Verify one organization's audit chain and record the outcome in that chain.

    Idempotent in effect: running it twice records two verifications, each true at its time.
    """
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"ok": False, "reason": "no such organization"}
    report = audit_chain_verify_record(organization)
    return {"ok": report.ok, "events": report.events}


@shared_task
def audit_chains_verify_task() -> int:
    """Nightly (beat): queue a verification of every organization's chain."""
    ids = list(Organization.objects.values_list("pk", flat=True))
    for organization_id in ids:
        audit_chain_verify_task.delay(str(organization_id))
    return len(ids)
