"""Reads of devices that the console and the admin API share: one definition of each.

Every read is scoped to an organization, or to a device already looked up within one. Values
arrive parsed and typed (devices.filters turns a query string into a `DeviceFilter`): nothing here
validates input.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Lower

from devices.choices import PENDING_COMMAND_STATES, ContainerState, DeviceState, Ownership, Platform, WipeState
from devices.models import Command, ComplianceSnapshot, Device, EnrollmentToken, Push, Wipe
from mdm.lib.compiled import CompiledQuery
from mdm.models import AuditEvent, User
from personas.models import Persona

# --- The device list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceFilter:
    """What the device list is narrowed to; a criterion left at None filters nothing."""

    state: DeviceState | None = None
    container_state: ContainerState | None = None
    compliant: bool | None = None
    persona: uuid.UUID | None = None
    owner: str | None = None  # the owner's e-mail address, in any case
    platform: Platform | None = None
    ownership: Ownership | None = None
    q: str | None = None  # part of the name or the model
    silent: bool | None = None  # no check-in for too long
    os_version: str | None = None  # exactly as the device reported it


NO_FILTER = DeviceFilter()


def device_list(*, organization_id: uuid.UUID, filters: DeviceFilter = NO_FILTER) -> QuerySet[Device]:
    """The organization's devices matching `filters`, newest enrollment first, with their owner and
    persona (a page of them costs one query, whatever its length)."""
    devices = Device.objects.filter(organization_id=organization_id).select_related("owner", "persona")
    exact = {
        "state": filters.state,
        "container_state": filters.container_state,
        "compliant": filters.compliant,
        "persona_id": filters.persona,
        "platform": filters.platform,
        "ownership": filters.ownership,
        "silent": filters.silent,
        "os_version": filters.os_version,
    }
    devices = devices.filter(**{field: value for field, value in exact.items() if value is not None})
    if filters.owner:
        # Addresses are stored in lower case, under a unique index on LOWER(email): `iexact` would
        # compare UPPER(email) and read every user.
        devices = devices.alias(owner_email=Lower("owner__email")).filter(owner_email=filters.owner.lower())
    if filters.q:
        devices = devices.filter(Q(name__icontains=filters.q) | Q(model__icontains=filters.q))
    return devices.order_by("-enrolled_at", "id")


def persona_device_counts(*, organization_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Active devices per persona of the organization (a persona with none is absent)."""
    rows = (
        Device.objects.filter(organization_id=organization_id, state=DeviceState.ACTIVE, persona__isnull=False)
        .values_list("persona_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def active_devices_of_employee(*, organization_id: uuid.UUID, email: str) -> list[Device]:
    """The active devices of the organization that the person with this e-mail address owns."""
    return list(
        Device.objects.filter(organization_id=organization_id, state=DeviceState.ACTIVE, owner__email__iexact=email)
        .select_related("owner")
        .order_by("-enrolled_at", "id")
    )


def device_owner_by_email(*, organization_id: uuid.UUID, email: str) -> User | None:
    """The person with this e-mail address if they own a device of the organization (in any state)."""
    return User.objects.filter(email__iexact=email, devices__organization_id=organization_id).first()


# --- One device -----------------------------------------------------------------------------------


def device_commands(*, device: Device) -> QuerySet[Command]:
    """The device's commands, newest first."""
    return Command.objects.filter(device=device).order_by("-created_at", "id")


def device_wipes(*, device: Device) -> QuerySet[Wipe]:
    """The device's wipes with their commands, newest request first."""
    return Wipe.objects.filter(device=device).select_related("device", "command").order_by("-requested_at", "id")


def device_open_wipe(*, device: Device) -> Wipe | None:
    """The device's wipe held or pending, if any (there is at most one)."""
    return Wipe.objects.filter(device=device, state__in=Wipe.OPEN_STATES).first()


def audit_trail(*, organization_id: uuid.UUID, target_id: str | None = None, limit: int) -> list[AuditEvent]:
    """The organization's latest audit events, of one target (a device's id) if given."""
    events = AuditEvent.objects.filter(organization_id=organization_id)
    if target_id is not None:
        events = events.filter(target_id=target_id)
    return list(events.order_by("-seq")[:limit])


# --- Wipes, enrollment tokens and what their forms offer ------------------------------------------


def wipe_list(*, organization_id: uuid.UUID, state: WipeState | None = None) -> QuerySet[Wipe]:
    """The organization's wipes (in one state if given) with their device and command, newest first."""
    wipes = Wipe.objects.filter(organization_id=organization_id).select_related("device", "command")
    if state is not None:
        wipes = wipes.filter(state=state)
    return wipes.order_by("-requested_at", "id")


def wipes_held(*, organization_id: uuid.UUID) -> QuerySet[Wipe]:
    """The wipes waiting for a second admin, the longest waiting first."""
    return wipe_list(organization_id=organization_id, state=Wipe.State.HELD).order_by("requested_at", "id")


def wipes_not_held(*, organization_id: uuid.UUID) -> QuerySet[Wipe]:
    """Every other wipe of the organization, newest first."""
    return wipe_list(organization_id=organization_id).exclude(state=Wipe.State.HELD)


def enrollment_token_list(*, organization_id: uuid.UUID) -> QuerySet[EnrollmentToken]:
    """The organization's enrollment tokens, newest first, with the persona, employee and issuer."""
    return (
        EnrollmentToken.objects.filter(organization_id=organization_id)
        .select_related("persona", "employee", "created_by")
        .order_by("-created_at", "id")
    )


def organization_member_by_email(*, organization_id: uuid.UUID, email: str) -> User | None:
    """The member of the organization (an employee, or one with a console role) with this address."""
    return User.objects.filter(email__iexact=email, memberships__organization_id=organization_id).first()


# --- The dashboard --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardSummary:
    """The organization at a glance. Work profiles and compliance count active devices only."""

    devices_by_state: dict[DeviceState, int]  # every state, 0 where none
    work_profiles_by_state: dict[ContainerState, int]  # every state, in ContainerState's order
    compliant: int
    not_compliant: int
    compliance_unknown: int  # not reported yet
    silent: int  # no check-in for too long
    pushes_in_flight: int
    wipes_pending: int
    wipes_held: int

    @property
    def active_devices(self) -> int:
        return self.devices_by_state[DeviceState.ACTIVE]

    @property
    def retired_devices(self) -> int:
        return self.devices_by_state[DeviceState.RETIRED]

    @property
    def has_devices(self) -> bool:
        return any(self.devices_by_state.values())


def dashboard_summary(*, organization_id: uuid.UUID) -> DashboardSummary:
    """Three queries whatever the size of the organization: its devices, its pushes, its wipes.

    The devices are counted per combination of the four columns the summary reads (a few dozen
    rows at most), which PostgreSQL answers from the index device_org_summary alone; the totals
    are added up here."""
    devices_by_state = dict.fromkeys(DeviceState, 0)
    work_profiles_by_state = dict.fromkeys(ContainerState, 0)
    compliance = {True: 0, False: 0, None: 0}
    silent = 0
    groups = (
        Device.objects.filter(organization_id=organization_id)
        .values_list("state", "container_state", "compliant", "silent")
        .annotate(n=Count("*"))
        .order_by()
    )
    for state, container_state, compliant, is_silent, n in groups:
        devices_by_state[DeviceState(state)] += n
        if state == DeviceState.ACTIVE:
            work_profiles_by_state[ContainerState(container_state)] += n
            compliance[compliant] += n
            silent += n if is_silent else 0
    wipes = Wipe.objects.filter(organization_id=organization_id, state__in=Wipe.OPEN_STATES).aggregate(
        pending=Count("id", filter=Q(state=Wipe.State.PENDING)), held=Count("id", filter=Q(state=Wipe.State.HELD))
    )
    pushes = Push.objects.filter(organization_id=organization_id, state__in=[Push.State.PENDING, Push.State.RUNNING])
    return DashboardSummary(
        devices_by_state=devices_by_state,
        work_profiles_by_state=work_profiles_by_state,
        compliant=compliance[True],
        not_compliant=compliance[False],
        compliance_unknown=compliance[None],
        silent=silent,
        pushes_in_flight=pushes.count(),
        wipes_pending=wipes["pending"],
        wipes_held=wipes["held"],
    )


def active_devices_by_os(*, organization_id: uuid.UUID) -> list[tuple[str, str, int]]:
    """(platform, OS version as reported, active devices), most devices first: one query, one row
    per version in use (an empty version: not reported yet)."""
    rows = (
        Device.objects.filter(organization_id=organization_id, state=DeviceState.ACTIVE)
        .values_list("platform", "os_version")
        .annotate(n=Count("*"))
        .order_by("-n", "platform", "os_version")
    )
    return [(platform, os_version, n) for platform, os_version, n in rows]


def compliance_snapshots(*, organization_id: uuid.UUID, since: date, before: date) -> list[ComplianceSnapshot]:
    """The organization's daily compliance snapshots from `since` to the day before `before`, oldest first."""
    return list(
        ComplianceSnapshot.objects.filter(organization_id=organization_id, day__gte=since, day__lt=before).order_by(
            "day"
        )
    )


def first_enrollment_progress(*, organization_id: uuid.UUID, now: datetime) -> tuple[int, int]:
    """(personas, enrollment tokens still usable) of an organization without devices: how far its
    admin is on the way to the first enrollment. Two counts."""
    personas = Persona.objects.filter(organization_id=organization_id).count()
    tokens = EnrollmentToken.objects.filter(
        organization_id=organization_id, revoked_at__isnull=True, expires_at__gt=now, uses_count__lt=F("uses_allowed")
    ).count()
    return personas, tokens


# --- The check-in's read: the hottest query of the server ------------------------------------------

# What a check-in reads of the device (device_checkin, compliance, the rollover offer), and of its
# persona only what compliance needs.
CHECKIN_FIELDS = (
    "id", "organization_id", "platform", "os_version", "agent_version", "signing_kid", "persona_id", "state",
    "container_state", "policy_version", "applied_policy_version", "compliance", "compliant", "work_apps",
    "last_seen_at", "silent",
)  # fmt: skip
CHECKIN_PERSONA_FIELDS = ("passcode_min_length", "block_compromised", "min_os_version")


def _checkin_queryset(device_id) -> QuerySet[Device]:
    pending = (
        Command.objects.filter(device_id=OuterRef("pk"), state__in=PENDING_COMMAND_STATES)
        .order_by()
        .values("device_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return (
        Device.objects.filter(pk=device_id)
        .only(*CHECKIN_FIELDS)
        .annotate(
            pending=Coalesce(Subquery(pending), 0),
            **{f"persona_{name}": F(f"persona__{name}") for name in CHECKIN_PERSONA_FIELDS},
        )
    )


_checkin_query = CompiledQuery(_checkin_queryset, device_id=uuid.UUID(int=0))


def checkin_device(device_id: uuid.UUID) -> Device | None:
    """The device as a check-in needs it, with `.pending` (its pending command count, from an
    index-only subquery) and `.persona` (only the fields compliance reads): one query, compiled
    once per process (compiling it again was most of a check-in's CPU).
    """
    found = list(_checkin_query.run(device_id=device_id))
    if not found:
        return None
    device = found[0]
    if device.persona_id is None:
        device.persona = None
        return device
    loaded = {"id": device.persona_id, **{name: getattr(device, f"persona_{name}") for name in CHECKIN_PERSONA_FIELDS}}
    if isinstance(loaded["min_os_version"], str):  # a JSON column read outside its model's fields
        loaded["min_os_version"] = json.loads(loaded["min_os_version"])
    # from_db takes the loaded values in the model's field order, the others deferred.
    names = [f.attname for f in Persona._meta.concrete_fields if f.attname in loaded]
    device.persona = Persona.from_db(connection.alias, names, [loaded[name] for name in names])
    return device


# The apps the organization's active devices report in their work profiles, with how many report
# each: one pass in the database over the JSON lists (a device's report is a list of
# {"id", "version", ...}; anything else in it is skipped, never an error).
_REPORTED_WORK_APPS_SQL = """
SELECT app ->> 'id' AS app_id, count(DISTINCT device.id) AS devices
FROM devices_device AS device
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(device.work_apps) = 'array' THEN device.work_apps ELSE '[]'::jsonb END
) AS app
WHERE device.organization_id = %s AND device.state = %s
  AND jsonb_typeof(app) = 'object' AND jsonb_typeof(app -> 'id') = 'string'
GROUP BY 1
ORDER BY 2 DESC, 1
LIMIT %s
"""


def reported_work_apps(*, organization_id: uuid.UUID, limit: int = 1000) -> dict[str, int]:
    """The work apps the organization's active devices report, by app id, with how many devices
    report each (the most reported first; at most `limit`)."""
    with connection.cursor() as cursor:
        cursor.execute(_REPORTED_WORK_APPS_SQL, [organization_id, DeviceState.ACTIVE, limit])
        return dict(cursor.fetchall())
