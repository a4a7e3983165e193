"""Operations that change organizations, members and API tokens. Each runs in one transaction
and writes its audit event."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from mdm.audit import SYSTEM_ACTOR, audit_event_record
from mdm.choices import Role
from mdm.models import ApiToken, Membership, Organization, User

API_TOKEN_PREFIX = "mdmat_"

# Other apps hook in here to give a new organization its defaults (the personas app adds its
# starting persona) without mdm importing them.
ORGANIZATION_CREATED_HOOKS: list = []


class ServiceError(Exception):
    """A refused operation, with a message fit for the person who asked.

    `status` is the HTTP status an API answers with (400 unless said otherwise; a `conflict`
    is 409), `code` the problem's snake_case code, `field` the input field at fault, if any.
    """

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.status = status or (409 if code == "conflict" else 400)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def organization_create(
    *, name: str, actor: dict[str, str] | None = None, client_ip: str | None = None
) -> Organization:
    name = name.strip()
    if not name:
        raise ServiceError("An organization needs a name.", field="name")
    organization = Organization.objects.create(name=name, slug=_unique_slug(name))
    audit_event_record(
        organization=organization,
        action="organization.created",
        actor=actor,
        target=organization,
        details={"name": organization.name, "slug": organization.slug},
        client_ip=client_ip,
    )
    for hook in ORGANIZATION_CREATED_HOOKS:
        hook(organization=organization, actor=actor)
    return organization


@transaction.atomic
def membership_add(
    *,
    organization: Organization,
    user: User,
    role: str,
    actor: dict[str, str] | None = None,
    client_ip: str | None = None,
) -> Membership:
    if role not in Role.values:
        raise ServiceError(f"Unknown role {role!r}; one of: {', '.join(Role.values)}.", field="role")
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ServiceError(f"{user.email} is already a member of {organization.name}.", code="conflict")
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    audit_event_record(
        organization=organization,
        action="member.added",
        actor=actor,
        target=membership,
        target_label=user.email,
        details={"email": user.email, "role": role},
        client_ip=client_ip,
    )
    return membership


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiToken:
    api_token: ApiToken
    token: str  # shown once, never stored


@transaction.atomic
def api_token_create(
    *,
    membership: Membership,
    name: str,
    expires_at: datetime | None = None,
    created_by: User | None = None,
    actor: dict[str, str] | None = None,
    client_ip: str | None = None,
) -> IssuedApiToken:
    name = name.strip()
    if not name:
        raise ServiceError("A token needs a name.", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("The expiry must be in the future.", field="expires_at")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    api_token = ApiToken.objects.create(
        organization=membership.organization,
        user=membership.user,
        name=name[:100],
        token_hash=_hash_token(token),
        prefix=token[:12],
        expires_at=expires_at,
        created_by=created_by,
    )
    audit_event_record(
        organization=membership.organization,
        action="api_token.created",
        actor=actor,
        target=api_token,
        details={
            "name": api_token.name,
            "prefix": api_token.prefix,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "for_user": membership.user.email,
        },
        client_ip=client_ip,
    )
    return IssuedApiToken(api_token=api_token, token=token)


@transaction.atomic
def api_token_revoke(
    *, api_token: ApiToken, actor: dict[str, str] | None = None, client_ip: str | None = None
) -> ApiToken:
    api_token = ApiToken.objects.select_for_update().get(pk=api_token.pk)
    if api_token.revoked_at is not None:
        return api_token  # revoking twice changes nothing and writes nothing
    api_token.revoked_at = timezone.now()
    api_token.save(update_fields=["revoked_at"])
    audit_event_record(
        organization=api_token.organization,
        action="api_token.revoked",
        actor=actor,
        target=api_token,
        details={"name": api_token.name, "prefix": api_token.prefix},
        client_ip=client_ip,
    )
    return api_token


def api_token_lookup(token: str) -> ApiToken | None:
    """The usable token with this secret, with its organization, user and membership loaded."""
    if not token.startswith(API_TOKEN_PREFIX) or len(token) > 100:
        return None
    api_token = ApiToken.objects.select_related("organization", "user").filter(token_hash=_hash_token(token)).first()
    if api_token is None or not api_token.is_usable() or not api_token.user.is_active:
        return None
    membership = Membership.objects.filter(organization=api_token.organization, user=api_token.user).first()
    if membership is None:
        return None  # the member left: their tokens stop working with them
    api_token._membership = membership
    now = timezone.now()
    if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
        # At most one write a minute per token, not one per request.
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    return api_token


@dataclass(frozen=True)
class BootstrapResult:
    organization: Organization
    user: User
    password: str | None  # set only when a password was generated for a new user
    created_organization: bool
    created_user: bool
    created_membership: bool


@transaction.atomic
def bootstrap(*, org_name: str, email: str, password: str | None = None) -> BootstrapResult:
    """Create (or find) an organization and make `email` its owner. Safe to run again."""
    email = User.objects.normalize_email(email.strip()).lower()
    if "@" not in email:
        raise ServiceError(f"{email!r} is not an e-mail address.", field="email")
    organization = Organization.objects.filter(name=org_name.strip()).first()
    created_organization = organization is None
    if organization is None:
        organization = organization_create(name=org_name, actor=SYSTEM_ACTOR)
    user = User.objects.filter(email__iexact=email).first()
    created_user = user is None
    generated = None
    if user is None:
        if not password:
            password = generated = secrets.token_urlsafe(12)
        user = User.objects.create_user(email=email, password=password)
    created_membership = False
    if not Membership.objects.filter(organization=organization, user=user).exists():
        membership_add(organization=organization, user=user, role=Role.OWNER, actor=SYSTEM_ACTOR)
        created_membership = True
    return BootstrapResult(organization, user, generated, created_organization, created_user, created_membership)


def _other_owners(membership: Membership) -> bool:
    return (
        Membership.objects.filter(organization=membership.organization, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def membership_change_role(
    *, membership: Membership, role: str, actor: dict[str, str] | None = None, client_ip: str | None = None
) -> Membership:
    if role not in Role.values:
        raise ServiceError(f"Unknown role {role!r}; one of: {', '.join(Role.values)}.", field="role")
    membership = Membership.objects.select_for_update().select_related("user", "organization").get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER and not _other_owners(membership):
        raise ServiceError("An organization keeps at least one owner.", code="conflict", field="role")
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_event_record(
        organization=membership.organization,
        action="member.role_changed",
        actor=actor,
        target=membership,
        target_label=membership.user.email,
        details={"email": membership.user.email, "old_role": old, "new_role": role},
        client_ip=client_ip,
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: dict[str, str] | None = None, client_ip: str | None = None):
    """Remove a member: their console access and their API tokens (which act as them) end."""
    membership = Membership.objects.select_for_update().select_related("user", "organization").get(pk=membership.pk)
    if membership.role == Role.OWNER and not _other_owners(membership):
        raise ServiceError("An organization keeps at least one owner.", code="conflict")
    ApiToken.objects.filter(organization=membership.organization, user=membership.user, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    audit_event_record(
        organization=membership.organization,
        action="member.removed",
        actor=actor,
        target=membership,
        target_label=membership.user.email,
        details={"email": membership.user.email, "role": membership.role},
        client_ip=client_ip,
    )
    membership.delete()


@transaction.atomic
def member_invite(
    *, organization: Organization, email: str, role: str, actor: dict[str, str] | None = None, client_ip=None
) -> tuple[Membership, bool]:
    """Add a member by e-mail, creating the account (with no usable password) when it is new.
    Returns the membership and whether the account is new (then the caller sends the invitation)."""
    email = User.objects.normalize_email(email.strip()).lower()
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if created:
        user = User.objects.create_user(email=email, password=None)
    return membership_add(organization=organization, user=user, role=role, actor=actor, client_ip=client_ip), created
