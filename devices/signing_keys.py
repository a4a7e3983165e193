"""Which server signing key each device pins, and moving it to a new one (agent protocol v1.1).

An agent trusts exactly one server key: the one it pinned at enrollment. After a rotation the
server keeps signing each device's policies with the key that device pins (`Device.signing_kid`),
and offers every v1.1 agent still pinning a `previous` key a **key-rollover statement**: the
active key, vouched for by the pinned one. The agent verifies it against its pin, moves its pin
and acknowledges; from then on the device's policies are signed with the new key. A v1 agent
never asks for the statement and keeps being served with its pinned key until that key is
retired, after which it can no longer be reached.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from devices.choices import DeviceState
from devices.commands.apply_policy import apply_policy
from devices.models import Device, EnrollmentToken
from mdm.actors import SYSTEM, Actor
from mdm.audit import audit_event_record
from mdm.choices import SigningKeyState
from mdm.errors import ServiceError
from mdm.models import Organization, SigningKey
from mdm.signing import PUBLISHED_STATES, active_kid, published_kids, rollover_statement, signing_key_destroy

# What a v1.1 agent lists in its check-in's `capabilities` to be offered rollovers.
ROLLOVER_CAPABILITY = "signing_key_rollover"


def rollover_offer(*, device: Device) -> dict[str, str] | None:
    """The rollover offered to the device at check-in, or None.

    Only a device pinning a `previous` key gets one (pinning the active key: nothing to do; a
    retired or unknown key: nothing can vouch for the new key any more). The statement is minted
    afresh at each offer, so a device offline during the whole rotation gets a valid one when it
    comes back. Costs no query for a device that pins the active key (the published set is cached).
    """
    pinned = device.signing_kid
    active = active_kid()
    if not pinned or pinned == active or pinned not in published_kids():
        return None
    keys = {k.kid: k for k in SigningKey.objects.filter(kid__in=[pinned, active])}
    old, new = keys.get(pinned), keys.get(active)
    if old is None or new is None or old.state != SigningKeyState.PREVIOUS or new.state != SigningKeyState.ACTIVE:
        return None  # the set changed under us (a rotation or retirement just now): offer next time
    return {"new_kid": new.kid, "statement": rollover_statement(old=old, new=new, device_id=str(device.pk))}


@transaction.atomic
def device_signing_key_move(*, device: Device, new_kid: str, client_ip: str | None = None) -> Device:
    """The agent's acknowledgement: it verified the statement and now pins `new_kid`.

    Accepted for a key the server still signs with (active or previous): the one it was offered, or,
    after another rotation raced the acknowledgement, the one it was offered before, from which it
    is then offered the next rollover. The same acknowledgement again is a no-op (an agent whose
    first answer was lost sends it again). A device can only hurt itself by claiming a pin it does
    not hold, so nothing more is asked. The device at once gets a new policy version signed with
    the new key, since the one it may not have fetched yet was signed with the key it no longer
    trusts.
    """
    device = Device.objects.select_for_update(of=("self",)).get(pk=device.pk)
    if device.signing_kid == new_kid:
        return device
    if not SigningKey.objects.filter(kid=new_kid, state__in=PUBLISHED_STATES).exists():
        raise ServiceError(
            "That is not a key this server signs with (unknown or retired): no rollover to it was offered.",
            code="rollover_not_offered",
            field="kid",
            status=409,
        )
    old_kid = device.signing_kid
    device.signing_kid = new_kid
    device.save(update_fields=["signing_kid"])
    audit_event_record(
        organization=device.organization,
        action="device.signing_key_rolled_over",
        actor=Actor.device(device),
        target=device,
        details={"old_kid": old_kid or None, "new_kid": new_kid},
        client_ip=client_ip,
    )
    apply_policy.issue(device)  # its channel wakes the device after the commit
    return device


def signing_key_pins(*, organization: Organization | None = None) -> dict[str, int]:
    """kid -> how many enrolled (not retired) devices pin it, in one organization or in all."""
    devices = Device.objects.filter(state=DeviceState.ACTIVE)
    if organization is not None:
        devices = devices.filter(organization=organization)
    rows = devices.order_by().values("signing_kid").annotate(n=Count("pk")).values_list("signing_kid", "n")
    return dict(rows)


@dataclass(frozen=True)
class SigningKeyRetirement:
    key: SigningKey
    devices_pinning: int  # enrolled devices, in every organization, that can no longer be reached
    forced: bool


@transaction.atomic
def signing_key_retire(
    *,
    kid: str,
    force: bool = False,
    actor: Actor | None = None,
    organization: Organization | None = None,
    client_ip: str | None = None,
) -> SigningKeyRetirement:
    """Retire a previous signing key for good: its private key is destroyed and it is unpublished.

    Devices still pinning it can no longer be reached (no policy they would accept, no rollover),
    so while any does, `force` must say that this is meant. `organization` is the console's door:
    an organization's admin acts for that organization only, so the retirement is refused while
    devices of other organizations still pin the key (the server's operator may still retire it
    with `manage.py retire_signing_key --force`). Every organization's log records it.
    """
    key = SigningKey.objects.select_for_update().filter(kid=kid).first()
    if key is None:
        raise ServiceError("No such signing key.", code="not_found", field="kid", status=404)
    if key.state == SigningKeyState.ACTIVE:
        raise ServiceError(
            "The active key cannot be retired: rotate first (manage.py rotate_signing_key).",
            code="signing_key_active",
            status=409,
        )
    if key.state == SigningKeyState.RETIRED:
        raise ServiceError("This key is already retired.", code="signing_key_retired", status=409)
    per_organization = dict(
        Device.objects.filter(state=DeviceState.ACTIVE, signing_kid=kid)
        .order_by()
        .values("organization_id")
        .annotate(n=Count("pk"))
        .values_list("organization_id", "n")
    )
    total = sum(per_organization.values())
    if organization is not None and (
        any(org_id != organization.pk for org_id in per_organization)
        or EnrollmentToken.objects.filter(
            signing_kid=kid, revoked_at__isnull=True, expires_at__gt=timezone.now(), uses_count__lt=F("uses_allowed")
        )
        .exclude(organization=organization)
        .exists()
    ):
        raise ServiceError(
            "Devices or enrollment tokens of other organizations on this server still pin this key; only the "
            "server's operator can retire it now (manage.py retire_signing_key --force).",
            code="signing_key_pinned_elsewhere",
            status=409,
        )
    if total and not force:
        raise ServiceError(
            f"{total} enrolled device(s) still pin this key. Once it is retired they can no longer be reached: "
            "they refuse every policy signed with another key and can no longer be offered a rollover, until "
            "they are enrolled again. Confirm to retire it anyway.",
            code="signing_key_pinned",
            status=409,
        )
    key = signing_key_destroy(kid=kid)
    for org in Organization.objects.order_by("pk"):
        acting = organization is None or org.pk == organization.pk
        audit_event_record(
            organization=org,
            action="signing_key.retired",
            actor=(actor or SYSTEM) if acting else SYSTEM,
            target_type="signing_key",
            target_id=kid,
            details={"kid": kid, "devices_pinning": per_organization.get(org.pk, 0), "forced": bool(total)},
            client_ip=client_ip if acting else None,
        )
    return SigningKeyRetirement(key=key, devices_pinning=total, forced=bool(total))
