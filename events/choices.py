from django.db import models


class DestinationKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SYSLOG = "syslog", "Syslog"


class DestinationState(models.TextChoices):
    ACTIVE = "active", "Active"
    # Failing for longer than MDM_EVENTS_FAILING_AFTER_SECONDS: its events wait, none is dropped.
    FAILING = "failing", "Failing"


class ReplayState(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
