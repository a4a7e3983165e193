"""The server's Ed25519 signing keys: created on first use, rotatable, published as a JWKS.

They sign agent access tokens and policy documents (compact JWS, `alg: EdDSA`, with `kid`).
"""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.db import IntegrityError, transaction
from django.utils import timezone

from mdm.choices import SigningKeyState
from mdm.keyring import keyring
from mdm.lib import cache
from mdm.models import SigningKey

_JWKS_CACHE_KEY = "mdm:jwks:v1"


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
    cache.delete(_JWKS_CACHE_KEY)
    return candidate


@transaction.atomic
def signing_key_rotate() -> tuple[SigningKey | None, SigningKey]:
    """Retire the active key (it stays published for verification) and activate a new one."""
    old = SigningKey.objects.select_for_update().filter(state=SigningKeyState.ACTIVE).first()
    if old is not None:
        old.state = SigningKeyState.RETIRED
        old.retired_at = timezone.now()
        old.save(update_fields=["state", "retired_at"])
    new = _new_key()
    new.save(force_insert=True)
    # Now, and again after commit: a reader in between may have cached the old set.
    cache.delete(_JWKS_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(_JWKS_CACHE_KEY))
    return old, new


def private_key(key: SigningKey) -> Ed25519PrivateKey:
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
    """Every published public key, the active one first."""
    cached = cache.get(_JWKS_CACHE_KEY)
    if cached is not None:
        return cached
    signing_key_current()
    keys = sorted(
        SigningKey.objects.all(), key=lambda k: (k.state != SigningKeyState.ACTIVE, -k.created_at.timestamp())
    )
    document = {"keys": [jwk(k) for k in keys]}
    cache.set(_JWKS_CACHE_KEY, document, 300)
    return document


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


def verify_jwt(token: str, *, audience: str | None = None, typ: str | None = None, **options) -> dict:
    """Verify a JWS made by `sign_jwt` against the published key named by its `kid`.

    Only EdDSA is accepted. Raises jwt.InvalidTokenError on any failure.
    """
    header = jwt.get_unverified_header(token)
    if header.get("alg") != "EdDSA":
        raise jwt.InvalidAlgorithmError("Only EdDSA is accepted.")
    if typ is not None and header.get("typ") != typ:
        raise jwt.InvalidTokenError("Unexpected token type.")
    kid = header.get("kid")
    key = public_key_for_kid(kid) if isinstance(kid, str) and len(kid) <= 64 else None
    if key is None:
        raise jwt.InvalidTokenError("Unknown signing key.")
    return jwt.decode(token, key, algorithms=["EdDSA"], audience=audience, **options)
