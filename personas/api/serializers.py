"""The admin API's persona serializers. The spec's shape is declared once, in personas.spec (plain
Python, which also validates it); the serializers that document it in the OpenAPI schema are built
from that declaration here, so the schema cannot drift from what the server enforces."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from mdm.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField, StrictUUIDField
from mdm.lib import validation as v
from personas.spec import DEFAULT_PRESET, PRESETS, SPEC

_SERIALIZERS: dict[str, type[serializers.Serializer]] = {}


def _options(node: v.Node) -> dict[str, Any]:
    options: dict[str, Any] = {"required": node.required}
    if node.default is not v.MISSING:
        options["default"] = node.default
    if node.allow_null:
        options["allow_null"] = True
    if node.help_text:
        options["help_text"] = node.help_text
    return options


def _field(node: v.Node, **options: Any) -> serializers.Field:
    """The serializer field that documents `node` (child fields take no presence options)."""
    if isinstance(node, v.Text):
        limits = {"max_length": node.max_length, "min_length": node.min_length}
        text_options: dict[str, Any] = {key: value for key, value in limits.items() if value is not None}
        if node.allow_blank:
            text_options["allow_blank"] = True
        if not node.trim:
            text_options["trim_whitespace"] = False
        return StrictCharField(**text_options, **options)
    if isinstance(node, v.Integer):
        bounds: dict[str, Any] = {"min_value": node.min_value, "max_value": node.max_value}
        return StrictIntegerField(**{key: value for key, value in bounds.items() if value is not None}, **options)
    if isinstance(node, v.Boolean):
        return StrictBooleanField(**options)
    if isinstance(node, v.Choice):
        return serializers.ChoiceField(choices=node.choices, **options)
    if isinstance(node, v.ListOf):
        sizes: dict[str, Any] = {"max_length": node.max_length, "min_length": node.min_length}
        sizes = {key: value for key, value in sizes.items() if value is not None}
        return serializers.ListField(child=_field(node.child), **sizes, **options)
    if isinstance(node, v.MapOf):
        child: dict[str, Any] = {"child": _field(node.child)} if node.child else {}
        return serializers.DictField(**child, **options)
    if isinstance(node, v.ObjectList):
        many: dict[str, Any] = {"many": True, "max_length": node.max_length}
        return serializer_for(node.child)(**many, **options)
    if isinstance(node, v.Object):
        return serializer_for(node)(**options)
    raise TypeError(f"No serializer field documents {type(node).__name__}.")


def serializer_for(node: v.Object) -> type[serializers.Serializer]:
    """The serializer class (named `<name>Spec`) documenting an object of the spec."""
    name = f"{node.name}Spec"
    if name not in _SERIALIZERS:
        fields = {key: _field(child, **_options(child)) for key, child in node.fields.items()}
        _SERIALIZERS[name] = type(name, (serializers.Serializer,), {"__module__": __name__, **fields})
    return _SERIALIZERS[name]


class PersonaSerializer(serializer_for(SPEC)):  # type: ignore[misc]  # a class built from the spec
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

    preset = serializers.ChoiceField(choices=sorted(PRESETS), default=DEFAULT_PRESET)
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
