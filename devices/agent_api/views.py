"""The agent API (agent protocol v1, sections 1, 2, 3 and 7, and the v1.1 key rollover). Thin:
validate, call a service."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.agent_api.authentication import (
    DevicePrincipal,
    DeviceTokenAuthentication,
    IsActiveDevice,
    enforce_rate,
    exchange_assertion,
)
from devices.agent_api.serializers import (
    CheckinResponseSerializer,
    CheckinSerializer,
    CommandResultResponseSerializer,
    CommandResultSerializer,
    CommandsResponseSerializer,
    ContainerKeySerializer,
    EnrolledSerializer,
    EnrollSerializer,
    PolicyResponseSerializer,
    SigningKeyAckResponseSerializer,
    SigningKeyAckSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
    UnenrollResponseSerializer,
)
from devices.commands.results import command_record_result
from devices.keys import HPKE_SUITE_NAME, container_key_active, container_key_seal
from devices.models import ContainerKey, Device, PolicyVersion
from devices.selectors import checkin_device
from devices.services import CheckinReport, EnrollmentRequest, device_checkin, device_enroll, device_unenroll
from devices.signing_keys import ROLLOVER_CAPABILITY, device_signing_key_move, rollover_offer
from mdm.api.errors import Gone
from mdm.lib import ratelimit
from mdm.lib.http import client_ip
from mdm.signing import b64url, jwks
from personas.compiler import policy_schema

PROBLEM = OpenApiResponse(description="application/problem+json (RFC 9457), see the protocol's error table.")


class AgentApiView(APIView):
    """Every authenticated agent endpoint: device access token, device not retired, per-device limit."""

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsActiveDevice]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        enforce_rate(self.principal)

    @property
    def principal(self) -> DevicePrincipal:
        """The authenticated device (IsActiveDevice has checked that it is one)."""
        return cast(DevicePrincipal, self.request.user)

    def device_queryset(self):
        return Device.objects.filter(pk=self.principal.device_id)


@extend_schema(
    tags=["agent"],
    request=EnrollSerializer,
    responses={201: EnrolledSerializer, 400: PROBLEM, 403: PROBLEM, 409: PROBLEM, 410: PROBLEM, 429: PROBLEM},
    auth=[],
)
class EnrollApi(APIView):
    """Enroll a device with an enrollment token (no credentials; rate limited per client address)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        address = client_ip(request) or "unknown"
        ratelimit.enforce("enroll_ip", address)
        serializer = EnrollSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        device = device_enroll(
            request=EnrollmentRequest(
                token=data["token"],
                platform=data["device"]["platform"],
                os_version=data["device"]["os_version"],
                model=data["device"]["model"],
                agent_version=data["device"]["agent_version"],
                signing_key=data["keys"]["signing"],
                encryption_key=data["keys"]["encryption"],
            ),
            client_ip=address,
        )
        body = {
            "device_id": str(device.pk),
            "organization": {"id": str(device.organization_id), "name": device.organization.name},
            "ownership": device.ownership,
            "issuer": settings.MDM_ISSUER,
            "signing_keys": jwks(),
            "poll_interval_seconds": settings.MDM_POLL_INTERVAL_SECONDS,
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["agent"],
    request=TokenRequestSerializer,
    responses={200: TokenResponseSerializer, 400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 429: PROBLEM},
    auth=[],
)
class TokenApi(APIView):
    """Exchange a device-signed assertion (RFC 7523, EdDSA) for a 15-minute access token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        ratelimit.enforce("token_ip", client_ip(request) or "unknown")
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _, access_token = exchange_assertion(serializer.validated_data["assertion"])
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": settings.MDM_ACCESS_TOKEN_SECONDS,
        }
        return Response(body, headers={"Cache-Control": "no-store"})


@extend_schema(
    tags=["agent"],
    request=CheckinSerializer,
    responses={200: CheckinResponseSerializer, 400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 429: PROBLEM},
)
class CheckinApi(AgentApiView):
    """Report the device's state; learn the current policy version and pending command count."""

    def post(self, request):
        serializer = CheckinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # One query, compiled once: the device, its pending command count, its persona's rules.
        device = checkin_device(self.principal.device_id)
        if device is None:
            raise NotFound()
        device_checkin(
            device=device,
            report=CheckinReport(
                applied_policy_version=data.get("applied_policy_version", device.applied_policy_version),
                container_state=data["container_state"],
                os_version=data["os_version"],
                agent_version=data["agent_version"],
                compliance=data.get("compliance", device.compliance),
                work_apps=data.get("work_apps", device.work_apps),
            ),
        )
        body = {
            "policy_version": device.policy_version,
            "commands_pending": device.pending,  # type: ignore[attr-defined]
            "poll_interval_seconds": settings.MDM_POLL_INTERVAL_SECONDS,
            "server_time": timezone.now().isoformat().replace("+00:00", "Z"),
        }
        # Protocol v1.1: only an agent that says it understands rollovers is offered one; a v1
        # agent's answer stays exactly the v1 answer.
        if ROLLOVER_CAPABILITY in data.get("capabilities", ()):
            offer = rollover_offer(device=device)
            if offer is not None:
                body["signing_key_rollover"] = offer
        return Response(body)


@extend_schema(
    tags=["agent"],
    request=SigningKeyAckSerializer,
    responses={200: SigningKeyAckResponseSerializer, 400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 409: PROBLEM},
)
class SigningKeyApi(AgentApiView):
    """Protocol v1.1: the agent verified a key-rollover statement and now pins its new key."""

    def post(self, request):
        serializer = SigningKeyAckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device = device_signing_key_move(
            device=self.device_queryset().get(), new_kid=serializer.validated_data["kid"], client_ip=client_ip(request)
        )
        device.refresh_from_db(fields=["policy_version"])
        return Response({"kid": device.signing_kid, "policy_version": device.policy_version})


@extend_schema(tags=["agent"], request=None, responses={200: UnenrollResponseSerializer, 401: PROBLEM, 403: PROBLEM})
class UnenrollApi(AgentApiView):
    """The employee removed the work persona: retire the device and destroy its container key."""

    def post(self, request):
        device = device_unenroll(device=self.device_queryset().get(), client_ip=client_ip(request))
        return Response({"device_id": str(device.pk), "state": device.state})


@extend_schema(
    tags=["agent"],
    responses={200: PolicyResponseSerializer, 304: OpenApiResponse(description="Not modified"), 404: PROBLEM},
)
class PolicyApi(AgentApiView):
    """The device's current signed policy, with an ETag; 304 on If-None-Match without any signing."""

    def get(self, request):
        current = self.device_queryset().values_list("policy_version", flat=True).first()
        if current is None:
            raise NotFound(detail="No policy has been issued to this device yet.", code="no_policy")
        etag = f'"{current}"'
        if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        jws = PolicyVersion.objects.filter(device_id=request.user.device_id, version=current).values_list(
            "jws", flat=True
        )[0]
        return Response({"version": current, "jws": jws}, headers={"ETag": etag, "Cache-Control": "no-cache"})


@extend_schema(tags=["agent"], responses={200: ContainerKeySerializer, 404: PROBLEM, 410: PROBLEM})
class ContainerKeyApi(AgentApiView):
    """The active container data key, sealed to the device's X25519 key (HPKE); 410 once destroyed."""

    def get(self, request):
        device = self.device_queryset().get()
        key = container_key_active(device.pk)
        if key is None:
            if ContainerKey.objects.filter(device=device, state=ContainerKey.State.DESTROYED).exists():
                raise Gone(detail="The container key was destroyed.", code="container_key_destroyed")
            raise NotFound(detail="This device has no container key.", code="no_container_key")
        sealed = container_key_seal(key=key, device=device)
        body = {"key_id": str(key.pk), "version": key.version, "suite": HPKE_SUITE_NAME, "sealed": b64url(sealed)}
        return Response(body, headers={"Cache-Control": "no-store"})


@extend_schema(tags=["agent"], responses={(200, "application/schema+json"): OpenApiTypes.OBJECT}, auth=[])
class PolicySchemaApi(APIView):
    """The JSON Schema every policy document validates against (public)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        # A JSON Schema's own media type, as the protocol documents it.
        return Response(
            policy_schema(), content_type="application/schema+json", headers={"Cache-Control": "public, max-age=3600"}
        )


@extend_schema(
    tags=["agent"],
    request=CommandResultSerializer,
    responses={200: CommandResultResponseSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
)
class CommandResultApi(AgentApiView):
    """Report a command's result: the same result again is 200, a different final one 409."""

    def post(self, request, pk):
        serializer = CommandResultSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        command = command_record_result(
            device=self.device_queryset().get(),
            command_id=pk,
            status=serializer.validated_data["status"],
            detail=serializer.validated_data["detail"],
        )
        return Response({"id": str(command.pk), "state": command.state})


@extend_schema(
    tags=["agent"],
    methods=["GET"],
    parameters=[OpenApiParameter("wait", OpenApiTypes.INT, description="Hold up to this many seconds (0-60).")],
    responses={200: CommandsResponseSerializer, 400: PROBLEM, 401: PROBLEM, 403: PROBLEM},
)
class CommandsSchemaOnly(AgentApiView):
    """Pending commands, wipe first; with `wait`, held until one arrives (long poll).

    Served by an async view (devices.agent_api.longpoll); this class only describes it.
    """

    def get(self, request):  # pragma: no cover - documentation only, never routed
        raise NotImplementedError
