"""Creating, editing and deleting personas. Each runs in one transaction and writes its audit
event; an edit bumps the revision (what starts a push is the caller's business: a persona knows
nothing of devices)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.errors import ServiceError
from mdm.models import Organization
from personas.choices import Channel, Decision, Direction
from personas.models import AppRule, Persona, SharingRule
from personas.spec import DEFAULT_PRESET, PRESETS, diff, merge, preset_spec, validate_spec


def spec_of(persona: Persona) -> dict[str, Any]:
    """The persona's settings as one document (see personas.spec)."""
    rules = {(r.channel, r.direction): r for r in persona.sharing_rules.all()}
    sharing: dict[str, Any] = {}
    for channel in Channel.values:
        entry: dict[str, Any] = {"exemptions": {}}
        for direction in Direction.values:
            rule = rules.get((channel, direction))
            entry[direction] = rule.decision if rule else Decision.DENY.value
            entry["exemptions"][direction] = list(rule.exempt_apps) if rule else []
        sharing[channel] = entry
    sharing["clipboard"]["max_chars"] = persona.clipboard_max_chars
    return {
        "name": persona.name,
        "description": persona.description,
        "apps": [
            {
                "id": rule.app_id,
                "install": rule.install,
                "min_version": rule.min_version or None,
                "signing_cert_sha256": list(rule.signing_cert_sha256),
                "managed_config": rule.managed_config,
            }
            for rule in persona.app_rules.all()
        ],
        "data_sharing": sharing,
        "encryption": {"cipher": persona.cipher, "rotate_after_days": persona.key_rotation_days},
        "access": {
            "passcode": {
                "required": persona.passcode_required,
                "min_length": persona.passcode_min_length,
                "complexity": persona.passcode_complexity,
            },
            "max_offline_days": persona.max_offline_days,
            "min_os_version": dict(persona.min_os_version),
            "block_compromised": persona.block_compromised,
        },
        "enforcement": {"block_after_days": persona.block_after_days, "wipe_after_days": persona.wipe_after_days},
    }


def _apply(persona: Persona, spec: dict[str, Any]) -> None:
    """Write a validated spec onto the persona's row and rules (the caller saves the row)."""
    persona.name = spec["name"]
    persona.description = spec["description"]
    persona.clipboard_max_chars = spec["data_sharing"]["clipboard"]["max_chars"]
    persona.cipher = spec["encryption"]["cipher"]
    persona.key_rotation_days = spec["encryption"]["rotate_after_days"]
    passcode = spec["access"]["passcode"]
    persona.passcode_required = passcode["required"]
    persona.passcode_min_length = passcode["min_length"]
    persona.passcode_complexity = passcode["complexity"]
    persona.max_offline_days = spec["access"]["max_offline_days"]
    persona.min_os_version = spec["access"]["min_os_version"]
    persona.block_compromised = spec["access"]["block_compromised"]
    persona.block_after_days = spec["enforcement"]["block_after_days"]
    persona.wipe_after_days = spec["enforcement"]["wipe_after_days"]


def _write_rules(persona: Persona, spec: dict[str, Any]) -> None:
    AppRule.objects.filter(persona=persona).delete()
    SharingRule.objects.filter(persona=persona).delete()
    AppRule.objects.bulk_create(
        AppRule(
            organization_id=persona.organization_id,
            persona=persona,
            app_id=rule["id"],
            install=rule["install"],
            min_version=rule["min_version"] or "",
            signing_cert_sha256=rule["signing_cert_sha256"],
            managed_config=rule["managed_config"],
        )
        for rule in spec["apps"]
    )
    SharingRule.objects.bulk_create(
        SharingRule(
            organization_id=persona.organization_id,
            persona=persona,
            channel=channel,
            direction=direction,
            decision=spec["data_sharing"][channel][direction],
            exempt_apps=spec["data_sharing"][channel]["exemptions"][direction],
        )
        for channel in Channel.values
        for direction in Direction.values
    )


def _name_taken(organization_id: uuid.UUID, name: str, exclude: Persona | None = None) -> bool:
    qs = Persona.objects.filter(organization_id=organization_id, name__iexact=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.exists()


def _name_taken_error(name: str) -> ServiceError:
    return ServiceError.invalid_fields({"name": [f"A persona named {name!r} already exists."]})


@transaction.atomic
def persona_create(
    *,
    organization: Organization,
    name: str,
    preset: str = DEFAULT_PRESET,
    changes: dict[str, Any] | None = None,
    is_default: bool = False,
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> Persona:
    """A new persona from a preset, with `changes` laid over it (see personas.spec.merge)."""
    if preset not in PRESETS:
        raise ServiceError(f"Unknown preset {preset!r}; one of: {', '.join(PRESETS)}.", field="preset")
    spec = validate_spec(merge(preset_spec(preset, name=name), changes or {}))
    if _name_taken(organization.pk, spec["name"]):
        raise _name_taken_error(spec["name"])
    persona = Persona(organization=organization, preset=preset, is_default=is_default)
    _apply(persona, spec)
    try:
        with transaction.atomic():
            persona.save(force_insert=True)
    except IntegrityError as exc:  # created by someone else since the check above
        raise _name_taken_error(spec["name"]) from exc
    _write_rules(persona, spec)
    audit_event_record(
        organization=organization,
        action="persona.created",
        actor=actor,
        target=persona,
        details={"name": persona.name, "preset": preset, "revision": persona.revision},
        client_ip=client_ip,
    )
    return persona


@transaction.atomic
def persona_update(
    *,
    persona: Persona,
    spec: dict[str, Any] | None = None,
    patch: dict[str, Any] | None = None,
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> tuple[Persona, list[str]]:
    """Replace the persona's settings with `spec`, or lay `patch` over the current ones (merged
    under the row lock, so two admins' patches never undo each other). Validated here. Bumps the
    revision when anything changed; returns the persona and the lines of the diff. Refusals are
    ServiceError: the spec's errors by field path, or a name another persona has."""
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    before = spec_of(persona)
    after = validate_spec(merge(before, patch) if patch is not None else spec)
    changes = diff(before, after)
    if not changes:
        return persona, []
    if _name_taken(persona.organization_id, after["name"], exclude=persona):
        raise _name_taken_error(after["name"])
    _apply(persona, after)
    persona.revision += 1
    persona.updated_at = timezone.now()
    try:
        with transaction.atomic():
            persona.save()
    except IntegrityError as exc:  # renamed by someone else meanwhile
        raise _name_taken_error(after["name"]) from exc
    _write_rules(persona, after)
    audit_event_record(
        organization=persona.organization,
        action="persona.updated",
        actor=actor,
        target=persona,
        details={"name": persona.name, "revision": persona.revision, "diff": changes[:200]},
        client_ip=client_ip,
    )
    return persona, changes


@transaction.atomic
def persona_delete(*, persona: Persona, actor: Actor | None = None, client_ip: str | None = None) -> None:
    """Delete a persona no device and no enrollment token uses (409 otherwise)."""
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    if persona.is_default:
        raise ServiceError(
            "This is the organization's default persona; make another one the default first.",
            code="conflict",
        )
    name, persona_id = persona.name, str(persona.pk)
    try:
        with transaction.atomic():
            persona.delete()
    except (ProtectedError, IntegrityError) as exc:
        raise ServiceError(
            f"{name} is in use by devices or enrollment tokens; move them to another persona first.",
            code="conflict",
        ) from exc
    audit_event_record(
        organization=persona.organization,
        action="persona.deleted",
        actor=actor,
        target_type="personas.persona",
        target_id=persona_id,
        target_label=name,
        details={"name": name},
        client_ip=client_ip,
    )


def default_persona(organization_id: uuid.UUID) -> Persona | None:
    return Persona.objects.filter(organization_id=organization_id, is_default=True).first()


def create_default_persona(*, organization: Organization, actor: Actor | None = None) -> None:
    """A new organization starts with a `byod-basic` persona as its default."""
    persona_create(organization=organization, name="BYOD basic", preset=DEFAULT_PRESET, is_default=True, actor=actor)
