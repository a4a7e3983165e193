"""Our SCIM service as scim2-models describes it, and the mapping between its resources and our
rows. The schemas, resource types and service provider configuration documents are the library's,
built from its models: nothing here restates RFC 7643."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    GroupMember,
    Meta,
    Patch,
    Reference,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

from directory.models import DirectoryGroup, DirectoryUser
from directory.services import UserData

# The User resource type carries the enterprise extension: Entra ID writes its attributes.
UserResource = User[EnterpriseUser]

# Counted in the ServiceProviderConfig (filter.maxResults): a larger `count` is cut to it.
MAX_RESULTS = 200

# What the identity providers actually send, tolerated where it cannot be misread: Entra ID removes
# a group member with the member in `value` (not in a path filter), and adds an e-mail through a
# path filter that matches nothing yet (emails[type eq "work"].value).
POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

SERVICE_PROVIDER_CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="Bearer token",
            description="A SCIM token (mdmst_...) created on the console's Identity provider page.",
            primary=True,
        )
    ],
)

PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group],
    resource_types=[ResourceType.from_resource(UserResource), ResourceType.from_resource(Group)],
    config=SERVICE_PROVIDER_CONFIG,
    policy=POLICY,
)


def base_url() -> str:
    """The SCIM base URL to paste into the identity provider."""
    return f"{settings.MDM_ISSUER}/scim/v2"


def etag(version: int) -> str:
    return f'W/"{version}"'


def _meta(kind: str, pk: Any, created, updated, version: int) -> Meta:
    return Meta(
        resource_type=kind,
        created=created,
        last_modified=updated,
        location=f"{base_url()}/{kind}s/{pk}",
        version=etag(version),
    )


def user_resource(record: DirectoryUser) -> UserResource:
    """The SCIM User of a provisioned person: what the provider wrote, with our id and meta."""
    payload = {**record.resource, "userName": record.user_name, "active": record.active}
    if record.external_id:
        payload["externalId"] = record.external_id
    resource = UserResource.model_validate(payload, scim_ctx=Context.DEFAULT, scim_policy=POLICY)
    resource.id = str(record.pk)
    resource.meta = _meta("User", record.pk, record.created_at, record.updated_at, record.version)
    return resource


def user_data(resource: UserResource, *, active_if_absent: bool = True) -> UserData:
    """What we keep of a User the provider sent (created, replaced, or patched in place). A
    PATCH that removes `active` leaves it as it was (`active_if_absent`): removing the attribute
    is no reactivation."""
    stored = resource.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_policy=POLICY)
    for key in ("id", "meta", "password", "groups", "userName", "active", "externalId"):
        stored.pop(key, None)
    emails = resource.emails or []
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    name = resource.name
    return UserData(
        user_name=resource.user_name or "",
        active=active_if_absent if resource.active is None else bool(resource.active),
        external_id=resource.external_id or "",
        display_name=resource.display_name or "",
        given_name=(name.given_name if name else None) or "",
        family_name=(name.family_name if name else None) or "",
        email=str(primary.value) if primary is not None and primary.value else "",
        resource=stored,
    )


def group_resource(group: DirectoryGroup, *, with_members: bool = True) -> Group:
    members = None
    if with_members:
        rows = group.memberships.select_related("member").order_by("id")
        members = [
            GroupMember(
                value=str(row.member_id),
                display=row.member.user_name,
                ref=Reference(f"{base_url()}/Users/{row.member_id}"),
                type="User",
            )
            for row in rows
        ]
    resource = Group(display_name=group.display_name, external_id=group.external_id or None, members=members)
    resource.id = str(group.pk)
    resource.meta = _meta("Group", group.pk, group.created_at, group.updated_at, group.version)
    return resource


def member_ids(resource: Group) -> list[str]:
    return [str(member.value) for member in resource.members or [] if member.value]
