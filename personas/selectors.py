"""Reads of personas that the console and the admin API share: one definition of each.

Every read starts from the caller's organization: a persona of another one is not found.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from django.db.models import Q, QuerySet

from personas.android import AndroidPolicy, compile_android_policy
from personas.compiler import compile_policy, persona_template
from personas.models import AppRule, Persona
from personas.services import spec_of

# The preview is the document of no particular device: these parts are placeholders.
PREVIEW_KEY_ID = "00000000-0000-0000-0000-000000000000"
PREVIEW_PLACEHOLDERS = ("version", "encryption.key_id", "encryption.key_version")


def persona_list(*, organization_id: uuid.UUID, with_rules: bool = True) -> QuerySet[Persona]:
    """The organization's personas by name; `with_rules` fetches what `spec_of` reads, in two queries."""
    personas = Persona.objects.filter(organization_id=organization_id).order_by("name", "id")
    return personas.prefetch_related("app_rules", "sharing_rules") if with_rules else personas


def persona_get(*, organization_id: uuid.UUID, persona_id: uuid.UUID, with_rules: bool = True) -> Persona | None:
    """One persona of the organization, or None (there is no such persona, or it is another's)."""
    return persona_list(organization_id=organization_id, with_rules=with_rules).filter(pk=persona_id).first()


def persona_find(*, organization_id: uuid.UUID, ref: str) -> Persona | None:
    """One persona of the organization by its id or its name (names are unique, in any case)."""
    query = Q(name__iexact=ref.strip())
    with contextlib.suppress(ValueError):
        query |= Q(pk=uuid.UUID(ref))
    return persona_list(organization_id=organization_id).filter(query).first()


def persona_android_policy(*, persona: Persona) -> AndroidPolicy:
    """The Android Management API policy the persona compiles to, and what Android does not enforce."""
    return compile_android_policy(spec_of(persona))


def persona_policy_preview(*, persona: Persona) -> dict[str, Any]:
    """The policy document the persona compiles to, with placeholders for the per-device parts
    (PREVIEW_PLACEHOLDERS), validated against the policy schema like any device's."""
    return compile_policy(persona_template(persona, spec_of(persona)), version=1, key_id=PREVIEW_KEY_ID, key_version=1)


def persona_name_taken(*, organization_id: uuid.UUID, name: str, exclude_id: uuid.UUID | None = None) -> bool:
    """Whether another persona of the organization has this name (in any case)."""
    personas = Persona.objects.filter(organization_id=organization_id, name__iexact=name.strip())
    return personas.exclude(pk=exclude_id).exists() if exclude_id is not None else personas.exists()


def persona_app_ids(*, organization_id: uuid.UUID, limit: int = 1000) -> dict[str, list[str]]:
    """The app ids the organization's personas list, each with the names of the personas that do."""
    rows = (
        AppRule.objects.filter(organization_id=organization_id)
        .order_by("app_id", "persona__name")
        .values_list("app_id", "persona__name")[: limit * 5]
    )
    apps: dict[str, list[str]] = {}
    for app_id, persona_name in rows:
        if app_id in apps or len(apps) < limit:
            apps.setdefault(app_id, []).append(persona_name)
    return apps
