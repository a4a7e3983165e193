from __future__ import annotations

from typing import Any

from rest_framework import serializers

from events.models import DeliveryAttempt, EventDestination, Replay
from events.selectors import DestinationLag
from events.services import config_public


class EventDestinationSerializer(serializers.ModelSerializer):
    """A destination as the API shows it: its configuration without secrets, its delivery state."""

    config = serializers.SerializerMethodField()
    pending = serializers.SerializerMethodField()
    lag_seconds = serializers.SerializerMethodField()

    class Meta:
        model = EventDestination
        fields = [
            "id",
            "name",
            "kind",
            "config",
            "event_types",
            "enabled",
            "state",
            "cursor",
            "pending",
            "lag_seconds",
            "attempts",
            "next_attempt_at",
            "failing_since",
            "last_success_at",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _lag(self, obj) -> DestinationLag | None:
        return self.context.get("lags", {}).get(str(obj.pk))

    def get_config(self, obj) -> dict[str, Any]:
        return config_public(obj.kind, obj.config)

    def get_pending(self, obj) -> int | None:
        lag = self._lag(obj)
        return lag.pending if lag else None

    def get_lag_seconds(self, obj) -> float | None:
        lag = self._lag(obj)
        return round(lag.lag_seconds, 3) if lag else None


class EventDestinationCreatedSerializer(EventDestinationSerializer):
    secret = serializers.CharField(
        read_only=True, allow_null=True, help_text="The webhook's `whsec_` signing secret: in this answer only."
    )

    class Meta(EventDestinationSerializer.Meta):
        fields = [*EventDestinationSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EventDestinationCreateSerializer(serializers.Serializer):
    """For the schema: the service checks every field (with `config.<field>` paths)."""

    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=["webhook", "syslog"])
    config = serializers.DictField(help_text='webhook: {"url"}; syslog: see docs/events.md')
    event_types = serializers.ListField(child=serializers.CharField(), required=False)
    enabled = serializers.BooleanField(required=False)


class EventDestinationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    config = serializers.DictField(required=False)
    event_types = serializers.ListField(child=serializers.CharField(), required=False)
    enabled = serializers.BooleanField(required=False)


class ReplayRequestSerializer(serializers.Serializer):
    # `from` is a Python keyword: declared below.
    to = serializers.DateTimeField()


ReplayRequestSerializer._declared_fields["from"] = serializers.DateTimeField()


class ReplaySerializer(serializers.ModelSerializer):
    class Meta:
        model = Replay
        fields = ["id", "from_at", "to_at", "state", "total", "sent", "requested_by", "created_at", "finished_at"]
        read_only_fields = fields


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    replay = serializers.UUIDField(source="replay_id", read_only=True, allow_null=True)

    class Meta:
        model = DeliveryAttempt
        fields = ["id", "at", "ok", "first_seq", "last_seq", "events", "error", "duration_ms", "replay"]
        read_only_fields = fields


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True)
