"""Input and output of the agent protocol (shared/spec/agent-protocol.md), validated strictly:
any wrong type, size or value is a 400 with the field named."""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from rest_framework import serializers

from devices.choices import REPORTED_CONTAINER_STATES, CommandResult, Platform
from mdm.api.fields import (
    PrintableCharField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
)

APP_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)+$")
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
CAPABILITY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
KID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # an RFC 7638 SHA-256 thumbprint, base64url


class Base64Url32Field(StrictCharField):
    """A raw 32-byte public key, base64url without padding."""

    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
            raise serializers.ValidationError("Must be base64url without padding.")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("Must be base64url without padding.") from exc
        if len(raw) != 32:
            raise serializers.ValidationError(f"Must be a raw 32-byte key (got {len(raw)} bytes).")
        return raw


class EnrollDeviceSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=Platform.choices)
    os_version = PrintableCharField(max_length=32)
    model = PrintableCharField(max_length=100, allow_blank=True, required=False, default="")
    agent_version = PrintableCharField(max_length=32)


class EnrollKeysSerializer(serializers.Serializer):
    signing = Base64Url32Field(help_text="Ed25519 public key, raw 32 bytes, base64url.")
    encryption = Base64Url32Field(help_text="X25519 public key, raw 32 bytes, base64url.")

    def validate_signing(self, value: bytes) -> bytes:
        try:
            Ed25519PublicKey.from_public_bytes(value)
        except ValueError as exc:
            raise serializers.ValidationError("Not a valid Ed25519 public key.") from exc
        return value

    def validate_encryption(self, value: bytes) -> bytes:
        # A low-order point makes every key agreement fail (and would make the container key
        # impossible to seal): try one now, with a throwaway key.
        try:
            X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(value))
        except ValueError as exc:
            raise serializers.ValidationError("Not a usable X25519 public key.") from exc
        return value


class EnrollSerializer(serializers.Serializer):
    token = StrictCharField(max_length=128)
    device = EnrollDeviceSerializer()
    keys = EnrollKeysSerializer()


class JwkSerializer(serializers.Serializer):
    kty = serializers.CharField()
    crv = serializers.CharField()
    x = serializers.CharField()
    kid = serializers.CharField()
    use = serializers.CharField()
    alg = serializers.CharField()


class JwksSerializer(serializers.Serializer):
    keys = JwkSerializer(many=True)


class OrganizationRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class EnrolledSerializer(serializers.Serializer):
    device_id = serializers.UUIDField()
    organization = OrganizationRefSerializer()
    ownership = serializers.CharField()
    issuer = serializers.CharField()
    signing_keys = JwksSerializer()
    poll_interval_seconds = serializers.IntegerField()


class TokenRequestSerializer(serializers.Serializer):
    assertion = StrictCharField(max_length=4096, help_text="A JWT signed by the device's Ed25519 key.")


class TokenResponseSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class ComplianceSerializer(serializers.Serializer):
    passcode_compliant = StrictBooleanField(required=False)
    compromised = StrictBooleanField(required=False)
    encrypted = StrictBooleanField(required=False)


class WorkAppSerializer(serializers.Serializer):
    id = StrictRegexField(APP_ID_PATTERN, max_length=255)
    version = StrictCharField(max_length=64)
    signing_cert_sha256 = StrictRegexField(SHA256_HEX, required=False, allow_blank=True, default="")

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        value["signing_cert_sha256"] = value["signing_cert_sha256"].lower()
        return value


class CheckinSerializer(serializers.Serializer):
    """A field left out means "unchanged"."""

    applied_policy_version = StrictIntegerField(min_value=0, max_value=2**31 - 1, required=False, allow_null=True)
    container_state = serializers.ChoiceField(choices=REPORTED_CONTAINER_STATES)
    os_version = PrintableCharField(max_length=32)
    agent_version = PrintableCharField(max_length=32)
    compliance = ComplianceSerializer(required=False)
    # many=True hands max_length to the list (DRF >= 3.14); the stubs do not know it yet.
    work_apps = WorkAppSerializer(many=True, required=False, max_length=500)  # type: ignore[call-arg]
    # Protocol v1.1: what the agent understands (unknown names are ignored, for later versions).
    capabilities = serializers.ListField(
        child=StrictRegexField(CAPABILITY_PATTERN, max_length=64), required=False, max_length=32
    )


class SigningKeyRolloverSerializer(serializers.Serializer):
    new_kid = serializers.CharField()
    statement = serializers.CharField(
        help_text="Compact JWS, EdDSA, typ mdm-key-rollover+jwt, signed by the key the device pins; claims iss, "
        "aud (the device id), iat, exp, jti, old_kid, new_kid, new_key (the new public JWK)."
    )


class CheckinResponseSerializer(serializers.Serializer):
    policy_version = serializers.IntegerField(allow_null=True)
    commands_pending = serializers.IntegerField()
    poll_interval_seconds = serializers.IntegerField()
    server_time = serializers.DateTimeField()
    signing_key_rollover = SigningKeyRolloverSerializer(
        required=False, help_text="v1.1, only to an agent with the signing_key_rollover capability."
    )


class SigningKeyAckSerializer(serializers.Serializer):
    kid = StrictRegexField(KID_PATTERN, max_length=43, help_text="The kid the device pins now (the new_kid).")


class SigningKeyAckResponseSerializer(serializers.Serializer):
    kid = serializers.CharField()
    policy_version = serializers.IntegerField(allow_null=True)


class UnenrollResponseSerializer(serializers.Serializer):
    device_id = serializers.UUIDField()
    state = serializers.CharField()


class CommandSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.DictField()


class CommandsResponseSerializer(serializers.Serializer):
    commands = CommandSerializer(many=True)


class CommandResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CommandResult.values)
    detail = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class CommandResultResponseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.CharField()


class PolicyResponseSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    jws = serializers.CharField(help_text="Compact JWS, EdDSA, typ mdm-policy+jwt; claims iss, aud, iat, policy.")


class ContainerKeySerializer(serializers.Serializer):
    key_id = serializers.UUIDField()
    version = serializers.IntegerField()
    suite = serializers.CharField()
    sealed = serializers.CharField(help_text="HPKE enc || ciphertext of the 32-byte data key, base64url.")
