"""Enrollment tokens, the device registry, and each device's commands."""

from __future__ import annotations

import uuid
from datetime import datetime

import jwt
from django.db import models
from django.utils import timezone

from devices.choices import (
    PENDING_COMMAND_STATES,
    WIPE_OPEN_STATES,
    AndroidPolicySync,
    CommandState,
    ContainerKeyState,
    ContainerState,
    DeviceState,
    ManagementChannel,
    Ownership,
    Platform,
    TokenStatus,
    WipeState,
)


class EnrollmentToken(models.Model):
    """A secret that lets one (or `uses_allowed`) devices enroll into an organization.

    The token (`mdmet_` + 256 random bits) is looked up by its SHA-256 hash. While it can still
    be used, it is also kept wrapped under the KEK so that its QR code can be shown again to the
    admin who made it; the wrapped copy is erased once the token is used up or revoked, and
    refused once it has expired.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="enrollment_tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    wrapped_token = models.BinaryField(null=True, editable=False)
    # The server signing key its QR code pins: the key the enrolled devices will trust.
    signing_kid = models.CharField(max_length=64, blank=True)
    persona = models.ForeignKey("personas.Persona", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    ownership = models.CharField(max_length=16, choices=Ownership.choices, default=Ownership.PERSONAL)
    employee = models.ForeignKey("mdm.User", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    note = models.CharField(max_length=200, blank=True)
    uses_allowed = models.PositiveIntegerField(default=1)
    uses_count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    # How the enrolled devices are managed. An Android Enterprise token is Google's: its name
    # there, and (wrapped, while usable) Google's QR code; `wrapped_token` then holds Google's value.
    channel = models.CharField(max_length=16, choices=ManagementChannel.choices, default=ManagementChannel.AGENT)
    google_name = models.CharField(max_length=255, blank=True)
    wrapped_qr_code = models.BinaryField(null=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey("mdm.User", on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(uses_count__lte=models.F("uses_allowed")), name="token_uses_le")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}... ({self.status})"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return TokenStatus.REVOKED
        if self.uses_count >= self.uses_allowed:
            return TokenStatus.USED
        if self.expires_at <= timezone.now():
            return TokenStatus.EXPIRED
        return TokenStatus.USABLE


class Device(models.Model):
    """One enrolled device: its identity keys, persona, and what it last reported.

    A personally owned device stores no serial number or hardware identifier: the protocol
    has no field for one, by design. Identity is the Ed25519 key the agent generated.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=120)
    owner = models.ForeignKey("mdm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="devices")
    ownership = models.CharField(max_length=16, choices=Ownership.choices)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    # The one way its commands travel and its results come back (devices.channels).
    channel = models.CharField(max_length=16, choices=ManagementChannel.choices, default=ManagementChannel.AGENT)
    model = models.CharField(max_length=100, blank=True)
    os_version = models.CharField(max_length=32, blank=True)
    agent_version = models.CharField(max_length=32, blank=True)
    # The agent's keys; an Android Enterprise device has none (Google's app is its agent).
    signing_public_key = models.BinaryField(unique=True, null=True)
    encryption_public_key = models.BinaryField(null=True)
    # An Android Enterprise device's resource name at Google (enterprises/E/devices/D).
    google_name = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # The server key this device pinned at enrollment: its policies are signed with it, so a
    # rotation of the server's signing key does not cut off the devices enrolled before it.
    signing_kid = models.CharField(max_length=64, blank=True)
    # Indexed by device_persona_walk, which leads with it.
    persona = models.ForeignKey(
        "personas.Persona", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    enrollment_token = models.ForeignKey(EnrollmentToken, on_delete=models.SET_NULL, null=True, related_name="devices")
    state = models.CharField(max_length=16, choices=DeviceState.choices, default=DeviceState.ACTIVE)
    container_state = models.CharField(max_length=16, choices=ContainerState.choices, default=ContainerState.PENDING)
    # The newest policy version issued to the device, and the one it reports as applied (for an
    # Android Enterprise device: the version of its persona's policy at Google).
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    applied_policy_version = models.PositiveIntegerField(null=True, blank=True)
    compliance = models.JSONField(default=dict, blank=True)
    compliant = models.BooleanField(null=True)
    noncompliant_since = models.DateTimeField(null=True, blank=True)
    work_apps = models.JSONField(default=list, blank=True)
    enrolled_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Set by a beat task when the device has not checked in for MDM_SILENT_AFTER_HOURS.
    silent = models.BooleanField(default=False)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "id"]
        indexes = [
            models.Index(fields=["organization", "state", "-enrolled_at"], name="device_org_state"),
            models.Index(fields=["organization", "last_seen_at"], name="device_org_seen"),
            # A push walks a persona's devices by primary key (devices.push): its batch reads its
            # 500 rows from here instead of filtering the whole fleet's primary key range.
            models.Index(fields=["persona", "id"], name="device_persona_walk"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.state == DeviceState.ACTIVE


class UsedAssertion(models.Model):
    """A device assertion's `jti`, remembered until the assertion expires, so it is never
    accepted twice (the unique constraint is the replay check)."""

    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=128)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "jti"], name="assertion_jti_unique")]

    def __str__(self) -> str:
        return f"{self.jti} (until {self.expires_at:%Y-%m-%d %H:%M})"


class Push(models.Model):
    """The delivery of one persona revision to the persona's devices, fanned out in batches.

    `cursor` is the last device id done: a batch and its cursor commit together, so a task that
    is run again (redelivered, or its worker killed) resumes after the last committed batch.
    A newer push for the same persona supersedes this one while it is still running.

    One task at a time holds a push: `lease_owner` (a token of that task run) until
    `lease_expires_at`, renewed by every batch. A push whose lease ran out lost its worker and is
    handed to a new task by a beat task; a holder that finds another owner stops.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        SUPERSEDED = "superseded", "Superseded by a newer push"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    persona = models.ForeignKey("personas.Persona", on_delete=models.CASCADE, related_name="+")
    persona_revision = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    targeted = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    cursor = models.UUIDField(null=True, blank=True)
    # Only these devices (a persona assignment); null: every active device of the persona.
    device_ids = models.JSONField(null=True, blank=True)
    batches = models.PositiveIntegerField(default=0)
    requested_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When a batch last committed.
    progressed_at = models.DateTimeField(default=timezone.now)
    # The task run holding the push (null: none, a new task may take it), and until when: a push
    # pending or running past its lease lost its task (a broker outage, a worker killed).
    lease_owner = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(default=timezone.now)
    # Android Enterprise devices get the persona's policy from Google: the push patches it there
    # once (devices.android.policies); the version Google gave it is what the devices must report.
    android_sync = models.CharField(max_length=16, choices=AndroidPolicySync.choices, default=AndroidPolicySync.PENDING)
    android_policy_version = models.PositiveBigIntegerField(null=True, blank=True)
    android_detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["state", "lease_expires_at"], name="push_state_lease")]

    def __str__(self) -> str:
        return f"push of {self.persona_id} r{self.persona_revision} ({self.state})"


class CommandQuerySet(models.QuerySet):
    def pending(self) -> CommandQuerySet:
        """Not delivered yet, or delivered and not answered: what a device may still act on."""
        return self.filter(state__in=PENDING_COMMAND_STATES)

    def supersede(self, reason: str, *, now: datetime | None = None) -> int:
        """End these commands, still pending, because something newer replaces them: they become
        `expired` with the reason, and the device never sees them again."""
        return self.pending().update(
            state=CommandState.EXPIRED, completed_at=now or timezone.now(), detail=reason[:500]
        )


class Command(models.Model):
    """The outbox of work for one device, written in the same transaction as its cause.

    `queued -> delivered -> acknowledged | error | expired`; `not_now` puts it back to queued.
    """

    State = CommandState

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    # Indexed by command_device_pending, which leads with it.
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="commands", db_index=False)
    type = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    priority = models.PositiveSmallIntegerField(default=50)  # lower runs first; wipe is 0
    state = models.CharField(max_length=16, choices=CommandState.choices, default=CommandState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    push = models.ForeignKey(Push, on_delete=models.SET_NULL, null=True, blank=True, related_name="commands")
    # Where the command is at its channel: for Android, the long-running operation at Google.
    channel_ref = models.CharField(max_length=255, blank=True)

    objects = CommandQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "created_at", "id"]
        indexes = [
            models.Index(fields=["device", "state", "priority", "created_at"], name="command_device_pending"),
            # /metrics counts the pending commands by age at every scrape: from here, not from the
            # whole history of answered ones.
            models.Index(
                fields=["state", "created_at"],
                name="command_pending_age",
                condition=models.Q(state__in=PENDING_COMMAND_STATES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} ({self.state})"


class ContainerKey(models.Model):
    """One version of a device's corporate-container data key (256-bit, AES-256-GCM).

    Stored only wrapped under the KEK, with the key id and version as associated data.
    `active -> retired -> destroyed`; destroying erases the wrapped bytes (crypto-shredding).
    """

    State = ContainerKeyState

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="container_keys")
    version = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    wrapped_key = models.BinaryField(null=True)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["device", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["device", "version"], name="container_key_version_unique"),
            models.UniqueConstraint(
                fields=["device"], condition=models.Q(state=ContainerKeyState.ACTIVE), name="container_key_one_active"
            ),
        ]
        indexes = [models.Index(fields=["state", "created_at"], name="container_key_due")]

    def __str__(self) -> str:
        return f"{self.device_id} v{self.version} ({self.state})"


class PolicyVersion(models.Model):
    """One signed policy document issued to one device; versions strictly increase per device."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    # Indexed by policy_version_unique, which leads with it.
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="policy_versions", db_index=False)
    version = models.PositiveIntegerField()
    persona = models.ForeignKey("personas.Persona", on_delete=models.SET_NULL, null=True, related_name="+")
    persona_revision = models.PositiveIntegerField()
    jws = models.TextField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["device", "-version"]
        constraints = [models.UniqueConstraint(fields=["device", "version"], name="policy_version_unique")]

    def __str__(self) -> str:
        return f"{self.device_id} v{self.version}"

    @property
    def document(self) -> dict:
        """The policy document inside the JWS (read back, not verified: the server signed it)."""
        return jwt.decode(self.jws, options={"verify_signature": False})["policy"]


class ComplianceChange(models.Model):
    """A device became compliant, non-compliant or unknown: one row per change (a check-in that
    changes nothing writes none), for the device page's timeline. The same change goes to the SIEM
    destinations as the event `device.compliance_changed` (devices.compliance)."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    # Indexed by compliance_change_device, which leads with it.
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="compliance_changes", db_index=False)
    compliant = models.BooleanField(null=True)
    previous = models.BooleanField(null=True)
    # What the device must fix, in plain words (devices.compliance.evaluate_compliance).
    reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["device", "-created_at"], name="compliance_change_device")]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.previous} -> {self.compliant}"


class ComplianceSnapshot(models.Model):
    """The organization's active devices and their compliance on one day (UTC), taken by a daily
    beat task (devices.compliance.compliance_snapshots_take): the dashboard's compliance over time.
    Taken again the same day, the day's row is updated (one row per organization and day)."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    devices = models.PositiveIntegerField(default=0)  # active devices
    compliant = models.PositiveIntegerField(default=0)
    not_compliant = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)  # compliance not reported yet
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization", "day"]
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="compliance_snapshot_day")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}: {self.compliant}/{self.devices}"


class Wipe(models.Model):
    """One request to erase a device's corporate container, and what became of it.

    Bound to the device (one enrollment): a device enrolled again is a new device and never
    receives it. At most one wipe per device is open at a time. Past the organization's
    mass-wipe threshold a wipe is `held` until a second admin approves it.
    """

    State = WipeState
    OPEN_STATES = WIPE_OPEN_STATES

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="wipes")
    state = models.CharField(max_length=16, choices=State.choices)
    reason = models.CharField(max_length=500)
    requested_by = models.CharField(max_length=254)
    requested_by_user = models.ForeignKey("mdm.User", on_delete=models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.CharField(max_length=254, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=254, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    command = models.OneToOneField(Command, on_delete=models.SET_NULL, null=True, blank=True, related_name="wipe")
    completed_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=models.Q(state__in=WIPE_OPEN_STATES), name="wipe_one_open_per_device"
            )
        ]
        indexes = [models.Index(fields=["organization", "requested_at"], name="wipe_org_time")]

    def __str__(self) -> str:
        return f"wipe of {self.device_id} ({self.state})"


class AndroidEnterprise(models.Model):
    """An organization's Android Enterprise at Google (at most one): its resource name once
    connected; while the admin signs up at Google, the signup URL's name and who started it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.OneToOneField("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255, blank=True)  # enterprises/LC...; blank until connected
    display_name = models.CharField(max_length=200, blank=True)
    signup_url_name = models.CharField(max_length=255, blank=True)
    # A random value bound to the signup started from the console: the callback must bring it back.
    signup_state = models.CharField(max_length=64, blank=True)
    signup_started_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.CharField(max_length=254, blank=True)
    # When the devices were last reconciled with devices.list, and how that went.
    reconciled_at = models.DateTimeField(null=True, blank=True)
    reconcile_detail = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name or f"signup in progress for {self.organization_id}"

    @property
    def connected(self) -> bool:
        return bool(self.name)


class PubSubMessage(models.Model):
    """A Pub/Sub message from Google already handled: Pub/Sub delivers at least once, and the
    same message twice must change nothing. Only its id and type are kept (no device data)."""

    message_id = models.CharField(max_length=128, primary_key=True)
    notification_type = models.CharField(max_length=32)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.notification_type} {self.message_id}"


class SavedDeviceView(models.Model):
    """A device list an admin named to come back to: its filters, sort and columns as a query
    string, kept only once devices.device_list has parsed it (whitelisted parameters, each valid,
    in a canonical order). Each admin's own: nobody else sees or deletes it."""

    MAX_NAME = 80
    MAX_PER_OWNER = 50
    MAX_QUERY = 2000

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey("mdm.User", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=MAX_NAME)
    query = models.CharField(max_length=MAX_QUERY, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "owner", "name"], name="saved_device_view_name_unique")
        ]

    def __str__(self) -> str:
        return self.name
