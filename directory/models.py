"""What the identity provider provisions over SCIM: its tokens, the people and groups it pushes,
and the organization's offboarding rule."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from directory.choices import Offboarding


class ScimToken(models.Model):
    """A SCIM bearer token (`mdmst_...`) an identity provider provisions one organization with.

    Like an admin API token only its SHA-256 is stored (256 random bits: a plain hash is as strong
    as a slow one, and each request finds it by index). It acts as no member: audit events name
    the token itself.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="scim_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey("mdm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"


class DirectorySettings(models.Model):
    """The organization's provisioning settings: what offboarding does to a person's devices."""

    organization = models.OneToOneField(
        "mdm.Organization", on_delete=models.CASCADE, primary_key=True, related_name="directory_settings"
    )
    offboarding = models.CharField(max_length=16, choices=Offboarding.choices, default=Offboarding.WIPE)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"directory settings of {self.organization_id}"


class DirectoryUser(models.Model):
    """A person the identity provider provisioned (a SCIM User), linked to their account.

    `resource` keeps the SCIM attributes as the provider last wrote them (without id and meta), so
    that what it reads back is what it wrote; the columns beside it are what we query and act on.
    A deleted user is kept (`deleted_at`) for the audit log and their devices' history, and is a
    404 to SCIM; the same userName may then be provisioned again as a new record.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="directory_users")
    user = models.ForeignKey("mdm.User", on_delete=models.CASCADE, related_name="directory_records")
    user_name = models.CharField(max_length=254)
    external_id = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    given_name = models.CharField(max_length=255, blank=True)
    family_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    active = models.BooleanField(default=True)
    resource = models.JSONField(default=dict)
    # meta.version and the ETag: bumped by every change.
    version = models.PositiveIntegerField(default=1)
    # What the last deactivation did to the devices (an Offboarding value), so that a
    # reactivation undoes exactly that (cancels held wipes, unlocks what it locked).
    offboarded_with = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("user_name"),
                condition=models.Q(deleted_at__isnull=True),
                name="directory_user_name_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=models.Q(deleted_at__isnull=True),
                name="directory_user_account_unique",
            ),
        ]
        indexes = [models.Index(fields=["organization", "external_id"], name="directory_user_external")]

    def __str__(self) -> str:
        return self.user_name


class DirectoryGroup(models.Model):
    """A group the identity provider pushes (a SCIM Group), optionally mapped to a persona.

    Members' devices get the mapped persona, and so do their new enrollments. A person in several
    mapped groups gets the persona of the group with the highest `priority`, then the first by
    name (see directory.selectors.persona_for).
    """

    PRIORITY_MAX: ClassVar[int] = 1000

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="directory_groups")
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    persona = models.ForeignKey(
        "personas.Persona", on_delete=models.SET_NULL, null=True, blank=True, related_name="directory_groups"
    )
    priority = models.PositiveSmallIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return self.display_name


class DirectoryGroupMember(models.Model):
    """One provisioned user's membership of one provisioned group."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("mdm.Organization", on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(DirectoryGroup, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE, related_name="group_memberships")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["group", "member"], name="directory_group_member_unique")]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.group_id}"
