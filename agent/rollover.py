"""Agent protocol v1.1: verifying a key-rollover statement before moving the pin.

The agent trusts exactly one server key, the one it pinned. A rollover statement is that key
vouching for its successor, for this one device: only a statement signed by the pinned key itself,
addressed to this device by the server it enrolled with, still valid, and naming a new key whose
RFC 7638 thumbprint is the `new_kid` it claims, may move the pin. Anything else is refused and the
pin stays where it was.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.transport import AgentError

ROLLOVER_TYP = "mdm-key-rollover+jwt"
CLOCK_LEEWAY_SECONDS = 300
MAX_LIFETIME_SECONDS = 24 * 3600


class RolloverRejected(AgentError):
    pass


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def okp_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an Ed25519 JWK (the server's kid)."""
    canonical = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _ed25519_key(jwk: Any) -> Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise RolloverRejected("The new key is not an Ed25519 JWK.")
    x = jwk.get("x")
    if not isinstance(x, str) or "d" in jwk:
        raise RolloverRejected("The new key is not a public Ed25519 JWK.")
    try:
        raw = _b64url_decode(x)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise RolloverRejected(f"The new key is not a valid Ed25519 public key: {exc}") from exc


def verify_rollover(statement: Any, *, pinned_key: dict, device_id: str, issuer: str, now: float) -> dict[str, str]:
    """The new public JWK the statement vouches for, or RolloverRejected saying why not."""
    if not isinstance(statement, str):
        raise RolloverRejected("The rollover statement is not a compact JWS.")
    try:
        header = jwt.get_unverified_header(statement)
    except jwt.InvalidTokenError as exc:
        raise RolloverRejected(f"Not a JWS: {exc}") from exc
    if header.get("alg") != "EdDSA" or header.get("typ") != ROLLOVER_TYP:
        raise RolloverRejected(f"Not an EdDSA-signed {ROLLOVER_TYP}.")
    if header.get("kid") != pinned_key.get("kid"):
        raise RolloverRejected(f"Signed by key {header.get('kid')!r}, not by the key this device pins.")
    try:
        claims = jwt.decode(
            statement,
            _ed25519_key(pinned_key),
            algorithms=["EdDSA"],
            audience=device_id,
            issuer=issuer,
            leeway=CLOCK_LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "iat", "exp", "old_kid", "new_kid", "new_key"], "verify_iat": False},
        )
    except jwt.InvalidAudienceError as exc:
        raise RolloverRejected("The rollover statement is addressed to another device.") from exc
    except jwt.ExpiredSignatureError as exc:
        raise RolloverRejected("The rollover statement has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise RolloverRejected(f"The rollover statement's signature or claims do not verify: {exc}") from exc
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise RolloverRejected("iat and exp must be numbers.")
    if iat > now + CLOCK_LEEWAY_SECONDS or exp - iat > MAX_LIFETIME_SECONDS:
        raise RolloverRejected("The rollover statement is issued in the future or lives too long.")
    if claims["old_kid"] != pinned_key.get("kid"):
        raise RolloverRejected("The statement does not start from the key this device pins.")
    new_key = claims["new_key"]
    _ed25519_key(new_key)
    new_kid = claims["new_kid"]
    if not isinstance(new_kid, str) or okp_thumbprint(new_key) != new_kid:
        raise RolloverRejected("The new key's thumbprint is not the new_kid the statement names.")
    if new_kid == pinned_key.get("kid"):
        raise RolloverRejected("The statement names the key this device already pins.")
    if new_key.get("kid", new_kid) != new_kid:
        raise RolloverRejected("The new key's JWK names another kid.")
    return {"kty": "OKP", "crv": "Ed25519", "x": new_key["x"], "kid": new_kid, "use": "sig", "alg": "EdDSA"}
