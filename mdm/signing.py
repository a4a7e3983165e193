"""The server's Ed25519 signing keys: created on first use, rotatable, published as a JWKS.

They sign agent access tokens and policy documents (compact JWS, `alg: EdDSA`, with `kid`).

A key's life: `active` (exactly one) -> `previous` (rotated out: still published, still signing
for the devices that pin it, and signing their key-rollover statements, agent protocol v1.1) ->
`retired` (for good: the private key is destroyed, the key unpublished, nothing it signed verifies
here any more).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii
from secrets import token_hex
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mdm.actors import SYSTEM, Actor
from mdm.audit import audit_event_record
from mdm.choices import SigningKeyState
from mdm.keyring import keyring
from mdm.lib import cache
from mdm.models import Organization, SigningKey

# Plain JSON (mdm.lib.cache.json_*): the agent gate reads it in its own Redis round trip.
JWKS_CACHE_NAME = "mdm:jwks:v2"
PUBLISHED_STATES = (SigningKeyState.ACTIVE, SigningKeyState.PREVIOUS)

# Agent protocol v1.1: the statement by which a device's pinned key vouches for its successor.
ROLLOVER_TYP = "mdm-key-rollover+jwt"
ROLLOVER_LIFETIME_SECONDS = 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def okp_thumbprint(public_raw: bytes) -> str:
    """RFC 7638 JWK thumbprint of an Ed25519 public key: the key's `kid`."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw)}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_key_pin(public_raw: bytes) -> str:
    """What an enrollment QR code pins: SHA-256 of the raw public key, base64url."""
    return b64url(hashlib.sha256(public_raw).digest())


def signing_key_context(kid: str) -> str:
    return f"signing-key|{kid}"


def _new_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    private_raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = okp_thumbprint(public_raw)
    return SigningKey(
        kid=kid,
        public_key=public_raw,
        wrapped_private_key=keyring().wrap(private_raw, context=signing_key_context(kid)),
    )


def signing_key_current() -> SigningKey:
    """The active signing key, created on first use (concurrent first uses agree on one)."""
    key = SigningKey.objects.filter(state=SigningKeyState.ACTIVE).first()
    if key is not None:
        return key
    candidate = _new_key()
    try:
        with transaction.atomic():
            candidate.save(force_insert=True)
    except IntegrityError:
        # Another process created the active key between our read and our insert.
        return SigningKey.objects.get(state=SigningKeyState.ACTIVE)
    cache.json_delete(JWKS_CACHE_NAME)
    return candidate


def _forget_published_set() -> None:
    # Now, and again after commit: a reader in between may have cached the old set.
    cache.json_delete(JWKS_CACHE_NAME)
    transaction.on_commit(lambda: cache.json_delete(JWKS_CACHE_NAME))


@transaction.atomic
def signing_key_rotate(*, actor: Actor | None = None) -> tuple[SigningKey | None, SigningKey]:
    """Activate a new key; the active one becomes `previous`: still published, and still signing
    for the devices that pin it until each has rolled over to the new one (protocol v1.1).

    The keys serve every organization, so each one's audit log records the rotation.
    """
    old = SigningKey.objects.select_for_update().filter(state=SigningKeyState.ACTIVE).first()
    if old is not None:
        old.state = SigningKeyState.PREVIOUS
        old.rotated_at = timezone.now()
        old.save(update_fields=["state", "rotated_at"])
    new = _new_key()
    new.save(force_insert=True)
    _forget_published_set()
    for organization in Organization.objects.order_by("pk"):
        audit_event_record(
            organization=organization,
            action="signing_key.rotated",
            actor=actor or SYSTEM,
            target_type="signing_key",
            target_id=new.kid,
            details={"old_kid": old.kid if old else None, "new_kid": new.kid},
        )
    return old, new


def signing_key_destroy(*, kid: str) -> SigningKey:
    """Retire a `previous` key for good (the caller checks who still pins it and audits): its
    private key is erased, it leaves the published set, and nothing it signed verifies any more.

    The active key cannot be retired (rotate first); retiring a retired key changes nothing.
    """
    key = SigningKey.objects.select_for_update().get(kid=kid)
    if key.state == SigningKeyState.ACTIVE:
        raise ValueError("The active key cannot be retired: rotate first.")
    if key.state == SigningKeyState.RETIRED:
        return key
    key.state = SigningKeyState.RETIRED
    key.wrapped_private_key = None
    key.retired_at = timezone.now()
    key.save(update_fields=["state", "wrapped_private_key", "retired_at"])
    _public_keys.pop(kid, None)
    _forget_published_set()
    return key


class SigningKeyRetired(Exception):
    """The key is retired for good: its private key no longer exists."""


def private_key(key: SigningKey) -> Ed25519PrivateKey:
    if key.wrapped_private_key is None:
        raise SigningKeyRetired(f"Signing key {key.kid} is retired; it signs nothing any more.")
    raw = keyring().unwrap(key.wrapped_private_key, context=signing_key_context(key.kid))
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key(key: SigningKey) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes(key.public_key))


def jwk(key: SigningKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(bytes(key.public_key)),
        "kid": key.kid,
        "use": "sig",
        "alg": "EdDSA",
    }


def jwks() -> dict[str, list[dict[str, str]]]:
    """Every published public key (active and previous, never retired), the active one first."""
    cached = cache.json_get(JWKS_CACHE_NAME)
    if cached is not None:
        return cached
    signing_key_current()
    keys = sorted(
        SigningKey.objects.filter(state__in=PUBLISHED_STATES),
        key=lambda k: (k.state != SigningKeyState.ACTIVE, -k.created_at.timestamp()),
    )
    document = {"keys": [jwk(k) for k in keys]}
    cache.json_set(JWKS_CACHE_NAME, document, 300)
    return document


def active_kid() -> str:
    """The active key's kid, from the cached published set (no query when it is cached)."""
    return jwks()["keys"][0]["kid"]


def published_kids() -> frozenset[str]:
    return frozenset(k["kid"] for k in jwks()["keys"])


def rollover_statement(*, old: SigningKey, new: SigningKey, device_id: str, now: int | None = None) -> str:
    """Agent protocol v1.1: `old` (the key the device pins) vouches for `new`, for one device.

    A compact JWS signed by the old key, `typ: mdm-key-rollover+jwt`, short-lived (minted afresh
    at each offer, so a device that was offline for months still gets a valid one).
    """
    now = int(time.time()) if now is None else now
    claims = {
        "iss": settings.MDM_ISSUER,
        "aud": str(device_id),
        "iat": now,
        "exp": now + ROLLOVER_LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
        "old_kid": old.kid,
        "new_kid": new.kid,
        "new_key": jwk(new),
    }
    return jwt.encode(claims, private_key(old), algorithm="EdDSA", headers={"kid": old.kid, "typ": ROLLOVER_TYP})


def sign_jwt(claims: dict, *, typ: str = "JWT") -> str:
    """A compact JWS of `claims`, signed with the active key (EdDSA, with `kid`)."""
    key = signing_key_current()
    return jwt.encode(claims, private_key(key), algorithm="EdDSA", headers={"kid": key.kid, "typ": typ})


# kid -> public key. A kid names one public key forever, so this never goes stale; it saves a
# query on every agent request.
_public_keys: dict[str, Ed25519PublicKey] = {}


def public_key_for_kid(kid: str) -> Ed25519PublicKey | None:
    found = _public_keys.get(kid)
    if found is None:
        key = SigningKey.objects.filter(kid=kid).first()
        if key is None:
            return None
        found = _public_keys.setdefault(kid, public_key(key))
    return found


def _header_key(header: dict[str, Any], typ: str | None) -> tuple[str, Ed25519PublicKey]:
    """A JWS header's checks (EdDSA, the type when asked, a sane kid) and the key its kid names."""
    if header.get("alg") != "EdDSA":
        raise jwt.InvalidAlgorithmError("Only EdDSA is accepted.")
    if typ is not None and header.get("typ") != typ:
        raise jwt.InvalidTokenError("Unexpected token type.")
    kid = header.get("kid")
    if not isinstance(kid, str) or len(kid) > 64:
        raise jwt.InvalidTokenError("Unknown signing key.")
    key = _public_keys.get(kid)
    # A kid this process has not met is looked up only once the published set names it: made-up
    # kids cost no query.
    if key is None and kid in published_kids():
        key = public_key_for_kid(kid)
    if key is None:
        raise jwt.InvalidTokenError("Unknown signing key.")
    return kid, key


def decode_jwt(
    token: str, *, audience: str | None = None, typ: str | None = None, **options: Any
) -> tuple[str, dict[str, Any]]:
    """A JWS made by `sign_jwt`, checked against the public key its `kid` names: (kid, claims).

    It does not check that the key is still published: `verify_jwt` does, and so must any other
    caller, with `published_kids()` or a JWKS read in a round trip of its own (the agent gate).
    Raises jwt.InvalidTokenError on any failure.
    """
    kid, key = _header_key(jwt.get_unverified_header(token), typ)
    return kid, jwt.decode(token, key, algorithms=["EdDSA"], audience=audience, **options)


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOKEN = 4096


def decode_short_jwt(token: str, *, typ: str, audience: str, issuer: str) -> tuple[str, dict[str, Any]]:
    """`decode_jwt` for the server's own short-lived tokens (the agent API's access tokens, on
    every request), without PyJWT's per-character checks: (kid, claims).

    The same rules, stated here in full: a compact JWS of three base64url segments (no padding),
    header `{"alg": "EdDSA", "typ": typ, "kid": <a key this process knows or the published set
    names>}`, a valid Ed25519 signature, and claims holding `iss` == issuer, `aud` == audience (or
    a list holding it), `sub`, and integer `iat` and `exp`, with `exp` in the future and `iat` not.
    Raises jwt.InvalidTokenError (a subclass for an expired token) on any failure. As with
    `decode_jwt`, the caller checks that the kid is still published.
    """
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        raise jwt.DecodeError("Not a token.")
    segments = token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(segment) for segment in segments):
        raise jwt.DecodeError("Not a compact JWS.")
    try:
        header = json.loads(b64url_decode(segments[0]))
        claims = json.loads(b64url_decode(segments[1]))
        signature = b64url_decode(segments[2])
    except ValueError as exc:
        raise jwt.DecodeError("Not a compact JWS.") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise jwt.DecodeError("Not a compact JWS.")
    kid, key = _header_key(header, typ)
    try:
        key.verify(signature, f"{segments[0]}.{segments[1]}".encode("ascii"))
    except InvalidSignature as exc:
        raise jwt.InvalidSignatureError("Signature verification failed.") from exc
    for claim in ("iss", "sub", "aud", "iat", "exp"):
        if claim not in claims:
            raise jwt.MissingRequiredClaimError(claim)
    issued, expires = claims["iat"], claims["exp"]
    if type(issued) is not int or type(expires) is not int:
        raise jwt.InvalidTokenError("iat and exp must be integers.")
    now = int(time.time())
    if expires <= now:
        raise jwt.ExpiredSignatureError("Signature has expired.")
    if issued > now:
        raise jwt.ImmatureSignatureError("The token is not yet valid (iat).")
    if claims["iss"] != issuer:
        raise jwt.InvalidIssuerError("Invalid issuer.")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise jwt.InvalidAudienceError("Invalid audience.")
    return kid, claims


def verify_jwt(token: str, *, audience: str | None = None, typ: str | None = None, **options: Any) -> dict[str, Any]:
    """Verify a JWS made by `sign_jwt` against the published key named by its `kid`.

    Only EdDSA is accepted, and only a published key (a retired one is refused: it may be the
    compromised key it was retired for). Raises jwt.InvalidTokenError on any failure.
    """
    kid, claims = decode_jwt(token, audience=audience, typ=typ, **options)
    if kid not in published_kids():
        raise jwt.InvalidTokenError("Unknown signing key.")
    return claims


class Slot:
    """A value that differs per token in a `ClaimsTemplate` (an audience, a version): its place."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"A slot is named by an identifier, not {name!r}.")
        self.name = name


def _json_scalar(value: object) -> str:
    # Exactly what json.dumps writes for these (ASCII-escaped, as PyJWT serialises), and nothing
    # else: a bool or a float spliced in where an int stood would change the document's meaning.
    if type(value) is str:
        return encode_basestring_ascii(value)
    if type(value) is int:
        return str(value)
    raise TypeError(f"A slot takes a str or an int, not {type(value).__name__}.")


class ClaimsTemplate:
    """Claims serialised once, with `Slot`s for the values that differ per token.

    A push signs one large document for thousands of devices; serialising it again for each one was
    most of the cost. Here it is serialised once as `jwt.encode` would (compact separators, ASCII
    escapes), and each token only splices its values in, each JSON-encoded on its own: the bytes
    are those `jwt.encode` makes of the filled claims.
    """

    def __init__(self, claims: dict[str, Any]) -> None:
        # A marker no document contains (checked below), standing for each slot while serialising.
        nonce = token_hex(16)
        names: list[str] = []

        def mark(value: object) -> str:
            if not isinstance(value, Slot):
                raise TypeError(f"Not JSON serialisable: {type(value).__name__}.")
            names.append(value.name)
            return f"slot-{nonce}-{value.name}"

        text = json.dumps(claims, separators=(",", ":"), default=mark)
        if len(set(names)) != len(names):
            raise ValueError(f"Each slot may appear once: {names}.")
        text = text.replace("%", "%%")
        for name in names:
            marker = json.dumps(f"slot-{nonce}-{name}")
            if text.count(marker) != 1:
                raise ValueError(f"Slot {name!r} is not where the template put it.")
            text = text.replace(marker, f"%({name})s")
        self.slots = frozenset(names)
        self._format = text

    def render(self, values: Mapping[str, str | int]) -> bytes:
        """The serialised claims with `values` (one for each slot, no more) in their places."""
        if values.keys() != self.slots:
            raise ValueError(f"Need exactly the slots {sorted(self.slots)}, got {sorted(values)}.")
        return (self._format % {name: _json_scalar(value) for name, value in values.items()}).encode("ascii")


def _b64url_bytes(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class JwsSigner:
    """Compact EdDSA JWS of already serialised claims, under one key and one header (made once:
    the header `jwt.encode` writes for `kid` and `typ`, sorted)."""

    def __init__(self, private: Ed25519PrivateKey, *, kid: str, typ: str) -> None:
        header = json.dumps({"alg": "EdDSA", "kid": kid, "typ": typ}, separators=(",", ":"), sort_keys=True)
        self._header = _b64url_bytes(header.encode("ascii"))
        self._private = private
        self.kid = kid

    def sign(self, payload: bytes) -> str:
        signing_input = self._header + b"." + _b64url_bytes(payload)
        return (signing_input + b"." + _b64url_bytes(self._private.sign(signing_input))).decode("ascii")
