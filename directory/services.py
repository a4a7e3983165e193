"""Provisioning: what an identity provider's SCIM calls change, and the console's settings for it.

Each service runs in one transaction and writes its audit event, with the SCIM token as the actor
when the provider acts. Provisioned people become employees of the organization (an existing
account with the same e-mail is linked, and keeps its console role). Deactivating or deleting a
person offboards them: their sessions end, their API tokens in the organization are revoked, and
their devices there are wiped (through the one wipe service, so the mass-wipe hold applies),
locked or left alone, as the organization's offboarding rule says. Group membership decides the
persona of a person's devices when a group is mapped to one (directory.selectors.persona_for).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from devices.choices import DeviceState
from devices.models import Device, EnrollmentToken, Wipe
from devices.push import MAX_ASSIGN, persona_assign
from devices.services import enrollment_token_revoke
from devices.wipe import corporate_lock, corporate_wipe_request, wipe_cancel
from directory.choices import Offboarding
from directory.models import DirectoryGroup, DirectoryGroupMember, DirectorySettings, DirectoryUser, ScimToken
from directory.selectors import offboarding_of, persona_for
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.choices import Role
from mdm.errors import ServiceError
from mdm.lib.tokens import last_used_due, token_hash, token_new
from mdm.models import ApiToken, Membership, Organization, User
from mdm.services import api_token_revoke, membership_add
from personas.models import Persona

SCIM_TOKEN_PREFIX = "mdmst_"
OFFBOARD_REASON = "Offboarded: the identity provider deactivated or deleted this person."


# Tokens -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedScimToken:
    scim_token: ScimToken
    token: str  # shown once, never stored


@transaction.atomic
def scim_token_create(
    *,
    organization: Organization,
    name: str,
    created_by: User | None = None,
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> IssuedScimToken:
    name = name.strip()
    if not name:
        raise ServiceError("A token needs a name.", field="name")
    token = token_new(SCIM_TOKEN_PREFIX)
    scim_token = ScimToken.objects.create(
        organization=organization,
        name=name[:100],
        token_hash=token_hash(token),
        prefix=token[:12],
        created_by=created_by,
    )
    audit_event_record(
        organization=organization,
        action="scim_token.created",
        actor=actor,
        target=scim_token,
        details={"name": scim_token.name, "prefix": scim_token.prefix},
        client_ip=client_ip,
    )
    return IssuedScimToken(scim_token=scim_token, token=token)


@transaction.atomic
def scim_token_revoke(*, scim_token: ScimToken, actor: Actor | None = None, client_ip: str | None = None) -> ScimToken:
    scim_token = ScimToken.objects.select_for_update().select_related("organization").get(pk=scim_token.pk)
    if scim_token.revoked_at is not None:
        return scim_token  # revoking twice changes nothing and writes nothing
    scim_token.revoked_at = timezone.now()
    scim_token.save(update_fields=["revoked_at"])
    audit_event_record(
        organization=scim_token.organization,
        action="scim_token.revoked",
        actor=actor,
        target=scim_token,
        details={"name": scim_token.name, "prefix": scim_token.prefix},
        client_ip=client_ip,
    )
    return scim_token


def scim_token_lookup(token: str) -> ScimToken | None:
    """The unrevoked SCIM token with this secret, with its organization loaded."""
    if not token.startswith(SCIM_TOKEN_PREFIX) or len(token) > 100:
        return None
    scim_token = (
        ScimToken.objects.select_related("organization")
        .filter(token_hash=token_hash(token), revoked_at__isnull=True)
        .first()
    )
    if scim_token is None:
        return None
    now = timezone.now()
    if last_used_due(scim_token.last_used_at, now):
        ScimToken.objects.filter(pk=scim_token.pk).update(last_used_at=now)
    return scim_token


# Settings ---------------------------------------------------------------------------------------


@transaction.atomic
def directory_settings_update(
    *, organization: Organization, offboarding: str, actor: Actor | None = None, client_ip: str | None = None
) -> DirectorySettings:
    if offboarding not in Offboarding.values:
        raise ServiceError(f"One of: {', '.join(Offboarding.values)}.", field="offboarding")
    settings, _ = DirectorySettings.objects.select_for_update().get_or_create(organization=organization)
    old = settings.offboarding
    if old == offboarding:
        return settings
    settings.offboarding = offboarding
    settings.updated_at = timezone.now()
    settings.save(update_fields=["offboarding", "updated_at"])
    audit_event_record(
        organization=organization,
        action="directory.settings_changed",
        actor=actor,
        target_type="directory.directorysettings",
        target_id=str(organization.pk),
        target_label=organization.name,
        details={"offboarding": offboarding, "old_offboarding": old},
        client_ip=client_ip,
    )
    return settings


# Users ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserData:
    """A SCIM User as we keep it: the columns we act on, and the resource as the provider wrote it."""

    user_name: str
    active: bool = True
    external_id: str = ""
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    resource: dict[str, Any] = field(default_factory=dict)


_USER_COLUMNS = ("external_id", "display_name", "given_name", "family_name", "email")


def _account_email(user_name: str) -> str:
    email = User.objects.normalize_email(user_name.strip()).lower()
    try:
        if len(email) > 254:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise ServiceError(
            f"userName must be the person's e-mail address; {user_name!r} is not one.", field="userName"
        ) from None
    return email


def _check_external_id(data: UserData) -> None:
    if len(data.external_id) > 255:
        raise ServiceError("externalId is at most 255 characters.", field="externalId")


def _not_found() -> ServiceError:
    return ServiceError("No such resource.", code="not_found", status=404)


def _check_version(version: int, if_match: int | None) -> None:
    if if_match is not None and if_match != version:
        raise ServiceError(
            "The resource changed since you read it (If-Match does not match its version).",
            code="precondition_failed",
            status=412,
        )


def directory_user_create(
    *, organization: Organization, data: UserData, actor: Actor, client_ip: str | None = None
) -> DirectoryUser:
    """Provision a person: link the account with that e-mail (or create one without a password),
    make it an employee unless it is already a member, and keep the provider's record of it."""
    email = _account_email(data.user_name)
    _check_external_id(data)
    try:
        with transaction.atomic():
            return _user_create(organization=organization, email=email, data=data, actor=actor, client_ip=client_ip)
    except IntegrityError:
        # Two creations of the same userName at once: the constraint decides, the second is a 409.
        raise _duplicate(data.user_name) from None


def _duplicate(user_name: str) -> ServiceError:
    return ServiceError(f"A user with userName {user_name!r} already exists.", code="uniqueness", status=409)


def _user_create(
    *, organization: Organization, email: str, data: UserData, actor: Actor, client_ip: str | None
) -> DirectoryUser:
    if DirectoryUser.objects.filter(
        organization=organization, user_name__iexact=email, deleted_at__isnull=True
    ).exists():
        raise _duplicate(data.user_name)
    user = User.objects.filter(email__iexact=email).first()
    linked = user is not None
    if user is not None and not Membership.objects.filter(organization=organization, user=user).exists():
        # An account of this server that is not ours (another organization's member, say): one
        # organization's provider may not take it over, nor learn that it exists. The console's
        # invitation, which its owner accepts, is the way in; then the provider links it.
        raise _duplicate(data.user_name)
    if user is None:
        # No password: the person signs in through the identity provider (OIDC) or sets one later.
        user = User.objects.create_user(
            email=email, password=None, first_name=data.given_name[:150], last_name=data.family_name[:150]
        )
    membership_created = not Membership.objects.filter(organization=organization, user=user).exists()
    if membership_created:
        membership_add(organization=organization, user=user, role=Role.EMPLOYEE, actor=actor, client_ip=client_ip)
    now = timezone.now()
    # Provisioned inactive, the person gets no access yet; provisioned again after a deletion, the
    # earlier record's suspension ends.
    Membership.objects.filter(organization=organization, user=user).update(suspended_at=None if data.active else now)
    # Entra's deactivate, delete, provision again: the return undoes what the offboarding of the
    # earlier record did and can be undone (its held wipes, its locks), as a reactivation would.
    undone: dict[str, Any] = {}
    previous = (
        DirectoryUser.objects.filter(organization=organization, user=user, deleted_at__isnull=False)
        .exclude(offboarded_with="")
        .order_by("-deleted_at")
        .first()
    )
    if previous is not None and data.active:
        undone = _reactivate(previous, actor, client_ip)
        previous.save(update_fields=["offboarded_with"])
    record = DirectoryUser.objects.create(
        organization=organization,
        user=user,
        user_name=data.user_name.strip(),
        active=data.active,
        resource=data.resource,
        created_at=now,
        updated_at=now,
        **{column: getattr(data, column)[:254] for column in _USER_COLUMNS},
    )
    audit_event_record(
        organization=organization,
        action="directory.user_provisioned",
        actor=actor,
        target=record,
        details={
            "user_name": record.user_name,
            "external_id": record.external_id,
            "active": record.active,
            "linked_existing": linked,
            "membership_created": membership_created,
            **undone,
        },
        client_ip=client_ip,
    )
    return record


def directory_user_update(
    *,
    record: DirectoryUser,
    data: UserData,
    actor: Actor,
    if_match: int | None = None,
    client_ip: str | None = None,
) -> DirectoryUser:
    """Write the provider's new version of a person (PUT, or PATCH applied). A change of `active`
    offboards (false) or reactivates (true) them."""
    with transaction.atomic():
        record = _lock_user(record, if_match)
        _check_external_id(data)
        if data.user_name.strip().lower() != record.user_name.lower():
            raise ServiceError(
                "userName is the person's account here and cannot change: deprovision and provision again.",
                code="mutability",
                field="userName",
            )
        changed = [column for column in _USER_COLUMNS if getattr(record, column) != getattr(data, column)[:254]]
        if data.resource != record.resource:
            changed.append("resource")
        was_active = record.active
        if not changed and was_active == data.active:
            return record
        for column in _USER_COLUMNS:
            setattr(record, column, getattr(data, column)[:254])
        record.resource = data.resource
        record.active = data.active
        record.version += 1
        record.updated_at = timezone.now()
        offboarded = reactivated = None
        # Devices first (each locks its device, then the organization), the audit log last.
        if was_active and not data.active:
            offboarded = _offboard(record, actor, client_ip)
        elif data.active and not was_active:
            reactivated = _reactivate(record, actor, client_ip)
        record.save()
        if changed:
            audit_event_record(
                organization=record.organization,
                action="directory.user_updated",
                actor=actor,
                target=record,
                details={"user_name": record.user_name, "changed": [c for c in changed if c != "resource"]},
                client_ip=client_ip,
            )
        if offboarded is not None:
            audit_event_record(
                organization=record.organization,
                action="directory.user_deactivated",
                actor=actor,
                target=record,
                details={"user_name": record.user_name, **offboarded},
                client_ip=client_ip,
            )
        if reactivated is not None:
            audit_event_record(
                organization=record.organization,
                action="directory.user_reactivated",
                actor=actor,
                target=record,
                details={"user_name": record.user_name, **reactivated},
                client_ip=client_ip,
            )
        if offboarded is not None or reactivated is not None:
            # Active membership counts for the persona rule: a reactivated person gets theirs back.
            _sync_personas(record.organization, [record.user_id], actor, client_ip)
    return record


def directory_user_delete(
    *, record: DirectoryUser, actor: Actor, if_match: int | None = None, client_ip: str | None = None
) -> DirectoryUser:
    """Deprovision a person: offboarded like a deactivation (if still active), out of every group,
    and the record kept, marked deleted, for the audit log and the devices' history."""
    with transaction.atomic():
        record = _lock_user(record, if_match)
        was_active = record.active
        offboarded = _offboard(record, actor, client_ip) if was_active else {}
        DirectoryGroupMember.objects.filter(member=record).delete()
        record.active = False
        record.deleted_at = record.updated_at = timezone.now()
        record.version += 1
        record.save()
        audit_event_record(
            organization=record.organization,
            action="directory.user_deleted",
            actor=actor,
            target=record,
            details={"user_name": record.user_name, "was_active": was_active, **offboarded},
            client_ip=client_ip,
        )
    return record


def _lock_user(record: DirectoryUser, if_match: int | None) -> DirectoryUser:
    locked = (
        DirectoryUser.objects.select_for_update(of=("self",))
        .select_related("organization", "user")
        .filter(pk=record.pk, deleted_at__isnull=True)
        .first()
    )
    if locked is None:
        raise _not_found()
    _check_version(locked.version, if_match)
    return locked


def _end_sessions(user: User) -> int:
    """End the person's console and portal sessions (database sessions: each one decoded)."""
    ended = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            ended.append(session.session_key)
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


def _offboard(record: DirectoryUser, actor: Actor, client_ip: str | None) -> dict[str, Any]:
    """What a deactivation does to the person in this organization; the details for its audit event."""
    rule = offboarding_of(record.organization_id)
    # Sessions first: they lock nothing, and the rest holds the organization's row (the audit log).
    sessions_ended = _end_sessions(record.user)
    devices = Device.objects.filter(
        organization_id=record.organization_id, owner_id=record.user_id, state=DeviceState.ACTIVE
    ).order_by("enrolled_at", "id")
    counts = {"devices": 0, "wipes": 0, "wipes_held": 0, "locks": 0, "refused": 0}
    for device in devices:
        counts["devices"] += 1
        try:
            if rule == Offboarding.WIPE:
                wipe = corporate_wipe_request(device=device, reason=OFFBOARD_REASON, actor=actor, client_ip=client_ip)
                counts["wipes"] += 1
                counts["wipes_held"] += wipe.state == Wipe.State.HELD
            elif rule == Offboarding.LOCK:
                corporate_lock(device=device, lock=True, actor=actor, client_ip=client_ip, reason=OFFBOARD_REASON)
                counts["locks"] += 1
        except ServiceError:
            # The device's channel cannot carry it (the refusal rolled its own part back): counted,
            # and the rest of the offboarding goes on.
            counts["refused"] += 1
    tokens = ApiToken.objects.filter(organization_id=record.organization_id, user_id=record.user_id)
    revoked = 0
    for api_token in tokens.filter(revoked_at__isnull=True).select_related("organization"):
        api_token_revoke(api_token=api_token, actor=actor, client_ip=client_ip)
        revoked += 1
    # Enrollment tokens issued to the person and not used yet would let them enroll a device after
    # leaving: revoked with the rest.
    pending = EnrollmentToken.objects.filter(
        organization_id=record.organization_id, employee_id=record.user_id, revoked_at__isnull=True
    ).filter(uses_count__lt=F("uses_allowed"))
    enrollment_revoked = 0
    for enrollment_token in pending.order_by("created_at", "id"):
        enrollment_token_revoke(enrollment_token=enrollment_token, actor=actor, client_ip=client_ip)
        enrollment_revoked += 1
    # The membership stays (the role comes back with a reactivation) but opens nothing: no
    # console, portal or API in this organization, whatever session or password the person has.
    Membership.objects.filter(organization_id=record.organization_id, user_id=record.user_id).update(
        suspended_at=timezone.now()
    )
    record.offboarded_with = rule
    return {
        "offboarding": rule,
        **counts,
        "tokens_revoked": revoked,
        "enrollment_tokens_revoked": enrollment_revoked,
        "sessions_ended": sessions_ended,
    }


def _reactivate(record: DirectoryUser, actor: Actor, client_ip: str | None) -> dict[str, Any]:
    """Undo what the deactivation did and can be undone: held wipes are cancelled (a sent wipe
    cannot be: its keys are gone), and the devices it locked are unlocked."""
    # Only the wipes the offboarding asked for: a held wipe an admin requested for a lost device
    # (or the offline rule did) stays for the second admin to decide.
    held = Wipe.objects.filter(
        organization_id=record.organization_id,
        device__owner_id=record.user_id,
        state=Wipe.State.HELD,
        reason=OFFBOARD_REASON,
    ).order_by("requested_at", "id")
    cancelled = 0
    for wipe in held:
        wipe_cancel(wipe=wipe, actor=actor, client_ip=client_ip)
        cancelled += 1
    unlocks = 0
    if record.offboarded_with == Offboarding.LOCK:
        devices = Device.objects.filter(
            organization_id=record.organization_id, owner_id=record.user_id, state=DeviceState.ACTIVE
        ).order_by("enrolled_at", "id")
        for device in devices:
            try:
                corporate_lock(device=device, lock=False, actor=actor, client_ip=client_ip, reason="reactivated")
                unlocks += 1
            except ServiceError:
                pass
    Membership.objects.filter(organization_id=record.organization_id, user_id=record.user_id).update(suspended_at=None)
    record.offboarded_with = ""
    return {"wipes_cancelled": cancelled, "unlocks": unlocks}


# Groups -----------------------------------------------------------------------------------------


def _members(organization: Organization, member_ids: list[str]) -> list[DirectoryUser]:
    ids: list[uuid.UUID] = []
    for value in member_ids:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            raise ServiceError(f"No user {value!r} here.", field="members") from None
    found = {
        row.pk: row
        for row in DirectoryUser.objects.filter(organization=organization, pk__in=ids, deleted_at__isnull=True)
    }
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise ServiceError(f"No user {missing[0]!r} here.", field="members")
    return list(found.values())


def _group_external_id(external_id: str) -> str:
    if len(external_id) > 255:
        raise ServiceError("externalId is at most 255 characters.", field="externalId")
    return external_id


def _check_group_name(display_name: str) -> str:
    display_name = display_name.strip()
    if not display_name:
        raise ServiceError("A group needs a displayName.", field="displayName")
    if len(display_name) > 255:
        raise ServiceError("displayName is at most 255 characters.", field="displayName")
    return display_name


def directory_group_create(
    *,
    organization: Organization,
    display_name: str,
    external_id: str = "",
    member_ids: list[str] | None = None,
    actor: Actor,
    client_ip: str | None = None,
) -> DirectoryGroup:
    display_name = _check_group_name(display_name)
    with transaction.atomic():
        members = _members(organization, member_ids or [])
        now = timezone.now()
        group = DirectoryGroup.objects.create(
            organization=organization,
            display_name=display_name,
            external_id=_group_external_id(external_id),
            created_at=now,
            updated_at=now,
        )
        DirectoryGroupMember.objects.bulk_create(
            [DirectoryGroupMember(organization=organization, group=group, member=member) for member in members]
        )
        audit_event_record(
            organization=organization,
            action="directory.group_created",
            actor=actor,
            target=group,
            details={"display_name": display_name, "external_id": group.external_id, "members": len(members)},
            client_ip=client_ip,
        )
    return group


def directory_group_update(
    *,
    group: DirectoryGroup,
    display_name: str,
    external_id: str,
    member_ids: list[str],
    actor: Actor,
    if_match: int | None = None,
    client_ip: str | None = None,
) -> DirectoryGroup:
    """Set a group's name and its members to exactly these (PUT, or PATCH applied)."""
    display_name = _check_group_name(display_name)
    with transaction.atomic():
        group = _lock_group(group, if_match)
        external_id = _group_external_id(external_id)
        members = {member.pk: member for member in _members(group.organization, member_ids)}
        current = dict(DirectoryGroupMember.objects.filter(group=group).values_list("member_id", "member__user_id"))
        added = [member for pk, member in members.items() if pk not in current]
        removed = [pk for pk in current if pk not in members]
        old_name = group.display_name
        if not added and not removed and old_name == display_name and group.external_id == external_id:
            return group
        DirectoryGroupMember.objects.filter(group=group, member_id__in=removed).delete()
        DirectoryGroupMember.objects.bulk_create(
            [DirectoryGroupMember(organization=group.organization, group=group, member=member) for member in added]
        )
        group.display_name = display_name
        group.external_id = external_id
        group.version += 1
        group.updated_at = timezone.now()
        group.save()
        audit_event_record(
            organization=group.organization,
            action="directory.group_updated",
            actor=actor,
            target=group,
            details={
                "display_name": display_name,
                "old_display_name": old_name,
                "added": len(added),
                "removed": len(removed),
            },
            client_ip=client_ip,
        )
        if group.persona_id is not None:
            touched = [member.user_id for member in added] + [current[pk] for pk in removed]
            _sync_personas(group.organization, touched, actor, client_ip)
    return group


def directory_group_delete(
    *, group: DirectoryGroup, actor: Actor, if_match: int | None = None, client_ip: str | None = None
) -> None:
    with transaction.atomic():
        group = _lock_group(group, if_match)
        user_ids = list(DirectoryGroupMember.objects.filter(group=group).values_list("member__user_id", flat=True))
        mapped = group.persona_id is not None
        audit_event_record(
            organization=group.organization,
            action="directory.group_deleted",
            actor=actor,
            target=group,
            details={"display_name": group.display_name, "members": len(user_ids)},
            client_ip=client_ip,
        )
        group.delete()
        if mapped:
            _sync_personas(group.organization, user_ids, actor, client_ip)


def directory_group_map(
    *,
    group: DirectoryGroup,
    persona: Persona | None,
    priority: int = 0,
    actor: Actor,
    client_ip: str | None = None,
) -> DirectoryGroup:
    """Map a provisioned group to a persona (None: unmap), with its priority among mapped groups.
    The members' devices move to the persona the rule now gives them, and are pushed it."""
    if persona is not None and persona.organization_id != group.organization_id:
        raise ServiceError("No such persona in this organization.", field="persona")
    if not 0 <= priority <= DirectoryGroup.PRIORITY_MAX:
        raise ServiceError(f"Priority is between 0 and {DirectoryGroup.PRIORITY_MAX}.", field="priority")
    with transaction.atomic():
        group = _lock_group(group, None)
        old_persona, old_priority = group.persona, group.priority
        if old_persona == persona and old_priority == priority:
            return group
        group.persona = persona
        group.priority = priority
        group.updated_at = timezone.now()
        group.save(update_fields=["persona", "priority", "updated_at"])
        audit_event_record(
            organization=group.organization,
            action="directory.group_mapped",
            actor=actor,
            target=group,
            details={
                "display_name": group.display_name,
                "persona": persona.name if persona else None,
                "old_persona": old_persona.name if old_persona else None,
                "priority": priority,
                "old_priority": old_priority,
            },
            client_ip=client_ip,
        )
        user_ids = list(DirectoryGroupMember.objects.filter(group=group).values_list("member__user_id", flat=True))
        _sync_personas(group.organization, user_ids, actor, client_ip)
    return group


def _lock_group(group: DirectoryGroup, if_match: int | None) -> DirectoryGroup:
    locked = (
        DirectoryGroup.objects.select_for_update(of=("self",))
        .select_related("organization", "persona")
        .filter(pk=group.pk)
        .first()
    )
    if locked is None:
        raise _not_found()
    _check_version(locked.version, if_match)
    return locked


def _sync_personas(organization: Organization, user_ids: list, actor: Actor, client_ip: str | None) -> None:
    """Move each person's active devices to the persona their groups give them, and push it.

    A person no mapped group covers any more keeps the persona their devices have: unmapping
    never moves a device on its own (an admin may have picked that persona by hand)."""
    by_persona: dict[Persona, list[str]] = defaultdict(list)
    for user_id in sorted(set(user_ids), key=str):
        persona = persona_for(organization_id=organization.pk, user_id=user_id)
        if persona is None:
            continue
        devices = (
            Device.objects.filter(organization=organization, owner_id=user_id, state=DeviceState.ACTIVE)
            .exclude(persona=persona)
            .values_list("pk", flat=True)
        )
        by_persona[persona].extend(str(pk) for pk in devices)
    for persona, device_ids in by_persona.items():
        for start in range(0, len(device_ids), MAX_ASSIGN):
            persona_assign(
                persona=persona, device_ids=device_ids[start : start + MAX_ASSIGN], actor=actor, client_ip=client_ip
            )
