"""Corporate container definitions. A persona knows nothing of devices."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Persona(models.Model):
    """A corporate container definition: what the work side of a device is allowed to hold and do.

    Every change bumps `revision`; the policy compiler turns (persona revision, device) into a
    signed policy document.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="personas")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="persona_name_unique")]

    def __str__(self) -> str:
        return self.name
