from __future__ import annotations

from datetime import timedelta
from typing import Any

from rest_framework import serializers

from devices.choices import AndroidPolicySync, ManagementChannel, Ownership
from devices.models import Device, EnrollmentToken, Wipe
from devices.services import MAX_TOKEN_LIFETIME
from mdm.api.fields import StrictCharField, StrictEmailField, StrictIntegerField, StrictUUIDField
from mdm.lib.durations import parse_duration


class PersonaRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class EnrollmentTokenSerializer(serializers.ModelSerializer):
    persona = PersonaRefSerializer(allow_null=True)
    employee = serializers.EmailField(source="employee.email", allow_null=True, default=None)
    created_by = serializers.EmailField(source="created_by.email", allow_null=True, default=None)
    status = serializers.CharField()

    class Meta:
        model = EnrollmentToken
        fields = [
            "id", "prefix", "status", "channel", "persona", "ownership", "employee", "note", "uses_allowed",
            "uses_count", "expires_at", "revoked_at", "created_at", "created_by",
        ]  # fmt: skip
        read_only_fields = fields


class QrPayloadSerializer(serializers.Serializer):
    v = serializers.IntegerField()
    server = serializers.CharField()
    token = serializers.CharField()
    pin = serializers.CharField()


class AndroidTokenSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="Google's enrollment token.")
    qr_code = serializers.CharField(help_text="What Google's QR code encodes (scanned at a phone's setup).")
    enrollment_link = serializers.CharField(help_text="Opened on a phone, it sets up the work profile.")


class EnrollmentTokenCreatedSerializer(EnrollmentTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token itself: in this answer only.")
    qr_payload = QrPayloadSerializer(
        read_only=True,
        allow_null=True,
        help_text="What the enrollment QR code encodes: in this answer only (null for an Android token).",
    )
    android = AndroidTokenSerializer(
        read_only=True, allow_null=True, help_text="An Android token's QR code and link (null for an agent token)."
    )

    class Meta(EnrollmentTokenSerializer.Meta):
        fields = [*EnrollmentTokenSerializer.Meta.fields, "token", "qr_payload", "android"]
        read_only_fields = fields


class EnrollmentTokenCreateSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=ManagementChannel.choices,
        default=ManagementChannel.AGENT,
        help_text="agent: our agent enrolls with it; android: an Android work profile, through Google.",
    )
    persona = StrictUUIDField(required=False, allow_null=True)
    ownership = serializers.ChoiceField(choices=Ownership.choices, default=Ownership.PERSONAL)
    uses = StrictIntegerField(min_value=1, max_value=10_000, default=1)
    expires_in = StrictCharField(
        required=False, max_length=16, help_text="How long it stays valid: 30m, 1h, 7d (default 7d, at most 90d)."
    )
    expires_at = serializers.DateTimeField(required=False)
    employee = StrictEmailField(required=False, allow_null=True, help_text="Bind the token to this employee.")
    note = StrictCharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_expires_in(self, value: str) -> timedelta:
        try:
            return parse_duration(value, maximum=MAX_TOKEN_LIFETIME)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "expires_in" in attrs and "expires_at" in attrs:
            raise serializers.ValidationError({"expires_in": ["Give expires_in or expires_at, not both."]})
        return attrs


class DeviceSerializer(serializers.ModelSerializer):
    owner = serializers.EmailField(source="owner.email", allow_null=True, default=None)
    persona = PersonaRefSerializer(allow_null=True)

    class Meta:
        model = Device
        fields = [
            "id", "name", "owner", "ownership", "platform", "channel", "model", "os_version", "agent_version",
            "persona", "state", "container_state", "policy_version", "applied_policy_version", "compliant",
            "compliance", "noncompliant_since", "work_apps", "enrolled_at", "last_seen_at", "retired_at",
        ]  # fmt: skip
        read_only_fields = fields


class AdminCommandSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    state = serializers.CharField()
    priority = serializers.IntegerField()
    payload = serializers.DictField()
    attempts = serializers.IntegerField()
    detail = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    push = serializers.UUIDField(source="push_id", allow_null=True)


class AndroidPushSerializer(serializers.Serializer):
    sync = serializers.ChoiceField(
        choices=AndroidPolicySync.choices, help_text="Where the persona's policy stands at Google."
    )
    policy_version = serializers.IntegerField(allow_null=True, help_text="The version Google gave the policy.")
    detail = serializers.CharField(help_text="Google's words when it refused (or is retried).")
    targeted = serializers.IntegerField(help_text="Active Android devices of the push.")
    applied = serializers.IntegerField(help_text="Those that report policy_version (or newer) applied.")


class PushSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    persona = serializers.DictField()
    state = serializers.CharField()
    targeted = serializers.IntegerField()
    processed = serializers.IntegerField()
    queued = serializers.IntegerField()
    delivered = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    failed = serializers.IntegerField()
    expired = serializers.IntegerField(help_text="Superseded by a newer version, or past their expiry.")
    android = AndroidPushSerializer(help_text="Android Enterprise devices: the counts above are agent devices'.")
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ReasonSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=500, help_text="Why: kept in the audit log and the wipe history.")


class OptionalReasonSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")


class EmployeeWipeSerializer(serializers.Serializer):
    employee = StrictEmailField()
    reason = StrictCharField(max_length=500)


class WipeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    device = serializers.SerializerMethodField()
    state = serializers.CharField()
    reason = serializers.CharField()
    requested_by = serializers.CharField()
    requested_at = serializers.DateTimeField()
    approved_by = serializers.CharField()
    approved_at = serializers.DateTimeField(allow_null=True)
    cancelled_by = serializers.CharField()
    cancelled_at = serializers.DateTimeField(allow_null=True)
    command = serializers.UUIDField(source="command_id", allow_null=True)
    delivered_at = serializers.SerializerMethodField()
    completed_at = serializers.DateTimeField(allow_null=True)
    detail = serializers.CharField()

    def get_device(self, obj: Wipe) -> dict[str, Any]:
        return {"id": str(obj.device_id), "name": obj.device.name}

    def get_delivered_at(self, obj: Wipe) -> str | None:
        delivered = obj.command.delivered_at if obj.command is not None else None
        return serializers.DateTimeField().to_representation(delivered) if delivered else None


class WipeRequestedSerializer(serializers.Serializer):
    wipe = WipeSerializer()
    command = AdminCommandSerializer(allow_null=True)


class LockRequestedSerializer(serializers.Serializer):
    command = AdminCommandSerializer()
