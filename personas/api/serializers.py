from __future__ import annotations

from rest_framework import serializers

from mdm.api.fields import StrictCharField, StrictUUIDField
from personas.spec import PRESETS, PersonaSpec


class PersonaSerializer(PersonaSpec):
    """A persona as the admin API shows it: its spec, plus what the server keeps about it."""

    id = serializers.UUIDField(read_only=True)
    revision = serializers.IntegerField(read_only=True)
    preset = serializers.CharField(read_only=True)
    is_default = serializers.BooleanField(read_only=True)
    devices = serializers.IntegerField(read_only=True, help_text="Active devices using this persona.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class PersonaCreateSerializer(serializers.Serializer):
    """Start from a preset; any part of the spec given here is laid over it."""

    preset = serializers.ChoiceField(choices=sorted(PRESETS), default="byod-basic")
    name = StrictCharField(max_length=100)


class AssignSerializer(serializers.Serializer):
    devices = serializers.ListField(child=StrictUUIDField(), min_length=1, max_length=1000)


class PushStartedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    targeted = serializers.IntegerField()


class PolicyPreviewSerializer(serializers.Serializer):
    policy = serializers.DictField(help_text="The policy document (version, key id and key version are placeholders).")
    placeholders = serializers.ListField(child=serializers.CharField())
