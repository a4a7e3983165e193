"""The SCIM 2.0 door (/scim/v2/): an identity provider provisions one organization with its SCIM
bearer token. No session, no CSRF (the path is on the lean path, settings.LEAN_PATH_PREFIXES),
and every answer, errors included, is application/scim+json in SCIM's own format (RFC 7644 §3.12):
the problem+json middleware does not apply here.

scim2-models parses and checks every payload (resources, PATCH operations, filters, paging) and
renders every answer; the views look rows up inside the token's organization (anything else is a
404) and call one service.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    Group,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    Meta,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
)

from directory.models import DirectoryGroup, DirectoryUser, ScimToken
from directory.scim.filters import group_filter, user_filter
from directory.scim.resources import (
    MAX_RESULTS,
    POLICY,
    PROVIDER,
    SERVICE_PROVIDER_CONFIG,
    UserResource,
    base_url,
    group_resource,
    member_ids,
    user_data,
    user_resource,
)
from directory.services import (
    directory_group_create,
    directory_group_delete,
    directory_group_update,
    directory_user_create,
    directory_user_delete,
    directory_user_update,
    scim_token_lookup,
)
from mdm.actors import Actor
from mdm.errors import ServiceError
from mdm.lib import jsonsafe
from mdm.lib.http import client_ip

logger = logging.getLogger(__name__)

SCIM_CONTENT_TYPE = "application/scim+json"
_JSON_TYPES = {SCIM_CONTENT_TYPE, "application/json"}
# RFC 7644 §3.12's scimType for a refusal of our services, by its code.
_SCIM_TYPES = {"uniqueness": "uniqueness", "mutability": "mutability", "invalid": "invalidValue"}
_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')
# Past any organization's size, and within what a database OFFSET takes.
MAX_START_INDEX = 2**31
_QUERY_PARAMETERS = {
    "filter": "filter",
    "startIndex": "start_index",
    "count": "count",
    "attributes": "attributes",
    "excludedAttributes": "excluded_attributes",
}


def scim_json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status, content_type=SCIM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def scim_error(status: int, detail: str, scim_type: str | None = None, **headers: str) -> HttpResponse:
    error = Error(status=status, scim_type=scim_type, detail=detail)
    return scim_json(error.model_dump(), status=status, headers=headers)


def _error_response(error: Error) -> HttpResponse:
    status = error.status or 400
    return scim_json(error.model_dump(), status=status)


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return scim_error(404, "Nothing is here.")


@method_decorator(csrf_exempt, name="dispatch")
class ScimView(View):
    """Authenticates the SCIM token and turns every refusal into a SCIM error."""

    http_method_names = ["get", "post", "put", "patch", "delete"]
    token: ScimToken
    actor: Actor

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            header = request.META.get("HTTP_AUTHORIZATION", "")
            scheme, _, secret = header.partition(" ")
            token = scim_token_lookup(secret.strip()) if scheme.lower() == "bearer" else None
            if token is None:
                return scim_error(401, "A valid SCIM bearer token is required.", **{"WWW-Authenticate": "Bearer"})
            self.token, self.actor = token, Actor.scim_token(token)
            self.organization = token.organization
            self.ip = client_ip(request)
            return super().dispatch(request, *args, **kwargs)
        except SCIMException as exc:
            return _error_response(exc.to_error())
        except ValidationError as exc:
            return _error_response(Error.from_validation_errors(exc)[0])
        except ServiceError as exc:
            if exc.status == 404:
                return scim_error(404, exc.message)
            scim_type = _SCIM_TYPES.get(exc.code) if exc.status in (400, 409) else None
            return scim_error(exc.status, exc.message, scim_type)
        except RequestDataTooBig:
            return scim_error(413, "The request body is over the size limit.")
        except Exception:
            logger.exception("Unhandled error on SCIM %s %s", request.method, request.path)
            return scim_error(500, "The server could not complete the request.")

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        allowed = ", ".join(m.upper() for m in self.http_method_names if hasattr(self, m))
        return scim_error(405, f"{request.method} is not allowed here.", Allow=allowed)

    # Input -------------------------------------------------------------------------------------

    def body(self) -> dict[str, Any]:
        if self.request.content_type not in _JSON_TYPES:
            raise InvalidSyntaxException(detail=f"Send {SCIM_CONTENT_TYPE}.")
        try:
            payload = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidSyntaxException(detail="The body is not JSON.") from None
        if not isinstance(payload, dict):
            raise InvalidSyntaxException(detail="The body must be a JSON object.")
        try:
            # PostgreSQL stores no NUL (nor a lone surrogate) in text or jsonb: refused here, not as
            # a database error.
            jsonsafe.check(payload, max_depth=jsonsafe.MAX_BODY_DEPTH, text_safe=True)
        except jsonsafe.UnsafeJSON as exc:
            raise InvalidValueException(detail=f"Values may not contain this: {exc}") from None
        return payload

    def if_match(self) -> int | None:
        """The version the client's If-Match names (None: no condition); -1 matches nothing."""
        header = self.request.META.get("HTTP_IF_MATCH")
        if header is None or header.strip() == "*":
            return None
        found = _ETAG.match(header)
        return int(found.group(1)) if found else -1

    def response_parameters(self, model: Any) -> ResponseParameters:
        params = {
            key: self.request.GET[name]
            for name, key in _QUERY_PARAMETERS.items()
            if key in ("attributes", "excluded_attributes") and name in self.request.GET
        }
        return ResponseParameters[model].model_validate(params)

    def search(self, model: Any) -> tuple[Any, int, int]:
        """The filter's tree (or None), the first index (1-based) and the page size."""
        params = {key: self.request.GET[name] for name, key in _QUERY_PARAMETERS.items() if name in self.request.GET}
        search = SearchRequest[model].model_validate(params, scim_ctx=Context.SEARCH_REQUEST)
        # RFC 7644 §3.4.2.4: a startIndex below 1 is 1; a negative count is 0; we cap at maxResults.
        start = min(search.start_index or 1, MAX_START_INDEX)
        count = MAX_RESULTS if search.count is None else max(0, min(search.count, MAX_RESULTS))
        return (search.filter.ast if search.filter else None), start, count

    # Output ------------------------------------------------------------------------------------

    def resource_response(self, resource: Any, model: Any, status: int = 200) -> HttpResponse:
        payload = resource.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=self.response_parameters(model)
        )
        headers = {"ETag": resource.meta.version, "Location": resource.meta.location}
        return scim_json(payload, status=status, headers=headers)

    def list_response(self, resources: list[Any], total: int, start: int, model: Any) -> HttpResponse:
        parameters = self.response_parameters(model)
        listed = ListResponse[model](
            total_results=total, start_index=start, items_per_page=len(resources), resources=resources
        )
        return scim_json(listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=parameters))


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class UsersView(ScimView):
    def users(self):
        return DirectoryUser.objects.filter(organization=self.organization, deleted_at__isnull=True)

    def record(self, pk: str, *, lock: bool = False) -> DirectoryUser:
        rows = self.users().select_related("user", "organization")
        if lock:
            rows = rows.select_for_update(of=("self",))
        record = rows.filter(pk=_uuid(pk)).first() if _uuid(pk) else None
        if record is None:
            raise ServiceError("No such user.", code="not_found", status=404)
        return record

    def get(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is not None:
            return self.resource_response(user_resource(self.record(pk)), UserResource)
        ast, start, count = self.search(UserResource)
        rows = self.users()
        if ast is not None:
            rows = rows.filter(user_filter(ast))
        total = rows.count()
        page = list(rows.order_by("created_at", "id")[start - 1 : start - 1 + count]) if count else []
        return self.list_response([user_resource(row) for row in page], total, start, UserResource)

    def post(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is not None:
            return self.http_method_not_allowed(request)
        resource = UserResource.model_validate(
            self.body(), scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_provider=PROVIDER
        )
        record = directory_user_create(
            organization=self.organization, data=user_data(resource), actor=self.actor, client_ip=self.ip
        )
        return self.resource_response(user_resource(record), UserResource, status=201)

    def put(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            return self.http_method_not_allowed(request)
        resource = UserResource.model_validate(
            self.body(), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_provider=PROVIDER
        )
        record = directory_user_update(
            record=self.record(pk), data=user_data(resource), actor=self.actor, if_match=self.if_match(),
            client_ip=self.ip,
        )  # fmt: skip
        return self.resource_response(user_resource(record), UserResource)

    def patch(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            return self.http_method_not_allowed(request)
        patch = PatchOp[UserResource].model_validate(
            self.body(), scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_provider=PROVIDER
        )
        with transaction.atomic():
            # Read, patch and write under the row's lock: two PATCHes never lose each other's change.
            record = self.record(pk, lock=True)
            resource = user_resource(record)
            patch.patch(resource, scim_policy=POLICY)
            record = directory_user_update(
                record=record, data=user_data(resource, active_if_absent=record.active), actor=self.actor,
                if_match=self.if_match(),
                client_ip=self.ip,
            )  # fmt: skip
        return self.resource_response(user_resource(record), UserResource)

    def delete(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            return self.http_method_not_allowed(request)
        directory_user_delete(record=self.record(pk), actor=self.actor, if_match=self.if_match(), client_ip=self.ip)
        return HttpResponse(status=204)


class GroupsView(ScimView):
    def groups(self):
        return DirectoryGroup.objects.filter(organization=self.organization)

    def group(self, pk: str, *, lock: bool = False) -> DirectoryGroup:
        rows = self.groups()
        if lock:
            rows = rows.select_for_update()
        group = rows.filter(pk=_uuid(pk)).first() if _uuid(pk) else None
        if group is None:
            raise ServiceError("No such group.", code="not_found", status=404)
        return group

    def with_members(self) -> bool:
        parameters = self.response_parameters(Group)
        named = {str(path).lower() for path in parameters.excluded_attributes or []}
        wanted = {str(path).lower() for path in parameters.attributes or []}
        return "members" not in named and (not wanted or any(p.startswith("members") for p in wanted))

    def get(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        members = self.with_members()
        if pk is not None:
            return self.resource_response(group_resource(self.group(pk), with_members=members), Group)
        ast, start, count = self.search(Group)
        rows = self.groups()
        if ast is not None:
            rows = rows.filter(pk__in=self.groups().filter(group_filter(ast)).values("pk"))
        total = rows.count()
        page = list(rows.order_by("created_at", "id")[start - 1 : start - 1 + count]) if count else []
        return self.list_response([group_resource(row, with_members=members) for row in page], total, start, Group)

    def post(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is not None:
            return self.http_method_not_allowed(request)
        resource = Group.model_validate(self.body(), scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_provider=PROVIDER)
        group = directory_group_create(
            organization=self.organization,
            display_name=resource.display_name or "",
            external_id=resource.external_id or "",
            member_ids=member_ids(resource),
            actor=self.actor,
            client_ip=self.ip,
        )
        return self.resource_response(group_resource(group), Group, status=201)

    def put(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            return self.http_method_not_allowed(request)
        resource = Group.model_validate(
            self.body(), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_provider=PROVIDER
        )
        return self._write(pk, resource)

    def patch(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            return self.http_method_not_allowed(request)
        patch = PatchOp[Group].model_validate(
            self.body(), scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_provider=PROVIDER
        )
        with transaction.atomic():
            resource = group_resource(self.group(pk, lock=True))
            patch.patch(resource, scim_policy=POLICY)
            return self._write(pk, resource)

    def _write(self, pk: str, resource: Group) -> HttpResponse:
        group = directory_group_update(
            group=self.group(pk),
            display_name=resource.display_name or "",
            external_id=resource.external_id or "",
            member_ids=member_ids(resource),
            actor=self.actor,
            if_match=self.if_match(),
            client_ip=self.ip,
        )
        return self.resource_response(group_resource(group, with_members=self.with_members()), Group)

    def delete(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            return self.http_method_not_allowed(request)
        directory_group_delete(group=self.group(pk), actor=self.actor, if_match=self.if_match(), client_ip=self.ip)
        return HttpResponse(status=204)


class ServiceProviderConfigView(ScimView):
    def get(self, request: HttpRequest) -> HttpResponse:
        config = SERVICE_PROVIDER_CONFIG.model_copy()
        config.meta = Meta(resource_type="ServiceProviderConfig", location=f"{base_url()}/ServiceProviderConfig")
        return scim_json(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def _documents(documents: Any, kind: str, endpoint: str) -> list[Any]:
    """The provider's discovery documents, each with its meta (a copy: they are shared)."""
    described = []
    for document in documents:
        document = document.model_copy()
        document.meta = Meta(resource_type=kind, location=f"{base_url()}/{endpoint}/{document.id}")
        described.append(document)
    return described


def _discovery(documents: list[Any], model: Any, key: str | None) -> HttpResponse:
    if key is not None:
        found = next((document for document in documents if str(document.id) == key), None)
        if found is None:
            return scim_error(404, f"No {model.__name__} {key!r}.")
        return scim_json(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    listed = ListResponse[model](
        total_results=len(documents), start_index=1, items_per_page=len(documents), resources=documents
    )
    return scim_json(listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


class ResourceTypesView(ScimView):
    def get(self, request: HttpRequest, name: str | None = None) -> HttpResponse:
        documents = _documents(PROVIDER.resource_types, "ResourceType", "ResourceTypes")
        return _discovery(documents, ResourceType, name)


class SchemasView(ScimView):
    def get(self, request: HttpRequest, schema_id: str | None = None) -> HttpResponse:
        return _discovery(_documents(PROVIDER.schemas, "Schema", "Schemas"), Schema, schema_id)
