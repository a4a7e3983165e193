"""Admin API: personas. A change bumps the revision and starts a push to the persona's devices.

Views stand at the top and may orchestrate several apps: the persona services know nothing of
devices, so the device counts, the change with its push and the assignment are asked of the
devices app here.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.models import Push
from devices.persona_changes import persona_change
from devices.push import persona_assign
from devices.selectors import persona_device_counts
from mdm.api.pagination import PagePagination
from mdm.api.permissions import OrgScopedMixin
from mdm.lib.http import client_ip
from mdm.permissions import Perm
from personas import selectors
from personas.api.serializers import (
    AssignSerializer,
    PersonaCreateSerializer,
    PersonaSerializer,
    PolicyPreviewSerializer,
    PushStartedSerializer,
)
from personas.models import Persona
from personas.services import persona_create, persona_delete, spec_of
from personas.spec import DEFAULT_PRESET

READ_ONLY = {"id", "revision", "preset", "is_default", "devices", "created_at", "updated_at"}


def represent(persona: Persona, counts: dict[uuid.UUID, int]) -> dict[str, Any]:
    return {
        "id": str(persona.pk),
        "revision": persona.revision,
        "preset": persona.preset,
        "is_default": persona.is_default,
        "devices": counts.get(persona.pk, 0),
        "created_at": persona.created_at,
        "updated_at": persona.updated_at,
        **spec_of(persona),
    }


def push_link(push: Push) -> dict[str, str]:
    return {"id": str(push.pk), "url": f"/api/v1/pushes/{push.pk}/"}


def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object (a 400 for anything else)."""
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": ["A JSON object is expected."]})
    return request.data


def _spec_part(body: dict[str, Any]) -> dict[str, Any]:
    """The body without what the server keeps about a persona (echoed back by clients, ignored)."""
    return {key: value for key, value in body.items() if key not in READ_ONLY}


class PersonaListApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.PERSONAS_VIEW, "POST": Perm.PERSONAS_CHANGE}
    # Paged like every list; named here so that the schema describes the page, not a bare array.
    pagination_class = PagePagination

    @extend_schema(responses=PersonaSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Every persona of the organization, by name."""
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.persona_list(organization_id=self.organization.pk), request, view=self
        )
        counts = persona_device_counts(organization_id=self.organization.pk)
        return paginator.get_paginated_response([represent(p, counts) for p in page])

    @extend_schema(request=PersonaCreateSerializer, responses={201: PersonaSerializer})
    def post(self, request: Request) -> Response:
        """Create a persona from a preset; any part of the spec in the body is laid over it."""
        body = _body(request)
        changes = _spec_part(body)
        start_data = {
            "preset": body.get("preset", DEFAULT_PRESET),
            **({"name": changes["name"]} if "name" in changes else {}),
        }
        start = PersonaCreateSerializer(data=start_data)
        start.is_valid(raise_exception=True)
        persona = persona_create(
            organization=self.organization,
            name=start.validated_data["name"],
            preset=start.validated_data["preset"],
            changes=changes,
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        # A new persona has no devices yet.
        return Response(represent(persona, {}), status=status.HTTP_201_CREATED)


class PersonaDetailApi(OrgScopedMixin, APIView):
    required_perms = {
        "GET": Perm.PERSONAS_VIEW,
        "PUT": Perm.PERSONAS_CHANGE,
        "PATCH": Perm.PERSONAS_CHANGE,
        "DELETE": Perm.PERSONAS_CHANGE,
    }

    def _get(self, pk: uuid.UUID) -> Persona:
        persona = selectors.persona_get(organization_id=self.organization.pk, persona_id=pk)
        if persona is None:
            raise Http404
        return persona

    def _answer(self, persona: Persona, push: Push | None = None) -> Response:
        persona = self._get(persona.pk)  # fresh, with the rules as saved
        body = represent(persona, persona_device_counts(organization_id=self.organization.pk))
        if push is not None:
            body["push"] = push_link(push)
        return Response(body)

    def _change(self, request: Request, pk: uuid.UUID, **change: dict[str, Any]) -> Response:
        done = persona_change(
            persona=self._get(pk), actor=self.org_context.actor, client_ip=client_ip(request), **change
        )
        return self._answer(done.persona, done.push)

    @extend_schema(responses=PersonaSerializer)
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return self._answer(self._get(pk))

    @extend_schema(request=PersonaSerializer, responses=PersonaSerializer)
    def put(self, request: Request, pk: uuid.UUID) -> Response:
        """Replace the whole spec."""
        return self._change(request, pk, spec=_spec_part(_body(request)))

    @extend_schema(request=PersonaSerializer(partial=True), responses=PersonaSerializer)
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        """Change part of the spec: objects are merged key by key, lists (apps, exemptions) replaced."""
        return self._change(request, pk, patch=_spec_part(_body(request)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        """Delete a persona that no device or enrollment token uses (409 otherwise)."""
        persona_delete(persona=self._get(pk), actor=self.org_context.actor, client_ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonaPolicyPreviewApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.PERSONAS_VIEW}

    @extend_schema(responses=PolicyPreviewSerializer)
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        """The policy document this persona compiles to, validated against the policy schema."""
        persona = selectors.persona_get(organization_id=self.organization.pk, persona_id=pk)
        if persona is None:
            raise Http404
        document = selectors.persona_policy_preview(persona=persona)
        return Response({"policy": document, "placeholders": list(selectors.PREVIEW_PLACEHOLDERS)})


class PersonaAssignApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.PERSONAS_CHANGE}

    @extend_schema(request=AssignSerializer, responses={202: PushStartedSerializer})
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        """Move devices to this persona; a push delivers it to them (202 with the push)."""
        persona = selectors.persona_get(organization_id=self.organization.pk, persona_id=pk, with_rules=False)
        if persona is None:
            raise Http404
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        push = persona_assign(
            persona=persona,
            device_ids=serializer.validated_data["devices"],
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        return Response({**push_link(push), "targeted": push.targeted}, status=status.HTTP_202_ACCEPTED)
