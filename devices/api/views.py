"""Admin API: enrollment tokens and the device registry."""

from __future__ import annotations

import io
import json

import segno
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.api.serializers import (
    AdminCommandSerializer,
    DeviceSerializer,
    EmployeeWipeSerializer,
    EnrollmentTokenCreatedSerializer,
    EnrollmentTokenCreateSerializer,
    EnrollmentTokenSerializer,
    LockRequestedSerializer,
    OptionalReasonSerializer,
    PushSerializer,
    ReasonSerializer,
    WipeRequestedSerializer,
    WipeSerializer,
)
from devices.choices import ContainerState, DeviceState, Ownership, Platform
from devices.models import Command, Device, EnrollmentToken, Push, Wipe
from devices.push import push_progress
from devices.services import (
    enrollment_qr_payload,
    enrollment_token_create,
    enrollment_token_revoke,
    enrollment_token_secret,
)
from devices.wipe import corporate_lock, corporate_wipe_request, employee_wipe, wipe_approve, wipe_cancel
from mdm.api.errors import Gone
from mdm.api.params import QueryParam, openapi_parameters, parse_query
from mdm.api.permissions import OrgScopedMixin
from mdm.lib.http import client_ip
from mdm.models import Membership, User
from mdm.permissions import Perm
from personas.models import Persona


def qr_svg(payload: dict) -> bytes:
    buffer = io.BytesIO()
    segno.make(json.dumps(payload, separators=(",", ":")), error="m").save(
        buffer, kind="svg", scale=6, border=4, title="Enrollment QR code"
    )
    return buffer.getvalue()


class EnrollmentTokenListApi(OrgScopedMixin, generics.ListAPIView):
    """List enrollment tokens, or create one (the token and its QR payload are in the answer only)."""

    required_perms = {"GET": Perm.ENROLLMENT_TOKENS_VIEW, "POST": Perm.ENROLLMENT_TOKENS_MANAGE}
    serializer_class = EnrollmentTokenSerializer

    def get_queryset(self):
        return EnrollmentToken.objects.filter(organization=self.organization).select_related(
            "persona", "employee", "created_by"
        )

    @extend_schema(request=EnrollmentTokenCreateSerializer, responses={201: EnrollmentTokenCreatedSerializer})
    def post(self, request):
        serializer = EnrollmentTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        persona = None
        if data.get("persona"):
            persona = Persona.objects.filter(organization=self.organization, pk=data["persona"]).first()
            if persona is None:
                raise ValidationError({"persona": ["No such persona."]})
        employee = None
        if data.get("employee"):
            employee = User.objects.filter(email__iexact=data["employee"]).first()
            if employee is None or not _belongs_to(employee, self.organization):
                raise ValidationError({"employee": ["No such employee in this organization."]})
        expires_at = data.get("expires_at")
        if "expires_in" in data:
            expires_at = timezone.now() + data["expires_in"]
        issued = enrollment_token_create(
            organization=self.organization,
            persona=persona,
            ownership=data["ownership"],
            uses=data["uses"],
            expires_at=expires_at,
            employee=employee,
            note=data["note"],
            created_by=self.org_context.user,
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        body = EnrollmentTokenCreatedSerializer(issued.enrollment_token).data
        body["token"] = issued.token
        body["qr_payload"] = issued.qr_payload
        return Response(body, status=status.HTTP_201_CREATED)


def _belongs_to(user: User, organization) -> bool:
    """An employee of the organization: a member of it (employees are members with that role)."""
    return Membership.objects.filter(user=user, organization=organization).exists()


class EnrollmentTokenDetailApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.ENROLLMENT_TOKENS_VIEW, "DELETE": Perm.ENROLLMENT_TOKENS_MANAGE}

    def _get(self, pk) -> EnrollmentToken:
        return get_object_or_404(EnrollmentToken.objects.filter(organization=self.organization), pk=pk)

    @extend_schema(responses=EnrollmentTokenSerializer)
    def get(self, request, pk):
        return Response(EnrollmentTokenSerializer(self._get(pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        enrollment_token_revoke(
            enrollment_token=self._get(pk), actor=self.org_context.actor, client_ip=client_ip(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EnrollmentTokenQrApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.ENROLLMENT_TOKENS_MANAGE}

    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.BINARY, 410: OpenApiResponse(description="problem")})
    def get(self, request, pk):
        """The enrollment QR code, only while the token can still be used."""
        record = get_object_or_404(EnrollmentToken.objects.filter(organization=self.organization), pk=pk)
        secret = enrollment_token_secret(record)
        if secret is None:
            raise Gone(detail=f"This enrollment token is {record.status}: it has no QR code any more.")
        response = HttpResponse(qr_svg(enrollment_qr_payload(secret, record.signing_kid)), content_type="image/svg+xml")
        response["Cache-Control"] = "no-store"
        return response


DEVICE_FILTERS = [
    QueryParam("state", "choice", tuple(DeviceState.values)),
    QueryParam("container_state", "choice", tuple(ContainerState.values)),
    QueryParam("compliant", "bool"),
    QueryParam("persona", "uuid"),
    QueryParam("owner", description="The owner's e-mail address."),
    QueryParam("platform", "choice", tuple(Platform.values)),
    QueryParam("ownership", "choice", tuple(Ownership.values)),
    QueryParam("q", description="Part of the name or model."),
]


@extend_schema(parameters=openapi_parameters(DEVICE_FILTERS))
class DeviceListApi(OrgScopedMixin, generics.ListAPIView):
    """The device registry, newest enrollment first."""

    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = DeviceSerializer

    def get_queryset(self):
        given = parse_query(self.request, DEVICE_FILTERS)
        qs = Device.objects.filter(organization=self.organization).select_related("owner", "persona")
        exact = {"state": "state", "container_state": "container_state", "compliant": "compliant",
                 "persona": "persona_id", "platform": "platform", "ownership": "ownership"}  # fmt: skip
        qs = qs.filter(**{field: given[name] for name, field in exact.items() if given[name] is not None})
        if given["owner"]:
            qs = qs.filter(owner__email__iexact=given["owner"])
        if q := given["q"]:
            qs = qs.filter(name__icontains=q) | qs.filter(model__icontains=q)
        return qs.order_by("-enrolled_at", "id")


class DeviceDetailApi(OrgScopedMixin, generics.RetrieveAPIView):
    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = DeviceSerializer

    def get_queryset(self):
        return Device.objects.filter(organization=self.organization).select_related("owner", "persona")


class DeviceCommandsApi(OrgScopedMixin, generics.ListAPIView):
    """A device's commands and their states, newest first."""

    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = AdminCommandSerializer

    def get_queryset(self):
        device = get_object_or_404(Device.objects.filter(organization=self.organization), pk=self.kwargs["pk"])
        return Command.objects.filter(device=device).order_by("-created_at", "id")


class PushDetailApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.PUSHES_VIEW}

    @extend_schema(responses=PushSerializer)
    def get(self, request, pk):
        """Progress of a policy push: devices targeted, queued, delivered, acknowledged, failed."""
        push = get_object_or_404(Push.objects.filter(organization=self.organization), pk=pk)
        return Response(push_progress(push))


def _device(view, pk) -> Device:
    return get_object_or_404(Device.objects.filter(organization=view.organization), pk=pk)


def _wipe_answer(wipe: Wipe) -> dict:
    wipe = Wipe.objects.select_related("device", "command").get(pk=wipe.pk)
    return {
        "wipe": WipeSerializer(wipe).data,
        "command": AdminCommandSerializer(wipe.command).data if wipe.command_id else None,
    }


class DeviceWipeApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.DEVICES_WIPE}

    @extend_schema(request=ReasonSerializer, responses={202: WipeRequestedSerializer})
    def post(self, request, pk):
        """Wipe the corporate container (never anything personal). 202 with the wipe and its command;
        past the mass-wipe threshold the wipe is `held` (no command yet) for a second admin."""
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wipe = corporate_wipe_request(
            device=_device(self, pk),
            reason=serializer.validated_data["reason"],
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        return Response(_wipe_answer(wipe), status=status.HTTP_202_ACCEPTED)


class DeviceLockApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.DEVICES_LOCK}
    lock = True

    @extend_schema(request=OptionalReasonSerializer, responses={202: LockRequestedSerializer})
    def post(self, request, pk):
        """Lock (or unlock) the corporate container: 202 with the command."""
        serializer = OptionalReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        command = corporate_lock(
            device=_device(self, pk),
            lock=self.lock,
            actor=self.org_context.actor,
            client_ip=client_ip(request),
            reason=serializer.validated_data["reason"],
        )
        return Response({"command": AdminCommandSerializer(command).data}, status=status.HTTP_202_ACCEPTED)


class DeviceUnlockApi(DeviceLockApi):
    lock = False


class DeviceWipesApi(OrgScopedMixin, generics.ListAPIView):
    """A device's wipe history: requested by whom, when, why; delivered, done or failed when."""

    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = WipeSerializer

    def get_queryset(self):
        device = _device(self, self.kwargs["pk"])
        return Wipe.objects.filter(device=device).select_related("device", "command").order_by("-requested_at", "id")


WIPE_FILTERS = [QueryParam("state", "choice", tuple(Wipe.State.values))]


@extend_schema(parameters=openapi_parameters(WIPE_FILTERS))
class WipeListApi(OrgScopedMixin, generics.ListAPIView):
    """The organization's wipes, newest first (`?state=held` for those awaiting a second admin)."""

    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = WipeSerializer

    def get_queryset(self):
        qs = Wipe.objects.filter(organization=self.organization).select_related("device", "command")
        if state := parse_query(self.request, WIPE_FILTERS)["state"]:
            qs = qs.filter(state=state)
        return qs.order_by("-requested_at", "id")


class WipeDecisionApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.WIPES_APPROVE}
    approve = True

    @extend_schema(request=None, responses={200: WipeRequestedSerializer})
    def post(self, request, pk):
        """Approve (a second admin) or cancel a held wipe."""
        wipe = get_object_or_404(Wipe.objects.filter(organization=self.organization), pk=pk)
        if self.approve:
            wipe = wipe_approve(wipe=wipe, actor=self.org_context.actor, client_ip=client_ip(request))
        else:
            wipe = wipe_cancel(wipe=wipe, actor=self.org_context.actor, client_ip=client_ip(request))
        return Response(_wipe_answer(wipe))


class WipeCancelApi(WipeDecisionApi):
    approve = False


class EmployeeWipeApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.DEVICES_WIPE}

    @extend_schema(request=EmployeeWipeSerializer, responses={202: WipeRequestedSerializer(many=True)})
    def post(self, request):
        """Wipe the corporate container of every active device of an employee (each its own wipe)."""
        serializer = EmployeeWipeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        employee = User.objects.filter(
            email__iexact=serializer.validated_data["employee"], devices__organization=self.organization
        ).first()
        if employee is None:
            raise ValidationError({"employee": ["No employee with devices in this organization."]})
        wipes = employee_wipe(
            organization=self.organization,
            employee=employee,
            reason=serializer.validated_data["reason"],
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        return Response({"wipes": [_wipe_answer(w) for w in wipes]}, status=status.HTTP_202_ACCEPTED)
