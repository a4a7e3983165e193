"""Admin API: the organization's Android Enterprise (docs/android.md, docs/admin-api-android.md).

Connecting is Google's signup flow, in two calls: `signup/` answers the URL at Google where the
owner signs up (Google then sends the owner's browser to `callback_url` with `state` and
`enterpriseToken`), and `connect/` finishes with those two. Owners only, every step audited.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.android import client
from devices.android.enterprise import enterprise_connect, enterprise_disconnect, enterprise_signup_start
from devices.choices import DeviceState, ManagementChannel
from devices.models import AndroidEnterprise, Device
from mdm.api.fields import StrictCharField
from mdm.api.permissions import OrgScopedMixin
from mdm.lib.http import client_ip
from mdm.permissions import Perm


class AndroidEnterpriseSerializer(serializers.Serializer):
    configured = serializers.BooleanField(help_text="The server has Google's settings (MDM_ANDROID_*).")
    missing_settings = serializers.ListField(child=serializers.CharField())
    connected = serializers.BooleanField()
    name = serializers.CharField(allow_null=True, help_text="enterprises/... at Google.")
    connected_at = serializers.DateTimeField(allow_null=True)
    connected_by = serializers.CharField(allow_null=True)
    reconciled_at = serializers.DateTimeField(allow_null=True)
    reconcile_detail = serializers.CharField(allow_null=True)
    devices = serializers.IntegerField(help_text="Active Android devices.")


class SignupSerializer(serializers.Serializer):
    callback_url = serializers.URLField(max_length=1000, help_text="Where Google sends the owner back (http or https).")

    def validate_callback_url(self, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise serializers.ValidationError("An http or https URL.")
        return value


class SignupAnswerSerializer(serializers.Serializer):
    signup_url = serializers.CharField()


class ConnectSerializer(serializers.Serializer):
    state = StrictCharField(max_length=100)
    enterprise_token = StrictCharField(max_length=1000)


class DisconnectSerializer(serializers.Serializer):
    confirm = StrictCharField(max_length=200, help_text="The organization's name, typed.")


def _strict(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validated data; a field the endpoint does not take is refused, never ignored."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["A JSON object is expected."]})
    serializer = serializer_class(data=data)
    unknown = sorted(set(data) - set(serializer.fields))
    if unknown:
        raise ValidationError({name: ["This endpoint takes no such field."] for name in unknown})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def enterprise_state(organization_id: uuid.UUID) -> dict[str, Any]:
    record = AndroidEnterprise.objects.filter(organization_id=organization_id).exclude(name="").first()
    devices = Device.objects.filter(
        organization_id=organization_id, channel=ManagementChannel.ANDROID, state=DeviceState.ACTIVE
    )
    return {
        "configured": client.configured(),
        "missing_settings": client.missing_settings(),
        "connected": record is not None,
        "name": record.name if record else None,
        "connected_at": record.connected_at if record else None,
        "connected_by": record.connected_by if record else None,
        "reconciled_at": record.reconciled_at if record else None,
        "reconcile_detail": record.reconcile_detail if record else None,
        "devices": devices.count(),
    }


class AndroidEnterpriseApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.ORG_VIEW, "DELETE": Perm.ANDROID_ENTERPRISE_MANAGE}

    @extend_schema(responses=AndroidEnterpriseSerializer)
    def get(self, request: Request) -> Response:
        return Response(AndroidEnterpriseSerializer(enterprise_state(self.organization.pk)).data)

    @extend_schema(request=DisconnectSerializer, responses=AndroidEnterpriseSerializer)
    def delete(self, request: Request) -> Response:
        """Disconnect (refused while Android devices are still managed: wipe them first)."""
        data = _strict(DisconnectSerializer, request.data)
        enterprise_disconnect(
            organization=self.organization,
            confirm=data["confirm"],
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        return Response(AndroidEnterpriseSerializer(enterprise_state(self.organization.pk)).data)


class AndroidSignupApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.ANDROID_ENTERPRISE_MANAGE}

    @extend_schema(request=SignupSerializer, responses={201: SignupAnswerSerializer})
    def post(self, request: Request) -> Response:
        data = _strict(SignupSerializer, request.data)
        url = enterprise_signup_start(
            organization=self.organization,
            callback_url=data["callback_url"],
            admin_email=self.org_context.user.email,
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        return Response({"signup_url": url}, status=status.HTTP_201_CREATED)


class AndroidConnectApi(OrgScopedMixin, APIView):
    required_perms = {"POST": Perm.ANDROID_ENTERPRISE_MANAGE}

    @extend_schema(request=ConnectSerializer, responses={201: AndroidEnterpriseSerializer})
    def post(self, request: Request) -> Response:
        data = _strict(ConnectSerializer, request.data)
        enterprise_connect(
            organization=self.organization,
            state=data["state"],
            enterprise_token=data["enterprise_token"],
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        return Response(AndroidEnterpriseSerializer(enterprise_state(self.organization.pk)).data, status=201)
