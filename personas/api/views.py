"""Admin API: personas. A change bumps the revision and starts a push to the persona's devices.

Views stand at the top and may orchestrate several apps: the persona services know nothing of
devices, so the device counts and the push are asked of the devices app here.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.models import Device
from mdm.api.pagination import PagePagination
from mdm.api.permissions import OrgScopedMixin
from mdm.lib.http import client_ip
from mdm.permissions import Perm
from personas.api.serializers import (
    AssignSerializer,
    PersonaCreateSerializer,
    PersonaSerializer,
    PolicyPreviewSerializer,
    PushStartedSerializer,
)
from personas.compiler import compile_policy, persona_template
from personas.models import Persona
from personas.services import persona_create, persona_delete, persona_update, spec_of

READ_ONLY = {"id", "revision", "preset", "is_default", "devices", "created_at", "updated_at"}
PREVIEW_KEY_ID = "00000000-0000-0000-0000-000000000000"


def device_counts(organization) -> dict:
    rows = (
        Device.objects.filter(organization=organization, state="active", persona__isnull=False)
        .values_list("persona_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def represent(persona: Persona, counts: dict) -> dict:
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


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": ["A JSON object is expected."]})
    return {key: value for key, value in request.data.items() if key not in READ_ONLY}


class PersonaListApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.PERSONAS_VIEW, "POST": Perm.PERSONAS_CHANGE}
    # Paged like every list; named here so that the schema describes the page, not a bare array.
    pagination_class = PagePagination

    @extend_schema(responses=PersonaSerializer(many=True))
    def get(self, request):
        """Every persona of the organization, by name."""
        personas = (
            Persona.objects.filter(organization=self.organization)
            .prefetch_related("app_rules", "sharing_rules")
            .order_by("name", "id")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(personas, request, view=self)
        counts = device_counts(self.organization)
        return paginator.get_paginated_response([represent(p, counts) for p in page])

    @extend_schema(request=PersonaCreateSerializer, responses={201: PersonaSerializer})
    def post(self, request):
        """Create a persona from a preset; any part of the spec in the body is laid over it."""
        body = _body(request)
        preset = request.data.get("preset", "byod-basic")
        start = PersonaCreateSerializer(data={"preset": preset, **({"name": body["name"]} if "name" in body else {})})
        start.is_valid(raise_exception=True)
        changes = body
        persona = persona_create(
            organization=self.organization,
            name=start.validated_data["name"],
            preset=start.validated_data["preset"],
            changes=changes,
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        return Response(represent(persona, {}), status=status.HTTP_201_CREATED)


class PersonaDetailApi(OrgScopedMixin, APIView):
    required_perms = {
        "GET": Perm.PERSONAS_VIEW,
        "PUT": Perm.PERSONAS_CHANGE,
        "PATCH": Perm.PERSONAS_CHANGE,
        "DELETE": Perm.PERSONAS_CHANGE,
    }

    def _get(self, pk) -> Persona:
        return get_object_or_404(
            Persona.objects.filter(organization=self.organization).prefetch_related("app_rules", "sharing_rules"), pk=pk
        )

    def _answer(self, persona: Persona, push=None) -> Response:
        persona = self._get(persona.pk)
        body = represent(persona, device_counts(self.organization))
        if push is not None:
            body["push"] = {"id": str(push.pk), "url": f"/api/v1/pushes/{push.pk}/"}
        return Response(body)

    @extend_schema(responses=PersonaSerializer)
    def get(self, request, pk):
        return self._answer(self._get(pk))

    def _update(self, request, persona: Persona, **change) -> Response:
        from devices.push import push_start_for_persona

        # The change and its push commit together: a change is never left without its push.
        with transaction.atomic():
            persona, changes = persona_update(
                persona=persona, actor=self.org_context.actor, client_ip=client_ip(request), **change
            )
            push = push_start_for_persona(persona=persona, actor=self.org_context.actor) if changes else None
        return self._answer(persona, push)

    @extend_schema(request=PersonaSerializer, responses=PersonaSerializer)
    def put(self, request, pk):
        """Replace the whole spec."""
        return self._update(request, self._get(pk), spec=_body(request))

    @extend_schema(request=PersonaSerializer(partial=True), responses=PersonaSerializer)
    def patch(self, request, pk):
        """Change part of the spec: objects are merged key by key, lists (apps, exemptions) replaced."""
        return self._update(request, self._get(pk), patch=_body(request))

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        """Delete a persona that no device or enrollment token uses (409 otherwise)."""
        persona_delete(persona=self._get(pk), actor=self.org_context.actor, client_ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonaPolicyPreviewApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.PERSONAS_VIEW}

    @extend_schema(responses=PolicyPreviewSerializer)
    def get(self, request, pk):
        """The policy document this persona compiles to, validated against the policy schema."""
        persona = get_object_or_404(
            Persona.objects.filter(organization=self.organization).prefetch_related("app_rules", "sharing_rules"), pk=pk
        )
        document = compile_policy(
            persona_template(persona, spec_of(persona)), version=1, key_id=PREVIEW_KEY_ID, key_version=1
        )
        return Response(
            {"policy": document, "placeholders": ["version", "encryption.key_id", "encryption.key_version"]}
        )


class PersonaAssignApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.PERSONAS_CHANGE}

    @extend_schema(request=AssignSerializer, responses={202: PushStartedSerializer})
    def post(self, request, pk):
        """Move devices to this persona; a push delivers it to them (202 with the push)."""
        from devices.push import persona_assign

        persona = get_object_or_404(Persona.objects.filter(organization=self.organization), pk=pk)
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        push = persona_assign(
            persona=persona,
            device_ids=serializer.validated_data["devices"],
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        body = {"id": str(push.pk), "url": f"/api/v1/pushes/{push.pk}/", "targeted": push.targeted}
        return Response(body, status=status.HTTP_202_ACCEPTED)
