"""What every app shares: users, organizations and their members, admin API tokens, the audit
log, and the server's signing keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, NoReturn

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from mdm.choices import Role, SigningKeyState


class UserManager(DjangoUserManager["User"]):
    """Users sign in with their e-mail address, kept in lower case.

    Django's manager takes a username first; ours takes the e-mail address in its place (the
    `override` ignores below), which is what `AbstractUser` with no username field needs.
    """

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> User:  # type: ignore[override]
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields: Any) -> User:  # type: ignore[override]
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractUser):
    """A person: an IT admin (with console memberships) or an employee (without a console role)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = None  # type: ignore[assignment]  # no username field: people sign in with their e-mail
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email


class Organization(models.Model):
    """A tenant: every domain row belongs to exactly one organization.

    `audit_seq` and `audit_head_hash` are the head of the organization's audit chain; the row is
    locked while an event is appended, which also serialises the chain.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    audit_seq = models.PositiveBigIntegerField(default=0, editable=False)
    audit_head_hash = models.CharField(max_length=64, default="", editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one organization's console and admin API.

    `suspended_at`: the organization's identity provider deactivated the person (SCIM). The
    membership then opens nothing (no console, portal or API token in this organization) until
    the provider reactivates them; it is kept, role included, for that day.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)
    suspended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.organization}"


class ApiToken(models.Model):
    """An admin API token (`mdmat_...`): acts as its member, with the member's current role.

    Only the SHA-256 of the token is stored: the token carries 256 random bits, so a plain hash
    is as strong as a slow one here and lets every request look it up by index.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so that a member can tell tokens apart without the secret.
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    # Not a column: the member the token acts as, loaded with it by `api_token_lookup`.
    _membership: Membership | None = None

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("Audit events are append-only.")

    def delete(self) -> NoReturn:
        raise TypeError("Audit events are append-only.")


class AuditEvent(models.Model):
    """One entry of an organization's append-only, hash-chained audit log.

    `hash` is SHA-256 over the previous event's hash and this event's canonical content (see
    mdm/audit.py); `seq` numbers the events of an organization 1, 2, 3... so a deleted row leaves
    a gap, and the organization's head catches a deleted last row. Actors are stored as values,
    not foreign keys, so that removing a user never rewrites history. On PostgreSQL a trigger
    refuses UPDATE and DELETE as well.
    """

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="audit_events")
    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    actor_type = models.CharField(max_length=16)  # user, api_token, device, system
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    details = models.JSONField(default=dict)
    # Kept as text exactly as written (an inet column would re-format it and break the hash).
    client_ip = models.CharField(max_length=45, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        constraints = [models.UniqueConstraint(fields=["organization", "seq"], name="audit_event_seq_unique")]
        indexes = [
            models.Index(fields=["organization", "action", "-seq"], name="audit_org_action"),
            models.Index(fields=["organization", "target_type", "target_id"], name="audit_org_target"),
            models.Index(fields=["organization", "created_at"], name="audit_org_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_label or self.actor_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Audit events are append-only.")


class SigningKey(models.Model):
    """One of the server's Ed25519 signing keys (policy documents, agent access tokens).

    Server infrastructure, not a tenant's data, so it belongs to no organization. The private key
    is stored only wrapped under the KEK; `kid` is the RFC 7638 thumbprint of the public key.
    Exactly one key is active. A rotation makes the old one `previous`: still published, still
    signing for the devices that pin it until they roll over to the active key (agent protocol
    v1.1). Retiring a key destroys its private key (`wrapped_private_key` erased) and unpublishes it.
    """

    kid = models.CharField(max_length=64, primary_key=True)
    public_key = models.BinaryField()
    wrapped_private_key = models.BinaryField(null=True)
    state = models.CharField(max_length=16, choices=SigningKeyState.choices, default=SigningKeyState.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=models.Q(state=SigningKeyState.ACTIVE), name="signing_key_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.state})"


class ExternalIdentity(models.Model):
    """The single sign-on identity an account is bound to: the provider's `iss` and `sub`.

    Recorded at the account's first sign-in through a provider. From then on a sign-in for the
    same e-mail address must carry the same subject from the same issuer: an address reassigned
    at the provider to someone else (a new `sub`) does not open the old account.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["issuer", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="external_identity_unique"),
            models.UniqueConstraint(fields=["user", "issuer"], name="external_identity_one_per_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class Invitation(models.Model):
    """An existing account invited into an organization, pending its owner's consent.

    No membership exists until the invitee accepts; declining (or an owner cancelling) deletes the
    row. It can be accepted until `expires_at` (MDM_INVITATION_SECONDS after it was sent).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="invitation_unique")]

    def __str__(self) -> str:
        return f"{self.user} invited as {self.role} to {self.organization}"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())


class OutboxEvent(models.Model):
    """An event on its way to the organization's SIEM destinations (the transactional outbox).

    Written in the same transaction as the change it tells of (mdm/outbox.py), so an event exists
    if and only if its change committed. `seq` is given after commit by the sequencer, under one
    lock, in the order rows became visible: destinations read `seq > cursor` and can never skip an
    event whose transaction committed late (an `id` is taken at INSERT, long before the commit).
    `event_id` is the envelope's id, the same for every retry and replay: receivers dedupe by it.
    """

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="outbox_events")
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=100)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    seq = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "seq"], name="outbox_org_seq"),
            models.Index(fields=["organization", "created_at"], name="outbox_org_time"),
            # The sequencer's work list stays small: only rows still waiting for their seq.
            models.Index(fields=["id"], name="outbox_unsequenced", condition=models.Q(seq__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.seq or '-'}"
