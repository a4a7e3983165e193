"""Verifying a signed policy, and deciding what it allows.

An agent applies a policy only when its signature verifies against a key pinned at enrollment,
its `aud` is this device, its `iss` the server it enrolled with, and its version is higher than
the last one applied (agent protocol, section 4).
"""

from __future__ import annotations

import base64

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.transport import AgentError

POLICY_TYP = "mdm-policy+jwt"
SCHEMA = "mdm-policy/1"


class PolicyRejected(AgentError):
    pass


def _public_key(jwk: dict) -> Ed25519PublicKey:
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_policy(jws: str, *, pinned_keys: list[dict], device_id: str, issuer: str, applied: int | None) -> dict:
    """The policy document, or PolicyRejected saying why it is refused."""
    try:
        header = jwt.get_unverified_header(jws)
    except jwt.InvalidTokenError as exc:
        raise PolicyRejected(f"Not a JWS: {exc}") from exc
    if header.get("alg") != "EdDSA" or header.get("typ") != POLICY_TYP:
        raise PolicyRejected("Not an EdDSA-signed mdm-policy+jwt.")
    jwk = next((k for k in pinned_keys if k.get("kid") == header.get("kid")), None)
    if jwk is None:
        raise PolicyRejected(f"Signed by key {header.get('kid')!r}, which this device has not pinned.")
    try:
        claims = jwt.decode(
            jws,
            _public_key(jwk),
            algorithms=["EdDSA"],
            audience=device_id,
            issuer=issuer,
            options={"require": ["iss", "aud", "iat", "policy"]},
        )
    except jwt.InvalidAudienceError as exc:
        raise PolicyRejected("The policy is addressed to another device.") from exc
    except jwt.InvalidTokenError as exc:
        raise PolicyRejected(f"The policy's signature or claims do not verify: {exc}") from exc
    policy = claims["policy"]
    if not isinstance(policy, dict) or policy.get("schema") != SCHEMA or not isinstance(policy.get("version"), int):
        raise PolicyRejected("Not an mdm-policy/1 document.")
    if applied is not None and policy["version"] <= applied:
        raise PolicyRejected(f"Version {policy['version']} is not newer than the applied version {applied}.")
    return policy


def _version(value: str) -> tuple[int, ...]:
    parts = []
    for part in value.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def may_install(policy: dict, *, app_id: str, version: str, cert_sha256: str) -> tuple[bool, str]:
    """Whether the work side may run this app, and why (or why not)."""
    rule = next((r for r in policy["apps"]["rules"] if r["id"] == app_id), None)
    if rule is None:
        return False, f"{app_id} is not on the work allowlist (everything else is blocked)."
    if rule["install"] == "blocked":
        return False, f"{app_id} is blocked by your organization."
    if rule["min_version"] and _version(version) < _version(rule["min_version"]):
        return False, f"{app_id} {version} is older than the required {rule['min_version']}."
    allowed = [c.lower() for c in rule["signing_cert_sha256"]]
    if allowed and cert_sha256.lower() not in allowed:
        return False, f"{app_id} is signed with a certificate your organization does not allow."
    return True, f"{app_id} {version} is allowed ({rule['install']})."


def may_share(
    policy: dict, *, channel: str, from_side: str, to_side: str, size: int = 0, app: str | None = None
) -> tuple[bool, str]:
    """Whether data may cross from one side to the other on a channel, and why (or why not)."""
    if from_side == to_side:
        return True, "Same side: nothing crosses."
    rules = policy["data_sharing"].get(channel)
    if rules is None:
        return False, f"Unknown channel {channel!r}."
    direction = f"{from_side}_to_{to_side}"
    label = f"{from_side} to {to_side}"
    if rules[direction] == "deny":
        if app and app in rules.get("exemptions", {}).get(direction, []):
            return True, f"{channel} from {label} is denied, but {app} is exempt."
        return False, f"Your organization does not allow {channel} from {label}."
    if channel == "clipboard" and rules.get("max_chars") and size > rules["max_chars"]:
        return False, f"At most {rules['max_chars']} characters may be pasted from {label} ({size} given)."
    return True, f"{channel} from {label} is allowed."
