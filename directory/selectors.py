"""Reads of the directory that other apps use: which persona a provisioned person's devices get,
and the organization's offboarding rule. Importable from devices (the portal, enrollment): it
imports no devices module."""

from __future__ import annotations

import uuid

from directory.choices import Offboarding
from directory.models import DirectoryGroup, DirectorySettings
from personas.models import Persona


def persona_for(*, organization_id: uuid.UUID, user_id: uuid.UUID | None) -> Persona | None:
    """The persona a person's devices get from their provisioned groups, or None (no mapped group).

    The rule for a person in several mapped groups: the group with the highest priority wins;
    among equal priorities, the first by display name (then by id, so that the answer is stable).
    Only active, not deleted, provisioned users count.
    """
    if user_id is None:
        return None
    group = (
        DirectoryGroup.objects.filter(
            organization_id=organization_id,
            persona__isnull=False,
            memberships__member__user_id=user_id,
            memberships__member__active=True,
            memberships__member__deleted_at__isnull=True,
        )
        .select_related("persona")
        .order_by("-priority", "display_name", "id")
        .first()
    )
    return group.persona if group is not None else None


def offboarding_of(organization_id: uuid.UUID) -> str:
    settings = DirectorySettings.objects.filter(organization_id=organization_id).first()
    return settings.offboarding if settings is not None else Offboarding.WIPE
