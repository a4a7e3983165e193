"""Operations that change organizations, members, invitations, single sign-on identities and API
tokens. Each runs in one transaction and writes its audit event."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from mdm.actors import SYSTEM, Actor
from mdm.audit import audit_event_record
from mdm.choices import Role
from mdm.errors import ServiceError
from mdm.lib.tokens import last_used_due, token_hash, token_new
from mdm.models import ApiToken, ExternalIdentity, Invitation, Membership, Organization, User

API_TOKEN_PREFIX = "mdmat_"

# Other apps hook in here to give a new organization its defaults (the personas app adds its
# starting persona) without mdm importing them.
ORGANIZATION_CREATED_HOOKS: list = []


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def organization_create(*, name: str, actor: Actor | None = None, client_ip: str | None = None) -> Organization:
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
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> Membership:
    """Make `user` a member at once. Only where the account consents or is new: an accepted
    invitation, a new account's invitation (setting its password accepts it), or the operator's
    `bootstrap`. An owner adding an existing account goes through `member_invite`."""
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
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> IssuedApiToken:
    name = name.strip()
    if not name:
        raise ServiceError("A token needs a name.", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("The expiry must be in the future.", field="expires_at")
    token = token_new(API_TOKEN_PREFIX)
    api_token = ApiToken.objects.create(
        organization=membership.organization,
        user=membership.user,
        name=name[:100],
        token_hash=token_hash(token),
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
def api_token_revoke(*, api_token: ApiToken, actor: Actor | None = None, client_ip: str | None = None) -> ApiToken:
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
    api_token = ApiToken.objects.select_related("organization", "user").filter(token_hash=token_hash(token)).first()
    if api_token is None or not api_token.is_usable() or not api_token.user.is_active:
        return None
    membership = Membership.objects.filter(
        organization=api_token.organization, user=api_token.user, suspended_at__isnull=True
    ).first()
    if membership is None:
        return None  # the member left (or was suspended): their tokens stop working with them
    api_token._membership = membership
    now = timezone.now()
    if last_used_due(api_token.last_used_at, now):
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
        organization = organization_create(name=org_name, actor=SYSTEM)
    user = User.objects.filter(email__iexact=email).first()
    created_user = user is None
    generated = None
    if user is None:
        if not password:
            password = generated = secrets.token_urlsafe(12)
        user = User.objects.create_user(email=email, password=password)
    created_membership = False
    if not Membership.objects.filter(organization=organization, user=user).exists():
        membership_add(organization=organization, user=user, role=Role.OWNER, actor=SYSTEM)
        created_membership = True
    return BootstrapResult(organization, user, generated, created_organization, created_user, created_membership)


def _lock_owners(membership: Membership) -> tuple[Membership, bool]:
    """Lock the organization's owner memberships and `membership` itself, in primary-key order,
    and return `membership` fresh, with whether it is the organization's only owner.

    Every change that can take an owner away (a role change, a removal) takes these locks first,
    so two owners demoting or removing each other at the same moment run one after the other and
    the second sees the first's result. Only membership rows are locked here (`of`); the
    organization row is locked afterwards by the audit log, the same child-then-organization
    order as the device services."""
    rows = list(
        Membership.objects.select_for_update(of=("self",))
        .filter(organization_id=membership.organization_id)
        .filter(Q(role=Role.OWNER) | Q(pk=membership.pk))
        .select_related("user", "organization")
        .order_by("pk")
    )
    locked = next((row for row in rows if row.pk == membership.pk), None)
    if locked is None:
        raise ServiceError("This member is no longer part of the organization.", code="not_found", status=404)
    owners = sum(1 for row in rows if row.role == Role.OWNER)
    return locked, locked.role == Role.OWNER and owners <= 1


@transaction.atomic
def membership_change_role(
    *, membership: Membership, role: str, actor: Actor | None = None, client_ip: str | None = None
) -> Membership:
    if role not in Role.values:
        raise ServiceError(f"Unknown role {role!r}; one of: {', '.join(Role.values)}.", field="role")
    membership, last_owner = _lock_owners(membership)
    if membership.role == role:
        return membership
    if last_owner:
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
def membership_remove(*, membership: Membership, actor: Actor | None = None, client_ip: str | None = None) -> None:
    """Remove a member: their console access and their API tokens (which act as them) end."""
    membership, last_owner = _lock_owners(membership)
    if last_owner:
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


@dataclass(frozen=True)
class MemberInviteResult:
    """What `member_invite` did: a new account is a member at once (its invitation e-mail lets it
    choose a password); an existing account gets a pending invitation it must accept."""

    membership: Membership | None
    invitation: Invitation | None
    created_user: bool

    @property
    def user(self) -> User:
        if self.membership is not None:
            return self.membership.user
        if self.invitation is not None:
            return self.invitation.user
        raise ValueError("A MemberInviteResult holds a membership or an invitation.")


def invitation_lifetime() -> timedelta:
    """MDM_INVITATION_SECONDS: the same lifetime as a new account's set-password link."""
    return timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)


@transaction.atomic
def member_invite(
    *,
    organization: Organization,
    email: str,
    role: str,
    invited_by: User | None = None,
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> MemberInviteResult:
    """Invite `email` into the organization with `role`.

    A new address gets an account (with no usable password) and its membership; the caller sends
    the set-password e-mail, and choosing the password is the acceptance. An existing account is
    never added without its consent: it gets a pending invitation (a new one replaces an earlier
    one, with a fresh expiry) that it accepts or declines after signing in."""
    if role not in Role.values:
        raise ServiceError(f"Unknown role {role!r}; one of: {', '.join(Role.values)}.", field="role")
    email = User.objects.normalize_email(email.strip()).lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=None)
        membership = membership_add(organization=organization, user=user, role=role, actor=actor, client_ip=client_ip)
        return MemberInviteResult(membership=membership, invitation=None, created_user=True)
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ServiceError(f"{user.email} is already a member of {organization.name}.", code="conflict")
    now = timezone.now()
    invitation, _ = Invitation.objects.update_or_create(
        organization=organization,
        user=user,
        defaults={"role": role, "invited_by": invited_by, "created_at": now, "expires_at": now + invitation_lifetime()},
    )
    audit_event_record(
        organization=organization,
        action="member.invited",
        actor=actor,
        target=invitation,
        target_label=user.email,
        details={"email": user.email, "role": role, "expires_at": invitation.expires_at.isoformat()},
        client_ip=client_ip,
    )
    return MemberInviteResult(membership=None, invitation=invitation, created_user=False)


def pending_invitations_of(user: User) -> list[Invitation]:
    """The invitations `user` can still accept, oldest first."""
    if not getattr(user, "is_authenticated", False):
        return []
    rows = Invitation.objects.filter(user=user, expires_at__gt=timezone.now()).select_related("organization")
    return list(rows.order_by("created_at"))


def _lock_invitation(invitation: Invitation, user: User) -> Invitation:
    locked = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization", "user")
        .filter(pk=invitation.pk, user=user)
        .first()
    )
    if locked is None:
        raise ServiceError("This invitation no longer exists.", code="not_found", status=404)
    return locked


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User, client_ip: str | None = None) -> Membership:
    """The invitee accepts: the membership is created with the invited role."""
    invitation = _lock_invitation(invitation, user)
    if invitation.is_expired():
        raise ServiceError(
            "This invitation has expired; ask an owner of the organization to invite you again.",
            code="expired",
            status=410,
        )
    actor = Actor.member(user)
    audit_event_record(
        organization=invitation.organization,
        action="member.invitation_accepted",
        actor=actor,
        target=invitation,
        target_label=user.email,
        details={"email": user.email, "role": invitation.role},
        client_ip=client_ip,
    )
    membership = membership_add(
        organization=invitation.organization, user=user, role=invitation.role, actor=actor, client_ip=client_ip
    )
    invitation.delete()
    return membership


@transaction.atomic
def invitation_decline(*, invitation: Invitation, user: User, client_ip: str | None = None) -> None:
    """The invitee declines (an expired invitation too): the invitation is gone, nothing else changes."""
    invitation = _lock_invitation(invitation, user)
    audit_event_record(
        organization=invitation.organization,
        action="member.invitation_declined",
        actor=Actor.member(user),
        target=invitation,
        target_label=user.email,
        details={"email": user.email, "role": invitation.role},
        client_ip=client_ip,
    )
    invitation.delete()


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Actor | None = None, client_ip: str | None = None) -> None:
    """An owner cancels a pending invitation of their organization."""
    invitation = _lock_invitation(invitation, invitation.user)
    audit_event_record(
        organization=invitation.organization,
        action="member.invitation_revoked",
        actor=actor,
        target=invitation,
        target_label=invitation.user.email,
        details={"email": invitation.user.email, "role": invitation.role},
        client_ip=client_ip,
    )
    invitation.delete()


@transaction.atomic
def external_identity_verify(
    *, user: User, issuer: str, subject: str, client_ip: str | None = None
) -> ExternalIdentity | None:
    """Check a single sign-on of `user` as `subject` at `issuer`, binding the account at its first one.

    Refused (ServiceError): the account is bound to another subject at this issuer, or to another
    issuer; or this subject is bound to another account. The first sign-in binds the account and
    writes an audit event in each organization the account belongs to or is invited into; an
    account with neither is not bound yet (there is no organization to record it in, and nothing
    it could reach), so its first sign-in that matters binds it. Returns the binding, if any."""
    if not issuer or not subject:
        raise ServiceError("The sign-in provider did not name the account (no issuer or subject).", code="sso_refused")
    user = User.objects.select_for_update().get(pk=user.pk)  # one first binding at a time per account
    if ExternalIdentity.objects.filter(issuer=issuer, subject=subject).exclude(user=user).exists():
        raise ServiceError(
            "This company account is already linked to another account here. Ask your IT team.",
            code="sso_subject_taken",
            status=403,
        )
    bindings = list(ExternalIdentity.objects.filter(user=user))
    for binding in bindings:
        if binding.issuer == issuer and binding.subject == subject:
            return binding
    if any(binding.issuer == issuer for binding in bindings):
        raise ServiceError(
            "This account is linked to a different company account at your sign-in provider. "
            "Sign in with that one, or ask your IT team.",
            code="sso_subject_mismatch",
            status=403,
        )
    if bindings:
        raise ServiceError(
            "This account is linked to another sign-in provider. Ask your IT team.",
            code="sso_issuer_mismatch",
            status=403,
        )
    organization_ids = set(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
    organization_ids |= {invitation.organization_id for invitation in pending_invitations_of(user)}
    if not organization_ids:
        return None
    try:
        with transaction.atomic():
            binding = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    except IntegrityError:
        # The same subject bound to another account by a concurrent first sign-in.
        raise ServiceError(
            "This company account is already linked to another account here. Ask your IT team.",
            code="sso_subject_taken",
            status=403,
        ) from None
    for organization in Organization.objects.filter(pk__in=organization_ids).order_by("pk"):
        audit_event_record(
            organization=organization,
            action="account.sso_bound",
            actor=Actor.member(user),
            target=binding,
            target_label=user.email,
            details={"email": user.email, "issuer": issuer, "subject": subject},
            client_ip=client_ip,
        )
    return binding


def member_invitation_pending(membership: Membership) -> bool:
    """A new account's invitation not yet taken up: it never chose a password nor signed in."""
    user = membership.user
    return not user.has_usable_password() and user.last_login is None


def _lock_pending_member(membership: Membership) -> Membership:
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("organization", "user")
        .filter(pk=membership.pk)
        .first()
    )
    if locked is None:
        raise ServiceError("This member no longer exists.", code="not_found", status=404)
    if not member_invitation_pending(locked):
        raise ServiceError(
            f"{locked.user.email} has already set a password: there is no pending invitation.", code="conflict"
        )
    return locked


def _pending_member_links_void(
    membership: Membership, action: str, actor: Actor | None, client_ip: str | None
) -> Membership:
    """Lock a pending member and make every link e-mailed so far stop working (Django's one-time
    token covers the password hash, and the account gets a fresh unusable one); audited as action."""
    membership = _lock_pending_member(membership)
    user = membership.user
    user.set_unusable_password()
    user.save(update_fields=["password"])
    audit_event_record(
        organization=membership.organization,
        action=action,
        actor=actor,
        target=membership,
        target_label=user.email,
        details={"email": user.email, "role": membership.role},
        client_ip=client_ip,
    )
    return membership


@transaction.atomic
def member_invitation_resend(
    *, membership: Membership, actor: Actor | None = None, client_ip: str | None = None
) -> Membership:
    """A new account's invitation once more: the caller e-mails a fresh set-password link. The
    earlier links stop working, because Django's one-time token covers the password hash and the
    account gets a fresh unusable one."""
    return _pending_member_links_void(membership, "member.invitation_resent", actor, client_ip)


@transaction.atomic
def member_invitation_cancel(
    *, membership: Membership, actor: Actor | None = None, client_ip: str | None = None
) -> None:
    """Cancel a new account's invitation: its membership goes, and its link stops working (a
    fresh unusable password), so the account can do nothing until invited again."""
    _pending_member_links_void(membership, "member.invitation_revoked", actor, client_ip).delete()


@transaction.atomic
def invitation_resend(
    *, invitation: Invitation, actor: Actor | None = None, client_ip: str | None = None
) -> Invitation:
    """An existing account's pending invitation again, with a fresh expiry; the caller e-mails it."""
    invitation = _lock_invitation(invitation, invitation.user)
    invitation.expires_at = timezone.now() + invitation_lifetime()
    invitation.save(update_fields=["expires_at"])
    audit_event_record(
        organization=invitation.organization,
        action="member.invitation_resent",
        actor=actor,
        target=invitation,
        target_label=invitation.user.email,
        details={
            "email": invitation.user.email,
            "role": invitation.role,
            "expires_at": invitation.expires_at.isoformat(),
        },
        client_ip=client_ip,
    )
    return invitation
