"""Celery tasks of the devices app. Thin and idempotent: each calls one service."""

from __future__ import annotations

from celery import shared_task

from devices import push, services, wipe
from devices.channels import agent
from devices.commands import results, rotate_container_key


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
def used_assertions_purge_task() -> int:
    """Forget assertion ids past their expiry (they can no longer be replayed anyway)."""
    return services.used_assertions_purge()


@shared_task
def enrollment_tokens_forget_expired_task() -> int:
    """Erase the wrapped copy of every expired enrollment token (kept only for its QR code)."""
    return services.enrollment_tokens_forget_expired()
