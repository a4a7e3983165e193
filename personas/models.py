"""Corporate container definitions. A persona knows nothing of devices."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from personas.choices import Channel, Decision, Direction, InstallMode, PasscodeComplexity


class Persona(models.Model):
    """A corporate container definition: which apps the work side may hold, what may cross
    between work and personal, how the container is encrypted and who may open it.

    Every change bumps `revision`; the compiler turns (persona revision, device) into a signed
    policy document. The settings mirror the policy document's `encryption` and `access`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="personas")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    preset = models.CharField(max_length=32, blank=True)
    is_default = models.BooleanField(default=False)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    # Data sharing (the per-channel rules are SharingRule rows).
    clipboard_max_chars = models.PositiveIntegerField(default=0)  # 0: no limit
    # Encryption.
    cipher = models.CharField(max_length=32, default="AES-256-GCM")
    key_rotation_days = models.PositiveSmallIntegerField(default=90)
    # Access.
    passcode_required = models.BooleanField(default=True)
    passcode_min_length = models.PositiveSmallIntegerField(default=4)
    passcode_complexity = models.CharField(
        max_length=16, choices=PasscodeComplexity.choices, default=PasscodeComplexity.LOW
    )
    max_offline_days = models.PositiveSmallIntegerField(default=30)
    min_os_version = models.JSONField(default=dict, blank=True)  # {"android": "13", "ios": "16.4"}
    block_compromised = models.BooleanField(default=True)
    # Enforcement: a non-compliant device's container is locked after N days, wiped after M.
    block_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    wipe_after_days = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="persona_name_unique"),
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(is_default=True), name="persona_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AppRule(models.Model):
    """One app of the persona's allowlist. Anything not listed is blocked in the container."""

    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="app_rules")
    app_id = models.CharField(max_length=255)
    install = models.CharField(max_length=16, choices=InstallMode.choices, default=InstallMode.AVAILABLE)
    min_version = models.CharField(max_length=32, blank=True)
    # Allowed signing-certificate SHA-256 hashes (lower-case hex); empty: any signer.
    signing_cert_sha256 = models.JSONField(default=list, blank=True)
    managed_config = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["app_id"]
        constraints = [models.UniqueConstraint(fields=["persona", "app_id"], name="app_rule_unique")]

    def __str__(self) -> str:
        return f"{self.app_id} ({self.install})"


class SharingRule(models.Model):
    """Whether data may cross between work and personal on one channel in one direction, and
    which apps are exempt from a deny."""

    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="sharing_rules")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    exempt_apps = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["channel", "direction"]
        constraints = [models.UniqueConstraint(fields=["persona", "channel", "direction"], name="sharing_rule_unique")]

    def __str__(self) -> str:
        return f"{self.channel} {self.direction}: {self.decision}"
