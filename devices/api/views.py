"""Admin API: enrollment tokens and the device registry."""

from __future__ import annotations

import io
import json
import uuid

import segno
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices import selectors
from devices.android.tokens import IssuedAndroidToken, android_token_create, android_token_secret
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
from devices.choices import ManagementChannel
from devices.exports import device_export_response, push_result_export_response
from devices.filters import DEVICE_QUERY_PARAMS, DEVICE_SORT_PARAM, device_filter_from_query, device_sort_from_query
from devices.models import Command, Device, EnrollmentToken, Push, Wipe
from devices.push import push_progress
from devices.services import (
    enrollment_qr_payload,
    enrollment_token_create,
    enrollment_token_revoke,
    enrollment_token_secret,
)
from devices.wipe import corporate_lock, corporate_wipe_request, employee_wipe, wipe_approve, wipe_cancel
from mdm.api.csv import CSV_RESPONSE, CsvExportMixin
from mdm.api.errors import Gone
from mdm.api.pagination import SeekPagePagination
from mdm.api.params import QueryParam, openapi_parameters, parse_query
from mdm.api.permissions import OrgScopedMixin
from mdm.lib.http import client_ip
from mdm.permissions import Perm
from personas.selectors import persona_get


def qr_svg(payload: dict[str, object]) -> bytes:
    return qr_svg_text(json.dumps(payload, separators=(",", ":")))


def qr_svg_text(text: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=6, border=4, title="Enrollment QR code")
    return buffer.getvalue()


def android_token_body(google: IssuedAndroidToken) -> dict[str, str]:
    return {"value": google.value, "qr_code": google.qr_code, "enrollment_link": google.link}


class EnrollmentTokenListApi(OrgScopedMixin, generics.ListAPIView):
    """List enrollment tokens, or create one (the token and its QR payload are in the answer only)."""

    required_perms = {"GET": Perm.ENROLLMENT_TOKENS_VIEW, "POST": Perm.ENROLLMENT_TOKENS_MANAGE}
    serializer_class = EnrollmentTokenSerializer

    def get_queryset(self) -> QuerySet[EnrollmentToken]:
        return selectors.enrollment_token_list(organization_id=self.organization.pk)

    @extend_schema(request=EnrollmentTokenCreateSerializer, responses={201: EnrollmentTokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        serializer = EnrollmentTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        persona = None
        if data.get("persona"):
            persona = persona_get(organization_id=self.organization.pk, persona_id=data["persona"], with_rules=False)
            if persona is None:
                raise ValidationError({"persona": ["No such persona."]})
        employee = None
        if data.get("employee"):
            employee = selectors.organization_member_by_email(
                organization_id=self.organization.pk, email=data["employee"]
            )
            if employee is None:
                raise ValidationError({"employee": ["No such employee in this organization."]})
        expires_at = data.get("expires_at")
        if "expires_in" in data:
            expires_at = timezone.now() + data["expires_in"]
        kwargs = {
            "organization": self.organization,
            "persona": persona,
            "ownership": data["ownership"],
            "uses": data["uses"],
            "expires_at": expires_at,
            "employee": employee,
            "note": data["note"],
            "created_by": self.org_context.user,
            "actor": self.org_context.actor,
            "client_ip": client_ip(request),
        }
        if data["channel"] == ManagementChannel.ANDROID:
            google = android_token_create(**kwargs)
            body = EnrollmentTokenCreatedSerializer(google.enrollment_token).data
            body.update(token=google.value, qr_payload=None, android=android_token_body(google))
            return Response(body, status=status.HTTP_201_CREATED)
        issued = enrollment_token_create(**kwargs)
        body = EnrollmentTokenCreatedSerializer(issued.enrollment_token).data
        body["token"] = issued.token
        body["qr_payload"] = issued.qr_payload
        body["android"] = None
        return Response(body, status=status.HTTP_201_CREATED)


class EnrollmentTokenDetailApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.ENROLLMENT_TOKENS_VIEW, "DELETE": Perm.ENROLLMENT_TOKENS_MANAGE}

    def _get(self, pk: uuid.UUID) -> EnrollmentToken:
        return get_object_or_404(selectors.enrollment_token_list(organization_id=self.organization.pk), pk=pk)

    @extend_schema(responses=EnrollmentTokenSerializer)
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return Response(EnrollmentTokenSerializer(self._get(pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        enrollment_token_revoke(
            enrollment_token=self._get(pk), actor=self.org_context.actor, client_ip=client_ip(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EnrollmentTokenQrApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.ENROLLMENT_TOKENS_MANAGE}

    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.BINARY, 410: OpenApiResponse(description="problem")})
    def get(self, request: Request, pk: uuid.UUID) -> HttpResponse:
        """The enrollment QR code, only while the token can still be used."""
        record = get_object_or_404(EnrollmentToken.objects.filter(organization=self.organization), pk=pk)
        if record.channel == ManagementChannel.ANDROID:
            google = android_token_secret(record)
            if google is None:
                raise Gone(detail=f"This enrollment token is {record.status}: it has no QR code any more.")
            svg = qr_svg_text(google.qr_code)
        else:
            secret = enrollment_token_secret(record)
            if secret is None:
                raise Gone(detail=f"This enrollment token is {record.status}: it has no QR code any more.")
            svg = qr_svg(enrollment_qr_payload(secret, record.signing_kid))
        response = HttpResponse(svg, content_type="image/svg+xml")
        response["Cache-Control"] = "no-store"
        return response


@extend_schema(parameters=openapi_parameters([*DEVICE_QUERY_PARAMS, DEVICE_SORT_PARAM]))
class DeviceListApi(OrgScopedMixin, generics.ListAPIView):
    """The device registry, newest enrollment first unless `sort` says otherwise."""

    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = DeviceSerializer
    pagination_class = SeekPagePagination

    def get_queryset(self) -> QuerySet[Device]:
        filters = device_filter_from_query(self.request)
        sort = device_sort_from_query(self.request)
        return selectors.device_list(organization_id=self.organization.pk, filters=filters, sort=sort)


@extend_schema(parameters=openapi_parameters([*DEVICE_QUERY_PARAMS, DEVICE_SORT_PARAM]), responses=CSV_RESPONSE)
class DeviceExportApi(CsvExportMixin, OrgScopedMixin, APIView):
    """The device list as CSV, with the list's filters and order; streamed, whatever its length."""

    required_perms = {"GET": Perm.DEVICES_VIEW}
    export_params = [*DEVICE_QUERY_PARAMS, DEVICE_SORT_PARAM]

    def get(self, request: Request) -> StreamingHttpResponse:
        self.refuse_unknown_params(request)
        filters = device_filter_from_query(request)
        sort = device_sort_from_query(request)
        return device_export_response(request, context=self.org_context, filters=filters, sort=sort)


class DeviceDetailApi(OrgScopedMixin, generics.RetrieveAPIView):
    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = DeviceSerializer

    def get_queryset(self) -> QuerySet[Device]:
        return selectors.device_list(organization_id=self.organization.pk)


class DeviceCommandsApi(OrgScopedMixin, generics.ListAPIView):
    """A device's commands and their states, newest first."""

    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = AdminCommandSerializer

    def get_queryset(self) -> QuerySet[Command]:
        return selectors.device_commands(device=_device(self, self.kwargs["pk"]))


class PushDetailApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.PUSHES_VIEW}

    @extend_schema(responses=PushSerializer)
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        """Progress of a policy push: devices targeted, queued, delivered, acknowledged, failed."""
        push = get_object_or_404(Push.objects.filter(organization=self.organization), pk=pk)
        return Response(push_progress(push))


@extend_schema(responses=CSV_RESPONSE)
class PushResultExportApi(CsvExportMixin, OrgScopedMixin, APIView):
    """A push's per-device results as CSV: each agent device's command, each Android device's
    policy version at Google."""

    required_perms = {"GET": Perm.PUSHES_VIEW}

    def get(self, request: Request, pk: uuid.UUID) -> StreamingHttpResponse:
        self.refuse_unknown_params(request)
        push = get_object_or_404(Push.objects.filter(organization=self.organization), pk=pk)
        return push_result_export_response(request, context=self.org_context, push=push)


def _device(view: OrgScopedMixin, pk: uuid.UUID) -> Device:
    return get_object_or_404(Device.objects.filter(organization=view.organization), pk=pk)


def _wipe_answer(wipe: Wipe) -> dict[str, object]:
    """The wipe as it stands after the service (with its command, if it has one yet)."""
    wipe = selectors.wipe_list(organization_id=wipe.organization_id).get(pk=wipe.pk)
    return {
        "wipe": WipeSerializer(wipe).data,
        "command": AdminCommandSerializer(wipe.command).data if wipe.command_id else None,
    }


class DeviceWipeApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.DEVICES_WIPE}

    @extend_schema(request=ReasonSerializer, responses={202: WipeRequestedSerializer})
    def post(self, request: Request, pk: uuid.UUID) -> Response:
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
    def post(self, request: Request, pk: uuid.UUID) -> Response:
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

    def get_queryset(self) -> QuerySet[Wipe]:
        return selectors.device_wipes(device=_device(self, self.kwargs["pk"]))


WIPE_FILTERS = [QueryParam("state", "choice", tuple(Wipe.State.values))]


@extend_schema(parameters=openapi_parameters(WIPE_FILTERS))
class WipeListApi(OrgScopedMixin, generics.ListAPIView):
    """The organization's wipes, newest first (`?state=held` for those awaiting a second admin)."""

    required_perms = {"GET": Perm.DEVICES_VIEW}
    serializer_class = WipeSerializer

    def get_queryset(self) -> QuerySet[Wipe]:
        state = parse_query(self.request, WIPE_FILTERS)["state"]
        return selectors.wipe_list(organization_id=self.organization.pk, state=Wipe.State(state) if state else None)


class WipeDecisionApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.WIPES_APPROVE}
    approve = True

    @extend_schema(request=None, responses={200: WipeRequestedSerializer})
    def post(self, request: Request, pk: uuid.UUID) -> Response:
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
    def post(self, request: Request) -> Response:
        """Wipe the corporate container of every active device of an employee (each its own wipe)."""
        serializer = EmployeeWipeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        employee = selectors.device_owner_by_email(
            organization_id=self.organization.pk, email=serializer.validated_data["employee"]
        )
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
