"""Who may do what: the one permission helper that console views and API views both use.

A request reaches an organization through a membership (console session) or an API token (which
acts with its member's current role). `OrgContext` carries that decision; `can` answers for a
permission. Objects are always looked up inside `context.organization`, so an object of another
organization is a 404 before any role is even considered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from mdm.actors import Actor
from mdm.choices import Role
from mdm.models import ApiToken, Membership, Organization, User

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest
    from rest_framework.request import Request


class Perm(StrEnum):
    ORG_VIEW = "org.view"
    MEMBERS_MANAGE = "members.manage"
    API_TOKENS_MANAGE = "api_tokens.manage"
    AUDIT_VIEW = "audit.view"
    PERSONAS_VIEW = "personas.view"
    PERSONAS_CHANGE = "personas.change"
    ENROLLMENT_TOKENS_VIEW = "enrollment_tokens.view"
    ENROLLMENT_TOKENS_MANAGE = "enrollment_tokens.manage"
    DEVICES_VIEW = "devices.view"
    DEVICES_LOCK = "devices.lock"
    DEVICES_WIPE = "devices.wipe"
    WIPES_APPROVE = "wipes.approve"
    PUSHES_VIEW = "pushes.view"
    SIGNING_KEYS_MANAGE = "signing_keys.manage"
    # Connecting to Google's Android Enterprise, and disconnecting (which removes every Android
    # device's work profile): the owner's alone, like the members.
    ANDROID_ENTERPRISE_MANAGE = "android_enterprise.manage"
    # Where the organization's audit and device events go (SIEM webhooks and syslog), and replays.
    EVENT_DESTINATIONS_MANAGE = "event_destinations.manage"
    # The identity provider's SCIM tokens and the offboarding rule (which wipes the devices of
    # whoever the provider deactivates): the owner's alone.
    DIRECTORY_MANAGE = "directory.manage"


_READ = {
    Perm.ORG_VIEW,
    Perm.PERSONAS_VIEW,
    Perm.ENROLLMENT_TOKENS_VIEW,
    Perm.DEVICES_VIEW,
    Perm.PUSHES_VIEW,
}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.OWNER: frozenset(Perm),
    Role.ADMIN: frozenset(
        _READ
        | {
            Perm.API_TOKENS_MANAGE,
            Perm.SIGNING_KEYS_MANAGE,
            Perm.AUDIT_VIEW,
            Perm.PERSONAS_CHANGE,
            Perm.ENROLLMENT_TOKENS_MANAGE,
            Perm.DEVICES_LOCK,
            Perm.DEVICES_WIPE,
            Perm.WIPES_APPROVE,
            Perm.EVENT_DESTINATIONS_MANAGE,
        }
    ),
    Role.HELPDESK: frozenset(_READ | {Perm.ENROLLMENT_TOKENS_MANAGE, Perm.DEVICES_LOCK}),
    Role.AUDITOR: frozenset(_READ | {Perm.AUDIT_VIEW}),
    Role.EMPLOYEE: frozenset(),
}
CONSOLE_ROLES = [Role.OWNER, Role.ADMIN, Role.HELPDESK, Role.AUDITOR]


def role_can(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


@dataclass(frozen=True)
class OrgContext:
    """The organization a request acts in, who acts, and with which role."""

    organization: Organization
    user: User
    membership: Membership
    api_token: ApiToken | None = None

    @property
    def role(self) -> str:
        return self.membership.role

    def can(self, perm: Perm) -> bool:
        return role_can(self.role, perm)

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise PermissionDenied(f"Your role ({self.role}) does not allow this ({perm}).")

    @property
    def actor(self) -> Actor:
        """Whoever acts through this context: the member, or their API token."""
        if self.api_token is not None:
            return Actor.api_token(self.api_token)
        return Actor.member(self.user)


SESSION_ORG_KEY = "mdm_organization_id"
# Where a request keeps its resolved context (a console page or an API view asks more than once).
_CONTEXT_ATTRIBUTE = "_mdm_org_context"


def memberships_of(user: User | AnonymousUser, *, console: bool = True) -> list[Membership]:
    """The user's memberships: those with a console role, or (console=False) all of them; never
    one the identity provider suspended."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    rows = (
        Membership.objects.filter(user=user, suspended_at__isnull=True)
        .select_related("organization")
        .order_by("organization__name")
    )
    if console:
        rows = rows.filter(role__in=CONSOLE_ROLES)
    return list(rows)


def context_for_session(request: HttpRequest | Request) -> OrgContext | None:
    """The console's organization: the one picked with the switcher, else the first membership."""
    user = request.user
    if not isinstance(user, User):  # anonymous
        return None
    memberships = memberships_of(user)
    if not memberships:
        return None
    chosen = request.session.get(SESSION_ORG_KEY)
    membership = next((m for m in memberships if str(m.organization_id) == chosen), memberships[0])
    return OrgContext(organization=membership.organization, user=user, membership=membership)


def context_for_request(request: HttpRequest | Request) -> OrgContext | None:
    """The org context of a console or admin API request, resolved once per request."""
    cached: OrgContext | None = getattr(request, _CONTEXT_ATTRIBUTE, None)
    if cached is not None:
        return cached
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        membership = token._membership
        context = (
            OrgContext(organization=token.organization, user=token.user, membership=membership, api_token=token)
            if membership is not None
            else None
        )
    else:
        context = context_for_session(request)
    setattr(request, _CONTEXT_ATTRIBUTE, context)
    return context
