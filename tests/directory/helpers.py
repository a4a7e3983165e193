"""A SCIM identity provider for tests, in-process through Django's test client."""

from __future__ import annotations

import json

from django.test import Client

from directory.services import scim_token_create
from mdm.models import Organization

SCIM = "/scim/v2"
SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class Provider:
    """An identity provider holding one organization's SCIM token."""

    def __init__(self, organization: Organization, token: str | None = None):
        self.organization = organization
        self.token = token or scim_token_create(organization=organization, name="test idp").token
        self.client = Client()

    def call(self, method: str, path: str, body=None, *, raw: str | bytes | None = None, headers=None, **extra):
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        hdrs = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.generic(method, SCIM + path, data, content_type=extra.pop("content_type", SCIM_JSON),
                                   headers=hdrs, **extra)  # fmt: skip

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, operations, **kw):
        return self.call("PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": operations}, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def create_user(self, email: str, *, active=True, external_id=None, given="Test", family="Person"):
        body = {
            "schemas": [USER_SCHEMA],
            "userName": email,
            "name": {"givenName": given, "familyName": family},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "active": active,
        }
        if external_id:
            body["externalId"] = external_id
        response = self.post("/Users", body)
        assert response.status_code == 201, response.content
        return response.json()

    def create_group(self, name: str, members=()):
        body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m} for m in members]}
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.content
        return response.json()


def assert_scim_error(response, status: int, scim_type: str | None = None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == SCIM_JSON
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type, body
    return body
