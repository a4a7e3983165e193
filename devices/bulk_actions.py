"""Bulk actions of the console's device list: lock, unlock, assign a persona, corporate wipe, on the
devices an admin selected.

Each device goes through the very service (and the very checks) of the single action: the device
page's refusals (devices.device_page.device_actions) decide what is skipped, then corporate_lock,
corporate_wipe_request (with its mass-wipe hold) or persona_assign does the work and writes its own
audit events. A device for which the action makes no sense is skipped and reported, not an error.
One more audit event records the bulk action itself: what, how many done, held and skipped.

No transaction spans the devices: each device's service commits on its own (the lock order is the
device, then its organization; holding the organization across devices would invert it), as the
employee wipe does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from devices import device_page
from devices.choices import DeviceState
from devices.models import Device, Wipe
from devices.push import persona_assign
from devices.wipe import corporate_lock, corporate_wipe_request, wipes_before_hold
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.errors import ServiceError
from mdm.models import Organization
from mdm.permissions import OrgContext, Perm
from personas.models import Persona

# One request acts on at most this many devices (a page of the list holds 50).
MAX_DEVICES = 500

LOCK, UNLOCK, PERSONA, WIPE = "lock", "unlock", "persona", "wipe"


@dataclass(frozen=True)
class BulkAction:
    name: str
    label: object  # lazy translation
    perm: Perm


BULK_ACTIONS: dict[str, BulkAction] = {
    LOCK: BulkAction(LOCK, gettext_lazy("Lock work profile"), Perm.DEVICES_LOCK),
    UNLOCK: BulkAction(UNLOCK, gettext_lazy("Unlock work profile"), Perm.DEVICES_LOCK),
    PERSONA: BulkAction(PERSONA, gettext_lazy("Assign a persona"), Perm.PERSONAS_CHANGE),
    WIPE: BulkAction(WIPE, gettext_lazy("Corporate wipe"), Perm.DEVICES_WIPE),
}


def bulk_action_choices(context: OrgContext) -> list[tuple[str, str]]:
    """The actions this member may take, as (value, label): the bar offers only these."""
    return [(action.name, str(action.label)) for action in BULK_ACTIONS.values() if context.can(action.perm)]


@dataclass(frozen=True)
class Skipped:
    device: Device
    reason: str


@dataclass
class BulkResult:
    """What a bulk action did: the devices acted on, those of them whose wipe waits for a second
    admin (wipes only), and the ones skipped with why."""

    action: str
    done: list[Device] = field(default_factory=list)
    held: list[Device] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_by_reason(self) -> list[tuple[str, list[Device]]]:
        groups: dict[str, list[Device]] = {}
        for skip in self.skipped:
            groups.setdefault(skip.reason, []).append(skip.device)
        return list(groups.items())


def bulk_refusals(*, action: str, devices: Sequence[Device]) -> dict:
    """Why the action makes no sense for some of the devices (device pk -> one sentence), by the
    device page's rules: a lock of a locked work profile, a wipe of a wiped one, a retired device."""
    refusals: dict = {}
    for device in devices:
        if action == PERSONA:
            reason = (
                _("This device is retired: it has no persona to change.")
                if device.state != DeviceState.ACTIVE
                else None
            )
        else:
            actions = device_page.device_actions(device=device)
            reason = actions.wipe_refusal if action == WIPE else actions.refusal(lock=action == LOCK)
        if reason:
            refusals[device.pk] = reason
    return refusals


def wipes_held_if_sent(*, organization_id, count: int) -> int:
    """How many of `count` new wipes the mass-wipe hold would keep for a second admin now."""
    return max(0, count - wipes_before_hold(organization_id=organization_id))


def _split(action: str, devices: Sequence[Device]) -> tuple[list[Device], BulkResult]:
    refusals = bulk_refusals(action=action, devices=devices)
    result = BulkResult(action=action)
    result.skipped = [Skipped(device, refusals[device.pk]) for device in devices if device.pk in refusals]
    return [device for device in devices if device.pk not in refusals], result


def _bulk_audit(
    *,
    organization: Organization,
    result: BulkResult,
    selected: int,
    actor: Actor,
    client_ip: str | None,
    persona: Persona | None = None,
) -> None:
    details: dict = {
        "action": result.action,
        "selected": selected,
        "done": len(result.done),
        "held": len(result.held),
        "skipped": len(result.skipped),
        "device_ids": [str(device.pk) for device in result.done[:100]],
    }
    if persona is not None:
        details["persona"] = persona.name
    with transaction.atomic():
        audit_event_record(
            organization=organization,
            action="devices.bulk_action",
            actor=actor,
            target_type="devices.device",
            target_label=f"{selected} devices",
            details=details,
            client_ip=client_ip,
        )


def devices_bulk_lock(
    *, organization: Organization, devices: Sequence[Device], lock: bool, actor: Actor, client_ip: str | None = None
) -> BulkResult:
    """Lock (or unlock) the work profile of each device where the device page would offer it."""
    todo, result = _split(LOCK if lock else UNLOCK, devices)
    for device in todo:
        try:
            corporate_lock(device=device, lock=lock, actor=actor, client_ip=client_ip)
        except ServiceError as exc:  # retired meanwhile, or its channel refuses
            result.skipped.append(Skipped(device, exc.message))
        else:
            result.done.append(device)
    _bulk_audit(organization=organization, result=result, selected=len(devices), actor=actor, client_ip=client_ip)
    return result


def devices_bulk_wipe(
    *,
    organization: Organization,
    devices: Sequence[Device],
    reason: str,
    actor: Actor,
    client_ip: str | None = None,
) -> BulkResult:
    """Request a corporate wipe of each device that can be wiped, one by one through the single
    wipe's service: past the mass-wipe threshold the next ones are held for a second admin."""
    todo, result = _split(WIPE, devices)
    for device in todo:
        try:
            wipe = corporate_wipe_request(device=device, reason=reason, actor=actor, client_ip=client_ip)
        except ServiceError as exc:
            if exc.field == "reason":  # the same for every device: nothing was wiped
                raise
            result.skipped.append(Skipped(device, exc.message))
            continue
        result.done.append(device)
        if wipe.state == Wipe.State.HELD:
            result.held.append(device)
    _bulk_audit(organization=organization, result=result, selected=len(devices), actor=actor, client_ip=client_ip)
    return result


def devices_bulk_persona_assign(
    *,
    organization: Organization,
    devices: Sequence[Device],
    persona: Persona,
    actor: Actor,
    client_ip: str | None = None,
) -> BulkResult:
    """Move the active devices to `persona` (those already on it are skipped), through the persona
    assignment's service: one push delivers it to them."""
    if persona.organization_id != organization.pk:
        raise ServiceError("No such persona in this organization.", field="persona", status=404)
    todo, result = _split(PERSONA, devices)
    already = _("Already on this persona.")
    for device in [d for d in todo if d.persona_id == persona.pk]:
        result.skipped.append(Skipped(device, already))
    todo = [device for device in todo if device.persona_id != persona.pk]
    if todo:
        persona_assign(persona=persona, device_ids=[d.pk for d in todo], actor=actor, client_ip=client_ip)
        result.done = todo
    _bulk_audit(
        organization=organization,
        result=result,
        selected=len(devices),
        actor=actor,
        client_ip=client_ip,
        persona=persona,
    )
    return result
