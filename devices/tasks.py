"""Celery tasks of the devices app. Thin and idempotent: each calls one service."""

from __future__ import annotations

from celery import shared_task

from devices.services import enrollment_tokens_forget_expired, used_assertions_purge


@shared_task
def used_assertions_purge_task() -> int:
    """Forget assertion ids past their expiry (they can no longer be replayed anyway)."""
    return used_assertions_purge()


@shared_task
def enrollment_tokens_forget_expired_task() -> int:
    """Erase the wrapped copy of every expired enrollment token (kept only for its QR code)."""
    return enrollment_tokens_forget_expired()
