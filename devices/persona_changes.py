"""Changing a persona and pushing the change to its devices: one service, which the console's
editor and the admin API's PUT and PATCH both call.

The persona domain knows nothing of devices, so the edit (personas.services.persona_update) and
its push (devices.push) meet here, above both: they commit together, and a change is never left
without its push.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from devices.models import Push
from devices.push import push_start_for_persona
from mdm.actors import Actor
from personas.models import Persona
from personas.services import persona_update


@dataclass(frozen=True)
class PersonaChange:
    """What a change did: the persona as saved, the lines of its diff (none: nothing changed), and
    the push that delivers it (None when nothing changed)."""

    persona: Persona
    changes: list[str] = field(default_factory=list)
    push: Push | None = None


def persona_change(
    *,
    persona: Persona,
    spec: dict[str, Any] | None = None,
    patch: dict[str, Any] | None = None,
    actor: Actor,
    client_ip: str | None = None,
) -> PersonaChange:
    """Replace the persona's spec with `spec`, or lay `patch` over it (see persona_update), and
    start a push of the new revision if anything changed. Refusals are ServiceError, and leave
    both the persona and its devices as they were."""
    with transaction.atomic():
        persona, changes = persona_update(persona=persona, spec=spec, patch=patch, actor=actor, client_ip=client_ip)
        push = push_start_for_persona(persona=persona, actor=actor) if changes else None
    return PersonaChange(persona=persona, changes=changes, push=push)
