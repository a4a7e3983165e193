"""The project package: settings, URLs, the Celery app, and what every app shares
(organizations and roles, the audit log, the keyring, problem+json errors)."""

from mdm.celery import app as celery_app

__all__ = ["celery_app"]
