"""Reads of devices that the console and the admin API share: one definition of each."""

from __future__ import annotations

import uuid

from django.db.models import Count

from devices.choices import DeviceState
from devices.models import Device


def persona_device_counts(*, organization_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Active devices per persona of the organization (a persona with none is absent)."""
    rows = (
        Device.objects.filter(organization_id=organization_id, state=DeviceState.ACTIVE, persona__isnull=False)
        .values_list("persona_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)
