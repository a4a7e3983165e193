from __future__ import annotations

from rest_framework import serializers

from mdm.api.fields import StrictCharField
from mdm.models import ApiToken, AuditEvent, Organization


class OrganizationSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "created_at", "role"]

    def get_role(self, obj) -> str:
        return self.context["role"]


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "seq", "created_at", "action", "actor", "target", "details", "client_ip", "hash", "prev_hash"]

    def get_actor(self, obj) -> dict[str, str]:
        return {"type": obj.actor_type, "id": obj.actor_id, "label": obj.actor_label}

    def get_target(self, obj) -> dict[str, str]:
        return {"type": obj.target_type, "id": obj.target_id, "label": obj.target_label}


class ApiTokenSerializer(serializers.ModelSerializer):
    user = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "user", "created_at", "expires_at", "revoked_at", "last_used_at"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token itself: shown in this answer only.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields
