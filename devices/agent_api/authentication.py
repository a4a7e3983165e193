"""How device agents authenticate (agent protocol, section 2).

A device proves possession of its enrolled Ed25519 key with a short self-signed assertion (the
JWT bearer grant of RFC 7523) and gets a 15-minute access token signed by the server. Every
request with that token is checked against the device's current state, through a short cache
that retiring a device overwrites.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from devices import device_state
from devices.choices import DeviceState
from devices.models import Device, UsedAssertion
from mdm.lib import ratelimit
from mdm.lib.cache import json_decode
from mdm.lib.ratelimit import Window
from mdm.signing import JWKS_CACHE_NAME, decode_short_jwt, published_kids, sign_jwt

ASSERTION_MAX_LIFETIME = 300
LEEWAY = 60
ACCESS_TOKEN_TYP = "at+jwt"


def assertion_audience() -> str:
    return f"{settings.MDM_ISSUER}/api/v1/agent/token"


def access_token_audience() -> str:
    return f"{settings.MDM_ISSUER}/api/v1/agent"


class InvalidAssertion(exceptions.AuthenticationFailed):
    default_detail = "The assertion is not valid."
    default_code = "invalid_assertion"


class DeviceRetired(exceptions.PermissionDenied):
    default_detail = "This device is retired; enrolling again needs a new enrollment token."
    default_code = "device_retired"


def _invalid(detail: str, code: str = "invalid_assertion") -> InvalidAssertion:
    return InvalidAssertion(detail=detail, code=code)


def exchange_assertion(assertion: str) -> tuple[Device, str]:
    """Check a device's assertion and answer a fresh access token for it."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise _invalid("The assertion is not a JWT.") from exc
    if header.get("alg") != "EdDSA":
        raise _invalid("Only EdDSA assertions are accepted.")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer != unverified.get("sub"):
        raise _invalid("iss and sub must both be the device id.")
    try:
        device_id = uuid.UUID(issuer)
    except ValueError as exc:
        raise _invalid("iss and sub must both be the device id.") from exc
    device = Device.objects.select_related("organization").filter(pk=device_id).first()
    if device is None or device.signing_public_key is None:  # an Android Enterprise device has no agent
        raise _invalid("Unknown device.")
    try:
        claims = jwt.decode(
            assertion,
            Ed25519PublicKey.from_public_bytes(bytes(device.signing_public_key)),
            algorithms=["EdDSA"],
            audience=assertion_audience(),
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _invalid("The assertion has expired.", "assertion_expired") from exc
    except jwt.InvalidTokenError as exc:
        raise _invalid(f"The assertion is not valid: {exc}.") from exc
    issued_at, expires = claims["iat"], claims["exp"]
    if not isinstance(issued_at, int | float) or not isinstance(expires, int | float):
        raise _invalid("iat and exp must be numbers.")
    if expires - issued_at > ASSERTION_MAX_LIFETIME:
        raise _invalid(f"An assertion may live at most {ASSERTION_MAX_LIFETIME} s (exp - iat).")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise _invalid("jti must be a string of 8 to 128 characters.")
    if device.state != DeviceState.ACTIVE:
        raise DeviceRetired()
    ratelimit.enforce("token_device", str(device.pk))
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(
                organization_id=device.organization_id,
                device=device,
                jti=jti,
                expires_at=datetime.fromtimestamp(expires, tz=UTC) + timedelta(seconds=LEEWAY),
            )
    except IntegrityError as exc:
        raise _invalid("This assertion was already used.", "assertion_replayed") from exc
    return device, issue_access_token(device)


def issue_access_token(device: Device) -> str:
    now = int(datetime.now(tz=UTC).timestamp())
    claims = {
        "iss": settings.MDM_ISSUER,
        "sub": str(device.pk),
        "aud": access_token_audience(),
        "iat": now,
        "exp": now + settings.MDM_ACCESS_TOKEN_SECONDS,
        "jti": uuid.uuid4().hex,
        "org": str(device.organization_id),
    }
    return sign_jwt(claims, typ=ACCESS_TOKEN_TYP)


@dataclass(frozen=True)
class DevicePrincipal:
    """Who an agent request comes from: the device, as the access token and state cache say."""

    device_id: uuid.UUID
    organization_id: uuid.UUID
    state: str
    is_authenticated: bool = True
    # Seconds until the device's rate-limit window resets, when this request is over the limit
    # (counted in the same round trip as the state was read; enforced after the state is checked).
    retry_after: int | None = None

    def __str__(self) -> str:
        return f"device {self.device_id}"


def device_principal(device_id: uuid.UUID, rate: Window | None = None) -> DevicePrincipal | None:
    """The device's principal (None if unknown), counting `rate` in the same Redis round trip."""
    return _principal(device_id, device_state.read(device_id, rate), rate)


def _principal(device_id: uuid.UUID, gate: device_state.Gate, rate: Window | None) -> DevicePrincipal | None:
    state = gate.state
    if state is None:
        state = device_state.load(device_id)
        if state is None:
            return None
        device_state.remember(device_id, state)
    retry_after = rate.retry_after(gate.count) if rate else None
    return DevicePrincipal(device_id, state.organization_id, state.state, retry_after=retry_after)


def authenticate_access_token(header: str) -> tuple[DevicePrincipal, dict]:
    """The device behind `Authorization: Bearer <access token>`, its request counted.

    The token is checked on its own first (signature, audience, issuer, type, expiry: CPU only);
    then ONE Redis round trip reads the device's cached state and the published signing keys, and
    counts the request against the device's limit. The database only on a cache miss.
    """
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise exceptions.AuthenticationFailed("Use Authorization: Bearer <access token>.")
    invalid = exceptions.AuthenticationFailed("The access token is invalid or has expired.")
    try:
        kid, claims = decode_short_jwt(
            token.strip(), typ=ACCESS_TOKEN_TYP, audience=access_token_audience(), issuer=settings.MDM_ISSUER
        )
        device_id = uuid.UUID(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError) as exc:
        raise invalid from exc
    rate = ratelimit.window("agent_device", str(device_id))
    gate = device_state.read(device_id, rate, also=(JWKS_CACHE_NAME,))
    published = json_decode(gate.also[0])
    if isinstance(published, dict) and isinstance(published.get("keys"), list):
        kids = {key.get("kid") for key in published["keys"]}
    else:  # not cached: read (and cache) the published set
        kids = set(published_kids())
    if kid not in kids:  # the key was retired: its tokens end with it
        raise invalid
    principal = _principal(device_id, gate, rate)
    if principal is None:
        raise invalid
    return principal, claims


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <access token>` on the agent API."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        return authenticate_access_token(header)

    def authenticate_header(self, request):
        return 'Bearer error="invalid_token"'


class IsActiveDevice(BasePermission):
    """An authenticated device that is not retired (403 `device_retired` at once otherwise)."""

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, DevicePrincipal):
            raise exceptions.NotAuthenticated("An access token is required.")
        if principal.state != DeviceState.ACTIVE:
            raise DeviceRetired()
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        return True


def enforce_rate(principal: DevicePrincipal) -> None:
    """429 with Retry-After when the device is over its limit (after the state has been checked:
    a retired device hears that it is retired, not to slow down)."""
    if principal.retry_after is not None:
        raise ratelimit.throttled(principal.retry_after)
