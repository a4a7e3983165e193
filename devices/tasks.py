"""Celery tasks of the devices app. Thin and idempotent: each calls one service."""

from __future__ import annotations

import logging
import random

from celery import shared_task

from devices import compliance, push, services, wipe
from devices.android import client as google
from devices.android import commands as android_commands
from devices.android import devices as android_devices
from devices.android import policies as android_policies
from devices.channels import agent
from devices.commands import results, rotate_container_key
from devices.models import AndroidEnterprise

logger = logging.getLogger(__name__)
# Google's 429 and 5xx: asked again with exponential backoff and jitter, for about a day at most.
GOOGLE_RETRIES = 12


def _with_google(task, call):
    """Run `call()`; what Google asked to wait for (429, 5xx, unreachable) is retried with backoff,
    what it refused is the task's failure."""
    try:
        return call()
    except google.GoogleError as exc:
        if exc.retryable:
            raise _google_retry(task, exc) from exc
        raise


def _google_retry(task, exc: google.GoogleError):
    """Retry a task Google asked to wait (429, 5xx, unreachable): 2, 4, 8 ... s, at most 30 min."""
    delay = min(1800, 2 ** (task.request.retries + 1))
    jitter = random.uniform(0, delay / 2)  # noqa: S311 (jitter, not a secret)
    return task.retry(exc=exc, countdown=delay + jitter, max_retries=GOOGLE_RETRIES)


@shared_task
def push_fanout_task(push_id: str) -> dict:
    """Fan a push out to its devices in batches; run again, it resumes where it stopped."""
    done = push.push_run(push_id)
    return {"state": done.state, "processed": done.processed, "batches": done.batches}


@shared_task
def enforcement_apply_task() -> dict:
    """Lock, then wipe, the containers of devices non-compliant for too long (persona rules)."""
    return wipe.enforcement_apply()


@shared_task
def pushes_resume_task() -> int:
    """Hand every push whose lease has run out (its worker died) to a new task."""
    return push.pushes_resume()


@shared_task
def commands_expire_task() -> int:
    return results.commands_expire()


@shared_task
def commands_rewake_task() -> int:
    return agent.commands_rewake()


@shared_task
def container_keys_rotate_task() -> int:
    return rotate_container_key.container_keys_rotate_due()


@shared_task
def devices_mark_silent_task() -> int:
    return services.devices_mark_silent()


@shared_task
def compliance_snapshots_take_task() -> int:
    """Today's compliance snapshot of every organization (the dashboard's chart); safe to rerun."""
    return compliance.compliance_snapshots_take()


@shared_task
def used_assertions_purge_task() -> int:
    """Forget assertion ids past their expiry (they can no longer be replayed anyway)."""
    return services.used_assertions_purge()


@shared_task
def enrollment_tokens_forget_expired_task() -> int:
    """Erase the wrapped copy of every expired enrollment token (kept only for its QR code)."""
    return services.enrollment_tokens_forget_expired()


@shared_task(bind=True)
def android_push_sync_task(self, push_id: str) -> str:
    """The Android part of a push: the persona's policy patched at Google (idempotent)."""
    return _with_google(self, lambda: android_policies.push_android_sync(push_id=push_id))


@shared_task(bind=True)
def android_policies_sync_task(self, organization_id: str) -> int:
    """Every persona's policy sent to Google (an organization just connected)."""
    return _with_google(self, lambda: android_policies.organization_policies_send(organization_id=organization_id))


@shared_task(bind=True)
def android_enrollment_token_delete_task(self, google_name: str) -> bool:
    """Delete a revoked or used-up enrollment token at Google (already gone is fine)."""
    try:
        _with_google(self, lambda: google.enrollment_token_delete(name=google_name))
    except google.GoogleError as exc:
        if exc.status != 404:
            raise
    return True


@shared_task(bind=True)
def android_commands_send_task(self, command_ids: list[str]) -> dict:
    """Send queued commands of Android devices to Google; those Google asked to wait, again later."""
    try:
        return android_commands.commands_send(command_ids=command_ids)
    except google.GoogleError as exc:
        raise _google_retry(self, exc) from exc


@shared_task
def android_operations_follow_task() -> dict:
    """Ask Google how the operations of delivered commands ended (a missed COMMAND notification)."""
    return android_commands.operations_follow()


@shared_task
def android_devices_reconcile_task() -> dict:
    """Walk every connected enterprise's devices.list: what a missed notification left out is
    repaired. One enterprise failing does not stop the others (its error is shown in the console)."""
    totals = {"enterprises": 0, "seen": 0, "created": 0, "gone": 0, "moved": 0, "failed": 0}
    for enterprise in AndroidEnterprise.objects.exclude(name="").order_by("pk"):
        try:
            counts = android_devices.devices_reconcile(organization_id=enterprise.organization_id)
        except google.GoogleError as exc:
            logger.warning("Reconciling %s failed: %s", enterprise.name, exc)
            AndroidEnterprise.objects.filter(pk=enterprise.pk).update(reconcile_detail=f"failed: {exc}"[:1000])
            totals["failed"] += 1
            continue
        totals["enterprises"] += 1
        for key in ("seen", "created", "gone", "moved"):
            totals[key] += counts[key]
    android_devices.pubsub_messages_forget()
    return totals
