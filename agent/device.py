"""One device, speaking agent protocol v1: enrollment, authentication, check-in, leaving.

Later parts of the protocol (policy, the corporate container, commands) hang off `Device`
the same way: a method per protocol step, all state in the `StateFolder`.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt

from agent import __version__
from agent.state import StateFolder
from agent.transport import AgentError, Transport

ASSERTION_LIFETIME = 120
TOKEN_REFRESH_MARGIN = 60


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_pin(jwk: dict[str, Any]) -> str:
    """The enrollment QR code's pin of a JWK: SHA-256 of the raw public key, base64url."""
    return b64url(hashlib.sha256(b64url_decode(jwk["x"])).digest())


class NotEnrolled(AgentError):
    pass


class Device:
    def __init__(
        self,
        state_dir,
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.state = StateFolder(state_dir)
        self.transport = transport or Transport()
        self.clock = clock

    # --- identity ------------------------------------------------------------------------------

    @property
    def identity(self) -> dict[str, Any]:
        identity = self.state.identity
        if not identity or "device_id" not in identity:
            raise NotEnrolled(f"Not enrolled (no identity in {self.state.root}).")
        return identity

    @property
    def server(self) -> str:
        return self.identity["server"]

    def url(self, path: str, server: str | None = None) -> str:
        return f"{(server or self.server).rstrip('/')}/api/v1/agent/{path}"

    # --- 1. enrollment -------------------------------------------------------------------------

    def enroll(
        self,
        *,
        server: str,
        token: str,
        pin: str | None = None,
        platform: str = "android",
        os_version: str = "14",
        model: str = "Reference agent",
    ) -> dict[str, Any]:
        """Enroll with an enrollment token. With a `pin` (from the QR code), refuse a server
        whose signing key does not match it, before the token is ever sent."""
        if self.state.identity and self.state.identity.get("device_id"):
            raise AgentError(f"Already enrolled as {self.state.identity['device_id']}; use a new state folder.")
        server = server.rstrip("/")
        published = self.transport.request("GET", f"{server}/.well-known/jwks.json").body or {}
        keys = published.get("keys") or []
        if pin is not None and not any(key_pin(k) == pin for k in keys):
            raise AgentError("The server's signing key does not match the pin of the QR code: refusing to enroll.")
        if not (self.state.keys_dir / "signing.key").exists():
            self.state.create_keys()
        signing_public, encryption_public = self.state.public_keys()
        reply = self.transport.request(
            "POST",
            self.url("enroll", server),
            body={
                "token": token,
                "device": {
                    "platform": platform,
                    "os_version": os_version,
                    "model": model,
                    "agent_version": __version__,
                },
                "keys": {"signing": b64url(signing_public), "encryption": b64url(encryption_public)},
            },
        )
        enrolled = reply.body
        signing_keys = enrolled["signing_keys"]["keys"]
        # Without a QR pin, trust the key the server uses now (and say so); with one, it must be there.
        pinned = pin or key_pin(signing_keys[0])
        if not any(key_pin(k) == pinned for k in signing_keys):
            raise AgentError("The enrollment answer is not signed by the pinned server key.")
        self.state.update_identity(
            server=server,
            device_id=enrolled["device_id"],
            issuer=enrolled["issuer"],
            organization=enrolled["organization"],
            ownership=enrolled["ownership"],
            pin=pinned,
            pinned_from_qr=pin is not None,
            signing_keys=signing_keys,
            poll_interval_seconds=enrolled["poll_interval_seconds"],
            platform=platform,
            os_version=os_version,
            model=model,
            enrolled_at=self.clock(),
            container_state="active",
            applied_policy_version=None,
            compliance={"passcode_compliant": True, "compromised": False},
        )
        return enrolled

    # --- 2. authentication -----------------------------------------------------------------

    def assertion(self) -> str:
        identity = self.identity
        now = int(self.clock())
        claims = {
            "iss": identity["device_id"],
            "sub": identity["device_id"],
            "aud": f"{identity['issuer']}/api/v1/agent/token",
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.state.signing_key(), algorithm="EdDSA", headers={"typ": "JWT"})

    def access_token(self, *, refresh: bool = False) -> str:
        cached = self.state.read("token.json")
        if not refresh and cached and cached["expires_at"] - TOKEN_REFRESH_MARGIN > self.clock():
            return cached["access_token"]
        reply = self.transport.request("POST", self.url("token"), body={"assertion": self.assertion()})
        token = reply.body["access_token"]
        self.state.write("token.json", {"access_token": token, "expires_at": self.clock() + reply.body["expires_in"]})
        return token

    def call(self, method: str, path: str, body: Any = None, **kwargs):
        """An authenticated request; a rejected access token is renewed once."""
        try:
            return self.transport.request(method, self.url(path), body=body, token=self.access_token(), **kwargs)
        except AgentError as exc:
            if exc.status != 401:
                raise
            return self.transport.request(
                method, self.url(path), body=body, token=self.access_token(refresh=True), **kwargs
            )

    # --- 3. check-in ---------------------------------------------------------------------------

    def work_apps(self) -> list[dict[str, str]]:
        return []

    def checkin(self) -> dict[str, Any]:
        identity = self.identity
        reply = self.call(
            "POST",
            "checkin",
            {
                "applied_policy_version": identity.get("applied_policy_version"),
                "container_state": identity.get("container_state", "active"),
                "os_version": identity.get("os_version", ""),
                "agent_version": __version__,
                "compliance": identity.get("compliance", {}),
                "work_apps": self.work_apps(),
            },
        )
        self.state.update_identity(
            last_checkin_at=self.clock(),
            server_policy_version=reply.body["policy_version"],
            commands_pending=reply.body["commands_pending"],
            poll_interval_seconds=reply.body["poll_interval_seconds"],
        )
        return reply.body

    # --- 7. leaving ----------------------------------------------------------------------------

    def unenroll(self) -> dict[str, Any]:
        reply = self.call("POST", "unenroll")
        self.state.remove("token.json")
        self.state.update_identity(retired=True)
        return reply.body

    def status(self) -> dict[str, Any]:
        identity = self.identity
        return {
            "device_id": identity["device_id"],
            "server": identity["server"],
            "organization": identity["organization"]["name"],
            "ownership": identity["ownership"],
            "pinned_key": identity["pin"],
            "pinned_from_qr": identity["pinned_from_qr"],
            "container_state": identity.get("container_state"),
            "applied_policy_version": identity.get("applied_policy_version"),
            "server_policy_version": identity.get("server_policy_version"),
            "commands_pending": identity.get("commands_pending"),
            "last_checkin_at": identity.get("last_checkin_at"),
            "retired": identity.get("retired", False),
        }
